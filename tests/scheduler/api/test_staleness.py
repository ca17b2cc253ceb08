"""Clusters that miss N heartbeats go stale, on an injected clock: left out of new rounds, their allocations flagged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.domain import Role
from tests.scheduler.api.harness import T0, InProcessServer, ManualClock, Stubs, auth

INTERVAL, MISSED = 10.0, 3
World = tuple[InProcessServer, ManualClock, Stubs, str]


@pytest.fixture()
def world() -> Iterator[World]:
    clock = ManualClock()
    server = InProcessServer(clock=clock, heartbeat_interval_s=INTERVAL, stale_after_missed=MISSED)
    stubs = server.stubs()
    operator = server.token(Role.OPERATOR)
    for cid, country in (("north", "SE"), ("south", "IT")):
        stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
            cluster_id=cid, country=country, gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]),
            metadata=auth(operator))
    yield server, clock, stubs, operator
    server.close()


def beat(stubs: Stubs, operator: str, cluster: str) -> inv.ReportInventoryResponse:
    msg = inv.InventoryReport(cluster_id=cluster, heartbeat=inv.Heartbeat())
    answer: inv.ReportInventoryResponse = stubs.inventory.ReportInventory(iter([msg]), metadata=auth(operator))
    return answer


def states(stubs: Stubs, operator: str) -> dict[str, int]:
    found = stubs.inventory.ListClusters(inv.ListClustersRequest(), metadata=auth(operator)).clusters
    return {c.cluster_id: c.state for c in found}


def test_missing_n_heartbeats_makes_a_cluster_stale_and_a_beat_brings_it_back(world: World) -> None:
    server, clock, stubs, operator = world
    beat(stubs, operator, "north")
    beat(stubs, operator, "south")
    clock.advance(INTERVAL * MISSED - 1)
    beat(stubs, operator, "south")
    assert server.call(server.service.sweep_stale()) == []
    clock.advance(2)  # north: N intervals and a second without a beat
    assert server.call(server.service.sweep_stale()) == ["north"]
    assert states(stubs, operator) == {"north": inv.CLUSTER_STATE_STALE, "south": inv.CLUSTER_STATE_ACTIVE}
    assert beat(stubs, operator, "north").cluster.state == inv.CLUSTER_STATE_ACTIVE


def test_stale_clusters_are_left_out_of_new_rounds_and_their_allocations_flagged(world: World) -> None:
    server, clock, stubs, operator = world
    md = auth(operator)
    beat(stubs, operator, "north")
    beat(stubs, operator, "south")
    for i, country in enumerate(("SE", "IT")):
        spec = req.RequestSpec(title=f"job{i}", org="org", category="research", gpus=8, runtime_slots={"H100": 2},
                               countries=[country], entrypoint="python job.py")
        stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=f"k{i}", spec=spec), metadata=md)
    horizon = common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=4)
    first = stubs.rounds.OpenRound(rnd.OpenRoundRequest(horizon=horizon, solver=common.SolverParams(time_limit_s=1)),
                                   metadata=md)
    list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=first.round_id), metadata=md))
    stubs.review.Approve(rev.ApproveRequest(round_id=first.round_id, reason="ok"), metadata=md)
    on_north = next(a.request_id for a in stubs.rounds.GetPlan(
        rnd.GetPlanRequest(round_id=first.round_id), metadata=md).assignments if a.cluster_id == "north")

    clock.advance(INTERVAL * MISSED + 1)
    beat(stubs, operator, "south")
    assert server.call(server.service.sweep_stale()) == ["north"]
    got = stubs.rounds.GetRound(rnd.GetRoundRequest(round_id=first.round_id), metadata=md)
    assert list(got.flagged_requests) == [on_north]
    plan = stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=first.round_id), metadata=md)
    assert {a.request_id: a.flagged_stale for a in plan.assignments}[on_north]

    spec = req.RequestSpec(title="late", org="org", category="research", gpus=1, runtime_slots={"H100": 1},
                           entrypoint="python late.py")
    stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="late", spec=spec), metadata=md)
    second = stubs.rounds.OpenRound(rnd.OpenRoundRequest(horizon=horizon, solver=common.SolverParams(time_limit_s=1)),
                                    metadata=md)
    list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=second.round_id), metadata=md))
    got = stubs.rounds.GetRound(rnd.GetRoundRequest(round_id=second.round_id), metadata=md)
    assert got.clusters == 1, "only the active cluster takes part"
    assert {a.cluster_id for a in stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=second.round_id),
                                                       metadata=md).assignments} == {"south"}
