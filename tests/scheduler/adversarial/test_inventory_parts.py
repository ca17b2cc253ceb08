"""Item 6: an inventory report changes only the parts it carries."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from tests.scheduler.adversarial.conftest import World

START = Timestamp(seconds=1_740_960_000)


def report(world: World, inventory: inv.Inventory) -> inv.Cluster:
    answer = world.stubs.inventory.ReportInventory(iter([inv.InventoryReport(cluster_id="jsc", inventory=inventory)]),
                                                   metadata=world.operator)
    return answer.cluster


def test_a_carbon_only_report_leaves_the_gpus_as_they_were(world: World) -> None:
    report(world, inv.Inventory(gpus={"H100": 6}, withdrawn=[inv.WithdrawnWindow(
        gpu_type="H100", gpus=2, start=START, end=Timestamp(seconds=START.seconds + 3600))]))
    after = report(world, inv.Inventory(carbon=inv.CarbonForecast(start=START, step_minutes=60,
                                                                  g_per_kwh=[120.0, 80.0])))
    assert {p.gpu_type: p.count for p in after.gpus} == {"H100": 6}
    assert list(after.inventory.carbon.g_per_kwh) == [120.0, 80.0]
    assert len(after.inventory.withdrawn) == 1, "the withdrawals travel with the GPU counts"
    again = report(world, inv.Inventory(gpus={"H100": 8}))
    assert {p.gpu_type: p.count for p in again.gpus} == {"H100": 8}
    assert list(again.inventory.carbon.g_per_kwh) == [120.0, 80.0], "a GPU report keeps the forecast it does not carry"
