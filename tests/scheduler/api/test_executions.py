"""ListExecutions over a real server: approved allocations of published rounds, their windows, and who sees which."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.access import SYSTEM
from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import execution_pb2 as exe
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.domain import AllocationRecord, Execution, Role
from scheduler.states import AllocationState
from scheduler.store import Transaction
from tests.scheduler.api.harness import T0, InProcessServer, auth
from tests.scheduler.api.rpcs import code_of
from tests.scheduler.api.test_flow import SPECS, register, spec


@dataclass
class World:
    server: InProcessServer
    round_id: str
    ids: dict[str, str]  # title -> request id
    tokens: dict[str, str]  # operator, analyst, and one applicant per organisation

    def list(self, who: str, round_id: str | None = None, page_size: int = 0) -> list[exe.Execution]:
        stub, out, token = self.server.stubs().execution, [], ""
        while True:
            page = stub.ListExecutions(exe.ListExecutionsRequest(round_id=round_id or "", page=common.PageRequest(
                page_token=token, page_size=page_size)), metadata=auth(self.tokens[who]))
            out += page.executions
            token = page.next_page_token
            if not token:
                return out


def run_round(s: InProcessServer, operator: str, ids: dict[str, str]) -> str:
    stubs = s.stubs()
    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=6, slot_minutes=60),
        policy=rnd.POLICY_FAIR,
        policy_config=common.PolicyConfig(category_shares={"research": 0.5, "industry": 0.25, "education": 0.25}),
        solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True),
    ), metadata=auth(operator))
    list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=auth(operator)))
    return str(opened.round_id)


@pytest.fixture(scope="module", params=[pytest.param(None, id="the round's own clock"),
                                        pytest.param(30.0, id="a compressed clock of 30 s per slot")])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    s = InProcessServer(execution_seconds_per_slot=request.param)
    stubs = s.stubs()
    tokens = {"operator": s.token(Role.OPERATOR), "analyst": s.token(Role.ANALYST)}
    register(stubs, tokens["operator"])
    ids = {}
    for title, fields in SPECS.items():
        org = str(fields["org"])
        tokens.setdefault(org, s.token(Role.APPLICANT, org=org))
        ids[title] = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key=title, spec=spec(title)),
                                                  metadata=auth(tokens[org])).request_id
    round_id = run_round(s, tokens["operator"], ids)
    yield World(s, round_id, ids, tokens)
    s.close()


def publish(w: World) -> None:
    md = auth(w.tokens["operator"])
    stubs = w.server.stubs()
    stubs.review.Approve(rev.ApproveRequest(round_id=w.round_id, reason="fits"), metadata=md)
    stubs.review.Publish(rev.PublishRequest(round_id=w.round_id, reason="weekly"), metadata=md)


def test_a_round_under_review_executes_nothing_yet(world: World) -> None:
    assert world.list("operator", world.round_id) == []
    assert world.list("operator") == []


def test_a_published_rounds_approved_allocations_show_with_their_windows(world: World) -> None:
    publish(world)
    stubs = world.server.stubs()
    md = auth(world.tokens["operator"])
    plan = stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=world.round_id), metadata=md)
    runs = {e.request_id: e for e in world.list("operator", world.round_id)}
    assert set(runs) == {world.ids["lab"], world.ids["rag"]}  # fold was rejected by the solver
    per_slot = world.server.settings.execution_seconds_per_slot
    # the round starts at T0; a compressed clock counts from publication instead, which the manual clock puts at T0 too
    slot = timedelta(hours=1) if per_slot is None else timedelta(seconds=per_slot)
    for a in plan.assignments:
        e = runs[a.request_id]
        assert (e.allocation_id, e.round_id, e.cluster_id, e.gpu_type) == (a.allocation_id, world.round_id,
                                                                          a.cluster_id, a.gpu_type)
        assert e.state == rnd.ALLOCATION_STATE_APPROVED and e.attempts == 0 and not e.submission_id
        assert e.window_start.ToDatetime(tzinfo=T0.tzinfo) == T0 + a.start_slot * slot
        assert e.window_end.ToDatetime(tzinfo=T0.tzinfo) == T0 + a.end_slot * slot
    lab = runs[world.ids["lab"]]
    assert (lab.org, lab.gpus) == ("uni-pisa", 4)


@pytest.mark.parametrize(
    ("who", "want"),
    [
        pytest.param("operator", {"lab", "rag"}, id="an operator sees every organisation's rows"),
        pytest.param("analyst", {"lab", "rag"}, id="an analyst sees every organisation's rows"),
        pytest.param("uni-pisa", {"lab"}, id="an applicant sees its own organisation's rows only"),
        pytest.param("embl", set(), id="an applicant whose request was rejected sees none"),
    ],
)
def test_who_sees_which_rows(world: World, who: str, want: set[str]) -> None:
    titles = {v: k for k, v in world.ids.items()}
    assert {titles[e.request_id] for e in world.list(who)} == want
    assert {titles[e.request_id] for e in world.list(who, world.round_id, page_size=1)} == want


def test_what_the_executor_records_is_shown(world: World) -> None:
    lab = next(e for e in world.list("operator") if e.request_id == world.ids["lab"])
    submitted_at = T0 + timedelta(minutes=5)

    def submit(t: Transaction) -> AllocationRecord:
        a = t.get_allocation(lab.allocation_id)
        run = Execution(backend="ray", submission_id=f"{a.id}-1", attempts=1, submitted_at=submitted_at,
                        message="queued on the head")
        record = a.model_copy(update={"state": AllocationState.SUBMITTED, "execution": run})
        return t.update_allocation(record, SYSTEM.change("submit", submitted_at, "window open"))

    world.server.store.write(submit)
    e = next(e for e in world.list("uni-pisa", world.round_id) if e.allocation_id == lab.allocation_id)
    assert e.state == rnd.ALLOCATION_STATE_SUBMITTED and (e.backend, e.submission_id, e.attempts) == (
        "ray", f"{lab.allocation_id}-1", 1)
    assert e.submitted_at.ToDatetime(tzinfo=T0.tzinfo) == submitted_at and not e.HasField("started_at")
    assert e.message == "queued on the head" and not e.HasField("actual")


@pytest.mark.parametrize(
    ("round_id", "code"),
    [
        pytest.param("round-nope", grpc.StatusCode.NOT_FOUND, id="an unknown round is not found"),
        pytest.param("not an id!", grpc.StatusCode.INVALID_ARGUMENT, id="a malformed round id is refused"),
    ],
)
def test_a_round_that_is_not_there(world: World, round_id: str, code: grpc.StatusCode) -> None:
    assert code_of(lambda: world.list("operator", round_id)) == code
