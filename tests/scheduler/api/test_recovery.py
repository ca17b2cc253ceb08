"""A server that dies mid-solve leaves a round 'solving'; the next one to start puts it right."""

from __future__ import annotations

from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.access import Principal
from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.domain import Role
from scheduler.phases import snapshot
from scheduler.states import RequestState, RoundState
from scheduler.store import RequestQuery
from tests.scheduler.api.harness import T0, InProcessServer, auth


def test_a_round_left_solving_fails_on_restart_and_its_requests_return_to_the_pool(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recover.db'}"
    first = InProcessServer(url)
    stubs, operator = first.stubs(), first.token(Role.OPERATOR)
    md = auth(operator)
    stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="jsc", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]), metadata=md)
    spec = req.RequestSpec(title="t", org="o", category="c", gpus=1, runtime_slots={"H100": 1}, entrypoint="x")
    stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="k", spec=spec), metadata=md)
    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=4)), metadata=md)
    # what phase 1 leaves behind when the process is killed during phase 2
    who = Principal("op", Role.OPERATOR)
    first.store.write(lambda t: snapshot(t, who, opened.round_id, "run", T0))
    first.close()

    second = InProcessServer(url)
    try:
        assert second.call(second.service.recover()) == [opened.round_id]
        stubs = second.stubs()
        got = stubs.rounds.GetRound(rnd.GetRoundRequest(round_id=opened.round_id), metadata=md)
        assert got.state == rnd.ROUND_STATE_FAILED and "stopped during the solve" in got.error
        pool = second.store.read(lambda r: r.list_requests(RequestQuery(states=frozenset({RequestState.SUBMITTED}))))
        assert len(pool.items) == 1 and pool.items[0].round_id is None
        # an operator retries: failed -> solving -> proposed
        final = list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=md))[-1]
        assert final.state == rnd.ROUND_STATE_PROPOSED
        stubs.review.Approve(rev.ApproveRequest(round_id=opened.round_id, reason="ok"), metadata=md)
        assert second.store.read(lambda r: r.get_round(opened.round_id)).state == RoundState.APPROVED
        audit = second.store.read(lambda r: r.list_audit()).items
        assert any(e.action == "solve_failed" and e.actor == "allmende" for e in audit)
    finally:
        second.close()
