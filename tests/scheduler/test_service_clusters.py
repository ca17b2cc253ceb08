"""Clusters through the Service, without gRPC: registration, inventories and the staleness sweep."""

from __future__ import annotations

import pytest

from scheduler.domain import Inventory, Withdrawal
from scheduler.errors import InvalidInput, NotFound, PermissionDenied
from scheduler.states import AllocationState, ClusterState
from scheduler.store import AuditQuery
from tests.scheduler.api.harness import T0
from tests.scheduler.service_world import OPERATOR, PAGE, World, agent, cluster, run, solved, spec


def test_registering_the_same_description_twice_writes_once() -> None:
    async def story(w: World) -> None:
        first = await w.service.register_cluster(OPERATOR, cluster("jsc"), "new site")
        w.clock.advance(60)
        again = await w.service.register_cluster(OPERATOR, cluster("jsc"), "again")
        assert again == first and first.registered_at == T0
        moved = await w.service.register_cluster(OPERATOR, cluster("jsc", count=16), "more GPUs")
        assert moved.gpus == {"H100": 16} and moved.version == first.version + 1
        actions = [e.action for e in w.store.read(lambda r: r.list_audit(AuditQuery(subject="cluster/jsc"))).items]
        assert actions == ["register", "describe"]

    run(story)


def test_an_agent_registers_only_its_own_cluster() -> None:
    async def story(w: World) -> None:
        with pytest.raises(PermissionDenied):
            await w.service.register_cluster(agent("leo"), cluster("jsc"))
        with pytest.raises(NotFound):
            await w.service.get_cluster(OPERATOR, "jsc")

    run(story)


@pytest.mark.parametrize(
    ("inventory", "field"),
    [
        pytest.param(Inventory(gpus={"A100": 4}), "inventory.gpus[A100]", id="inventory names a GPU never registered"),
        pytest.param(Inventory(gpus={"H100": 4}, unavailable=[Withdrawal(gpu_type="MI300", gpus=1, start=T0,
                                                                         end=T0.replace(hour=2))]),
                     "inventory.withdrawn[0].gpu_type", id="withdrawal of a GPU type the cluster lacks"),
    ],
)
def test_a_wrong_inventory_is_refused_and_changes_nothing(inventory: Inventory, field: str) -> None:
    async def story(w: World) -> None:
        before = await w.service.register_cluster(OPERATOR, cluster("jsc"))
        with pytest.raises(InvalidInput) as e:
            await w.service.report(agent("jsc"), "jsc", inventory)
        assert e.value.field == field
        assert await w.service.get_cluster(OPERATOR, "jsc") == before

    run(story)


def test_an_inventory_is_written_at_once_and_revives_a_stale_cluster() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        w.clock.advance(w.service.settings.stale_after_s + 1)
        assert await w.service.sweep_stale() == ["jsc"]
        await w.service.report(agent("jsc"), "jsc", Inventory(gpus={"H100": 6}))
        stored = await w.service.get_cluster(OPERATOR, "jsc")
        assert (stored.state, stored.gpus, stored.last_heartbeat) == (ClusterState.ACTIVE, {"H100": 6}, w.clock.now)

    run(story)


def test_an_agent_reports_only_for_its_own_cluster() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        with pytest.raises(PermissionDenied):
            await w.service.report(agent("leo"), "jsc", None)

    run(story)


def test_nobody_is_judged_before_the_first_heartbeat_interval() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        assert await w.service.sweep_stale() == []
        assert (await w.service.get_cluster(OPERATOR, "jsc")).state == ClusterState.ACTIVE

    run(story, heartbeat_interval_s=10, stale_after_missed=3)


def test_a_buffered_heartbeat_keeps_a_cluster_active_while_a_silent_one_goes_stale() -> None:
    async def story(w: World) -> None:
        for c in ("jsc", "leo"):
            await w.service.register_cluster(OPERATOR, cluster(c))
        w.clock.advance(25)
        await w.service.report(agent("jsc"), "jsc", None)  # buffered, not yet in the store
        w.clock.advance(10)  # 35 s after registration, 10 s after jsc's beat; the window is 30 s
        assert await w.service.sweep_stale() == ["leo"]
        states = {c.id: c.state for c in (await w.service.list_clusters(OPERATOR, None, PAGE)).items}
        assert states == {"jsc": ClusterState.ACTIVE, "leo": ClusterState.STALE}

    run(story, heartbeat_interval_s=10, stale_after_missed=3)


def test_a_stale_cluster_flags_its_standing_allocations() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        await w.service.submit(OPERATOR, spec("embl", "fold"))
        round_id = await solved(w)
        await w.service.approve(OPERATOR, round_id, [], "fine")
        w.clock.advance(w.service.settings.stale_after_s + 1)
        assert await w.service.sweep_stale() == ["jsc"]
        _, allocations = await w.service.get_round(OPERATOR, round_id)
        assert [(a.state, a.flagged_stale) for a in allocations] == [(AllocationState.APPROVED, True)]
        assert await w.service.sweep_stale() == []  # already stale: nothing to do twice

    run(story)
