"""A live service for the adversarial suite: a real gRPC server on loopback, a memory store, an operator,
an applicant of ``embl`` and one registered cluster with 8 H100s."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.cli import tables
from scheduler.domain import Role
from tests.scheduler.api.harness import T0, InProcessServer, Stubs, auth


@dataclass
class World:
    server: InProcessServer
    stubs: Stubs
    operator: list[tuple[str, str]]
    applicant: list[tuple[str, str]]

    def proposed_round(self, **shares: float) -> str:
        """A round over six slots, run to ``proposed`` on whatever was submitted; its id."""
        opened = self.stubs.rounds.OpenRound(rnd.OpenRoundRequest(
            horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=6), policy=rnd.POLICY_FAIR,
            policy_config=common.PolicyConfig(category_shares=shares),
            solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True)), metadata=self.operator)
        progress = list(self.stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id),
                                                   metadata=self.operator))
        assert progress[-1].state == rnd.ROUND_STATE_PROPOSED, progress[-1]
        return str(opened.round_id)

    def audit(self, subject: str = "") -> list[common.AuditEvent]:
        return list(self.stubs.review.ListAuditEvents(rev.ListAuditEventsRequest(subject_id=subject),
                                                      metadata=self.operator).events)

    def submit(self, key: str, **fields: object) -> req.AllocationRequest:
        return self.stubs.requests.SubmitRequest(
            req.SubmitRequestRequest(idempotency_key=key, spec=spec(**fields)), metadata=self.applicant)


def spec(**fields: object) -> req.RequestSpec:
    base: dict[str, object] = {"title": "Protein folding", "org": "embl", "category": "research", "gpus": 2,
                               "runtime_slots": {"H100": 3}, "entrypoint": "python fold.py"}
    return req.RequestSpec(**{**base, **fields})


@pytest.fixture
def world() -> Iterator[World]:
    server = InProcessServer()
    stubs = server.stubs()
    w = World(server, stubs, auth(server.token(Role.OPERATOR)), auth(server.token(Role.APPLICANT, org="embl")))
    stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="jsc", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]),
        metadata=w.operator)
    yield w
    stubs.channel.close()
    server.close()


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the CLI's tables print, captured as a terminal would receive it."""
    out = io.StringIO()
    console = Console(file=out, width=250, force_terminal=False, color_system=None)
    monkeypatch.setattr(tables, "console", console)
    monkeypatch.setattr(tables, "err", console)
    return out
