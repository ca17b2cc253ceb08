"""Item 2: one oversized field cannot break listing for everyone: limits at intake, pages cut by size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api import servicers
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.domain import MAX_CARBON_POINTS, MAX_RUNTIME_ENV_BYTES
from tests.scheduler.adversarial.conftest import World, spec


def big_env(world: World) -> Any:
    oversized = spec()
    oversized.runtime_env.update({"pip": ["x" * 1000] * (MAX_RUNTIME_ENV_BYTES // 1000 + 1)})
    return world.stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="big", spec=oversized),
                                              metadata=world.applicant)


def many_carbon_values(world: World) -> Any:
    report = inv.InventoryReport(cluster_id="jsc", inventory=inv.Inventory(carbon=inv.CarbonForecast(
        start=Timestamp(seconds=1_700_000_000), step_minutes=60, g_per_kwh=[100.0] * (MAX_CARBON_POINTS + 1))))
    return world.stubs.inventory.ReportInventory(iter([report]), metadata=world.operator)


@pytest.mark.parametrize("call, field", [
    pytest.param(big_env, "spec.runtime_env", id="a runtime_env past 64 KiB"),
    pytest.param(many_carbon_values, "inventory.carbon.g_per_kwh", id="an agent reports a year and a hour of carbon"),
])
def test_oversized_fields_are_refused_at_intake_and_lists_still_work(call: Callable[[World], Any], field: str,
                                                                     world: World) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(world)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")
    assert world.stubs.requests.ListRequests(req.ListRequestsRequest(), metadata=world.operator).requests == []
    [cluster] = world.stubs.inventory.ListClusters(inv.ListClustersRequest(), metadata=world.operator).clusters
    assert not cluster.inventory.carbon.g_per_kwh


def test_a_list_is_cut_by_size_and_its_token_leads_on_to_the_rest(world: World,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"pip": ["y" * 1000] * 40}  # about 40 KB each, within the limit
    made = []
    for i in range(6):
        s = spec(title=f"request {i}")
        s.runtime_env.update(env)
        made.append(world.stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=f"k{i}", spec=s),
                                                       metadata=world.applicant).request_id)
    monkeypatch.setattr(servicers, "MAX_RESPONSE_BYTES", 100_000)  # room for two of them
    seen, token, pages = [], "", 0
    while True:
        page = world.stubs.requests.ListRequests(req.ListRequestsRequest(page={"page_token": token, "page_size": 50}),
                                                 metadata=world.operator)
        assert page.ByteSize() <= 100_000 or len(page.requests) == 1
        seen += [r.request_id for r in page.requests]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == made
    assert pages == 3
