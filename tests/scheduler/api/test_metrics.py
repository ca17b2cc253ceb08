"""Metrics and logs of a running ``allmende serve``: scrape its Prometheus port, read its JSON log lines.

The database is seeded by a real service on SQLite (a cluster, a request, a solved round), then a real
server process serves it with ``--execute clusters`` (the executor ticks; no Ray head starts) and
``metrics_port`` set; the test makes RPCs and scrapes what they left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from scheduler.api.gen.allmende.v1 import rounds_pb2
from scheduler.domain import Role
from scheduler.logs import JsonFormatter
from scheduler.service import Service
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.store import open_store
from support.ports import free_port, wait_for
from tests.scheduler.api.harness import ManualClock, SubprocessServer, auth, issue
from tests.scheduler.service_world import OPERATOR, World, applicant, cluster, solved, spec

FAMILIES = (
    "allmende_rpcs", "allmende_rpc_duration_seconds", "allmende_allocations", "allmende_rounds_solved",
    "allmende_round_solve_seconds", "allmende_round_gap_ratio", "allmende_reconcile_lag_seconds",
    "allmende_reconcile_duration_seconds", "allmende_energy_kwh", "allmende_co2_kg",
)


def seed(url: str) -> tuple[str, str]:
    """A solved round in the database at ``url``; its id and an analyst's bearer token."""

    async def story() -> str:
        store, clock = open_store(url), ManualClock()
        service = Service(store, Settings(solver_executor="thread"), clock=clock, runner=SolverRunner("thread"))
        try:
            await service.register_cluster(OPERATOR, cluster("c1"))
            await service.submit(applicant("uni"), spec("uni", "train"))
            return await solved(World(service, store, clock))
        finally:
            await service.close()
            store.close()

    round_id = asyncio.run(story())
    store = open_store(url)
    try:
        return round_id, issue(store, Role.ANALYST)
    finally:
        store.close()


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {f.name: [(s.labels, s.value) for s in f.samples] for f in text_string_to_metric_families(text)}


@pytest.mark.slow
def test_a_running_server_exports_every_family(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'allmende.db'}"
    round_id, bearer = seed(url)
    metrics_port = free_port()
    env = {"ALLMENDE_METRICS_PORT": str(metrics_port), "ALLMENDE_EXECUTE": "clusters",
           "ALLMENDE_EXECUTION_TICK_S": "0.2", "ALLMENDE_LOG_FORMAT": "json"}
    server = SubprocessServer(url, extra_env=env)
    server.start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            rounds = server.stubs().rounds
            rounds.GetRound(rounds_pb2.GetRoundRequest(round_id=round_id), metadata=auth(bearer))
            with pytest.raises(grpc.RpcError):
                rounds.GetRound(rounds_pb2.GetRoundRequest(round_id=round_id))  # no token
        wait_for(lambda: "allmende_reconcile_lag_seconds" in scrape(metrics_port), timeout=20)
        families = scrape(metrics_port)
    finally:
        assert server.stop() == 0
    missing = [name for name in FAMILIES if name not in families]
    assert not missing, f"not exported: {missing}"
    rpcs = {(s["method"], s["code"]): v for s, v in families["allmende_rpcs"]}
    assert rpcs[("/allmende.v1.RoundService/GetRound", "OK")] == 1
    assert rpcs[("/allmende.v1.RoundService/GetRound", "UNAUTHENTICATED")] == 1
    assert rpcs[("/grpc.health.v1.Health/Check", "OK")] == 1
    by_state = {s["state"]: v for s, v in families["allmende_allocations"]}
    assert by_state["proposed"] == 1 and sum(by_state.values()) == 1
    assert [s["round_id"] for s, _ in families["allmende_round_solve_seconds"]] == [round_id]
    lines = [json.loads(line) for line in server.stderr().splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("allmende serving on") for line in lines), lines


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("allmende.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


@pytest.mark.parametrize(("made", "fields"), [
    pytest.param(record("round %s phase 2 solve", "round-0195-ab"), {"round_id": "round-0195-ab"},
                 id="a round id in the arguments becomes a field"),
    pytest.param(record("job %s (allocation %s) left alone", "raysubmit_1", "alloc-01-cd"),
                 {"allocation_id": "alloc-01-cd"}, id="an allocation id among other arguments"),
    pytest.param(record("submitted", allocation_id="alloc-9", round_id="round-9"),
                 {"allocation_id": "alloc-9", "round_id": "round-9"}, id="ids given as extra win"),
    pytest.param(record("%d workers serving", 3), {}, id="a line about no record has no id fields"),
])
def test_json_lines_carry_the_ids(made: logging.LogRecord, fields: dict[str, str]) -> None:
    line = json.loads(JsonFormatter().format(made))
    assert line["message"] == made.getMessage() and line["level"] == "info"
    assert {k: line[k] for k in ("round_id", "allocation_id") if k in line} == fields
