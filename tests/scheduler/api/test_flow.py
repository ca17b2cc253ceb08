"""A whole round over a real grpc.aio server in this process, on port 0: every service, every role."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import ledger_pb2 as led
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.domain import Role
from tests.scheduler.api.harness import T0, InProcessServer, Stubs, auth

SPECS = {
    "fold": dict(org="embl", category="research", gpus=8, runtime_slots={"H100": 3}),
    "lab": dict(org="uni-pisa", category="education", gpus=4, runtime_slots={"A100": 2}, countries=["IT"]),
    "rag": dict(org="startup-x", category="industry", gpus=8, runtime_slots={"H100": 4}, deadline_slot=6),
}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("memory", id="memory store"),
        pytest.param("sqlite", id="SQLite"),
        pytest.param("postgres", id="PostgreSQL", marks=pytest.mark.postgres),
    ],
)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """The same story on each store: the fake, embedded SQLite and a real PostgreSQL."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_module_url")
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('flow') / 'flow.db'}"
    else:
        url = "memory://"
    s = InProcessServer(url)
    yield s
    s.close()


def register(stubs: Stubs, operator: str) -> None:
    md = auth(operator)
    stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="jsc", country="DE", operator="JSC", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]),
        metadata=md)
    stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="leo", country="IT", operator="CINECA", gpus=[inv.GpuPool(gpu_type="A100", count=4, tdp_watts=400)]),
        metadata=md)


def spec(title: str) -> req.RequestSpec:
    return req.RequestSpec(title=title, entrypoint=f"python {title}.py", **SPECS[title])


def test_a_round_from_inventory_to_public_ledger(server: InProcessServer) -> None:
    stubs = server.stubs()
    operator = server.token(Role.OPERATOR)
    agent = server.token(Role.CLUSTER_AGENT, cluster="jsc")
    register(stubs, operator)

    # an agent streams an inventory then a heartbeat
    reports = [
        inv.InventoryReport(cluster_id="jsc", inventory=inv.Inventory(gpus={"H100": 8})),
        inv.InventoryReport(cluster_id="jsc", heartbeat=inv.Heartbeat()),
    ]
    answer = stubs.inventory.ReportInventory(iter(reports), metadata=auth(agent))
    assert answer.reports == 2 and answer.cluster.state == inv.CLUSTER_STATE_ACTIVE

    ids = {}
    for title, s in SPECS.items():
        token = server.token(Role.APPLICANT, org=str(s["org"]))
        made = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=title, spec=spec(title)),
                                            metadata=auth(token))
        again = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=title, spec=spec(title)),
                                             metadata=auth(token))
        assert again.request_id == made.request_id, "the same idempotency key returns the same request"
        ids[title] = made.request_id

    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=6),
        policy=rnd.POLICY_FAIR,
        policy_config=common.PolicyConfig(category_shares={"research": 0.5, "industry": 0.25, "education": 0.25}),
        solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True),
    ), metadata=auth(operator))
    progress = list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=auth(operator)))
    assert progress[-1].state == rnd.ROUND_STATE_PROPOSED
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)

    plan = stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=opened.round_id), metadata=auth(operator))
    assert {a.request_id for a in plan.assignments} == {ids["lab"], ids["rag"]}
    assert [r.request_id for r in plan.rejections] == [ids["fold"]]
    why = stubs.rounds.Explain(rnd.ExplainRequest(round_id=opened.round_id, request_id=ids["fold"]),
                               metadata=auth(operator))
    assert not why.assigned and why.reason == plan.rejections[0].reason and why.detail
    outsider = server.token(Role.APPLICANT, org="uni-pisa")
    with pytest.raises(grpc.RpcError) as refused:
        stubs.rounds.Explain(rnd.ExplainRequest(round_id=opened.round_id, request_id=ids["fold"]),
                             metadata=auth(outsider))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # another organisation's request: as an unknown id

    pinned = stubs.review.Pin(rev.PinRequest(round_id=opened.round_id, request_id=ids["rag"], cluster_id="jsc",
                                             gpu_type="H100", start_slot=2, reason="maintenance first"),
                              metadata=auth(operator))
    assert pinned.state == rnd.ROUND_STATE_PROPOSED
    plan = stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=opened.round_id), metadata=auth(operator))
    rag = next(a for a in plan.assignments if a.request_id == ids["rag"])
    assert (rag.start_slot, rag.state) == (2, rnd.ALLOCATION_STATE_PINNED)

    replay = stubs.rounds.ReplayRound(rnd.ReplayRoundRequest(round_id=opened.round_id), metadata=auth(operator))
    assert replay.identical, replay.differences

    stubs.review.Approve(rev.ApproveRequest(round_id=opened.round_id, reason="fits the programme"),
                         metadata=auth(operator))
    published = stubs.review.Publish(rev.PublishRequest(round_id=opened.round_id, reason="weekly ledger"),
                                     metadata=auth(operator))
    assert published.state == rnd.ROUND_STATE_PUBLISHED

    entry = stubs.ledger.GetLedgerEntry(led.GetLedgerEntryRequest(round_id=opened.round_id))  # no token: public
    assert {a.request_id for a in entry.allocations} == {ids["lab"], ids["rag"]}
    assert sum(entry.rejections_by_reason.values()) == 1
    assert abs(sum(s.share for s in entry.by_category.values()) - 1) < 1e-9
    listed = stubs.ledger.ListPublishedRounds(led.ListPublishedRoundsRequest())
    assert [e.round_id for e in listed.entries] == [opened.round_id]

    fold = stubs.requests.GetRequest(req.GetRequestRequest(request_id=ids["fold"]), metadata=auth(operator))
    assert fold.state == req.REQUEST_STATE_REJECTED
    events = stubs.review.ListAuditEvents(rev.ListAuditEventsRequest(subject_id=f"round/{opened.round_id}"),
                                          metadata=auth(operator)).events
    assert [e.action for e in events] == ["open", "run", "solved", "pin", "solved", "approve", "publish"]
    assert events[-1].reason == "weekly ledger"


def test_health_and_reflection_are_public(server: InProcessServer) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    channel = grpc.insecure_channel(server.address)
    ask = health_pb2.HealthCheckRequest(service="allmende.v1.RoundService")
    status = health_pb2_grpc.HealthStub(channel).Check(ask)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    answers = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for a in answers for s in a.list_services_response.service}
    assert {"allmende.v1.RequestService", "allmende.v1.LedgerService", "grpc.health.v1.Health"} <= names
