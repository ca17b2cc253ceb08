"""The agent end to end against a real in-process gRPC server, with a static file as its source.

An operator registers the cluster (and where it executes); the agent streams its inventory and
heartbeats; ``GetCluster`` then shows what the agent reported.  The stories around it: an edit of
the file reaches the server as a new inventory, a token of another cluster stops the agent, a
broken connection is retried, and only operators choose where a cluster executes.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import pytest

from scheduler.agent.errors import AgentError
from scheduler.agent.loop import Agent, Backoff, WithPower
from scheduler.agent.static import read_static
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import inventory_pb2_grpc
from scheduler.domain import Inventory, Role
from support.ports import free_port
from tests.scheduler.api.harness import InProcessServer, auth

EXAMPLE = resources.files("scheduler.examples") / "agent-static.yaml"
BEAT_S = 0.05


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    s = InProcessServer()
    yield s
    s.close()


def register(server: InProcessServer, cluster_id: str, bearer: str | None = None,
             execution: inv.ExecutionTarget | None = None) -> inv.Cluster:
    msg = inv.RegisterClusterRequest(
        cluster_id=cluster_id, operator="Jülich", country="DE", pue=1.2,
        gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700),
              inv.GpuPool(gpu_type="A100", count=16, tdp_watts=400)],
        execution=execution,
    )
    bearer = bearer or server.token(Role.OPERATOR)
    answer: inv.Cluster = server.stubs().inventory.RegisterCluster(msg, metadata=auth(bearer))
    return answer


def get(server: InProcessServer, cluster_id: str) -> inv.Cluster:
    answer: inv.Cluster = server.stubs().inventory.GetCluster(
        inv.GetClusterRequest(cluster_id=cluster_id), metadata=auth(server.token(Role.ANALYST)))
    return answer


def agent(server: InProcessServer, cluster_id: str, read: Callable[[], Inventory], token_cluster: str | None = None,
          stub: Any = None) -> Agent:
    bearer = server.token(Role.CLUSTER_AGENT, cluster=token_cluster or cluster_id)
    return Agent(stub or server.stubs().inventory, cluster_id, read, metadata=auth(bearer), interval_s=BEAT_S,
                 backoff=Backoff(initial_s=0.01, max_s=0.05))


class Running:
    """The agent in a thread, as ``allmende agent`` runs it, until ``stop``."""

    def __init__(self, a: Agent) -> None:
        self.agent = a
        self.error: AgentError | None = None
        self.answer: inv.ReportInventoryResponse | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.answer = self.agent.run()
        except AgentError as exc:
            self.error = exc

    def stop(self) -> inv.ReportInventoryResponse:
        self.agent.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive() and self.error is None, self.error
        assert self.answer is not None
        return self.answer


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(BEAT_S / 2)


def test_the_agent_reports_what_the_static_file_says_and_follows_its_edits(
        server: InProcessServer, tmp_path: Path) -> None:
    register(server, "jsc")
    site = tmp_path / "site.yaml"
    shutil.copy(str(EXAMPLE), site)
    running = Running(agent(server, "jsc", lambda: read_static(site)))
    until(lambda: get(server, "jsc").version > 0)

    shown = get(server, "jsc")
    assert dict(shown.inventory.gpus) == {"H100": 8, "A100": 16}
    assert list(shown.inventory.carbon.g_per_kwh)[:3] == [210, 190, 180]
    assert shown.inventory.carbon.step_minutes == 60
    assert dict(shown.inventory.gpu_power_w) == {"H100": 612.5, "A100": 341.0}
    assert [(w.gpu_type, w.gpus) for w in shown.inventory.withdrawn] == [("H100", 4)]
    assert {p.gpu_type: p.count for p in shown.gpus} == {"H100": 8, "A100": 16}

    server.clock.advance(1)  # type: ignore[attr-defined]
    until(lambda: server.service.heartbeats.last_seen("jsc") == server.clock())  # a heartbeat since
    assert get(server, "jsc").version == shown.version  # heartbeats are no new inventory
    site.write_text(site.read_text().replace("H100: 8", "H100: 6"))  # two H100s go into repair
    until(lambda: get(server, "jsc").inventory.gpus["H100"] == 6)
    answer = running.stop()
    assert answer.reports >= 3  # the first inventory, heartbeats, the edited inventory
    assert answer.cluster.inventory.gpus["H100"] == 6


def test_a_site_without_carbon_data_reports_it_as_unknown(server: InProcessServer) -> None:
    register(server, "unknown-carbon")
    running = Running(agent(server, "unknown-carbon", lambda: Inventory(gpus={"H100": 8})))
    until(lambda: get(server, "unknown-carbon").version > 0)
    running.stop()
    assert not get(server, "unknown-carbon").inventory.HasField("carbon")  # unknown, not a forecast of zeros


def test_measured_power_reaches_the_server(server: InProcessServer) -> None:
    register(server, "measured")
    read = WithPower(lambda: Inventory(gpus={"H100": 8}), lambda: {"H100": 598.7, "B200": 900.0})
    running = Running(agent(server, "measured", read))
    until(lambda: get(server, "measured").version > 0)
    running.stop()
    assert dict(get(server, "measured").inventory.gpu_power_w) == {"H100": 599}  # whole watts; B200 not there


def test_a_token_for_another_cluster_stops_the_agent(server: InProcessServer) -> None:
    register(server, "jsc")
    register(server, "cineca")
    a = agent(server, "jsc", lambda: Inventory(gpus={"H100": 1}), token_cluster="cineca")
    with pytest.raises(AgentError, match="PERMISSION_DENIED"):
        a.run()
    assert get(server, "jsc").inventory.gpus.get("H100") != 1


def test_an_inventory_the_server_refuses_stops_the_agent(server: InProcessServer) -> None:
    register(server, "jsc")
    a = agent(server, "jsc", lambda: Inventory(gpus={"MI300X": 8}))
    with pytest.raises(AgentError, match=r"INVALID_ARGUMENT.*MI300X"):
        a.run()


class FlakyFirst:
    """Two streams into a port where no server listens (a real UNAVAILABLE), then the real server."""

    def __init__(self, real: inventory_pb2_grpc.InventoryServiceStub) -> None:
        nowhere = grpc.insecure_channel(f"127.0.0.1:{free_port()}")
        self.dead = inventory_pb2_grpc.InventoryServiceStub(nowhere)  # type: ignore[no-untyped-call]
        self.real, self.calls = real, 0

    def ReportInventory(self, reports: Any, **kw: Any) -> inv.ReportInventoryResponse:
        self.calls += 1
        stub = self.dead if self.calls <= 2 else self.real
        answer: inv.ReportInventoryResponse = stub.ReportInventory(reports, **kw)
        return answer


def test_a_broken_connection_is_retried_and_starts_with_the_full_inventory(server: InProcessServer) -> None:
    register(server, "flaky")
    flaky = FlakyFirst(server.stubs().inventory)
    running = Running(agent(server, "flaky", lambda: Inventory(gpus={"A100": 12}), stub=flaky))
    until(lambda: get(server, "flaky").inventory.gpus.get("A100") == 12)
    running.stop()
    assert flaky.calls == 3


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_good_stream() -> None:
    b = Backoff(initial_s=1, max_s=5)
    assert [b.delay() for _ in range(5)] == [1, 2, 4, 5, 5]
    b.reset()
    assert b.delay() == 1


def test_power_is_measured_at_most_every_interval_and_a_failure_keeps_the_files_figures() -> None:
    now, calls = [0.0], []

    def measure() -> dict[str, float]:
        calls.append(now[0])
        if len(calls) == 2:
            raise AgentError("Prometheus at http://prom: timed out")
        return {"H100": 600.4 + len(calls)}

    read = WithPower(lambda: Inventory(gpus={"H100": 8}, gpu_power_w={"H100": 612.5}), measure, every_s=300,
                     clock=lambda: now[0])
    assert read().gpu_power_w == {"H100": 601}
    now[0] = 299.0
    assert read().gpu_power_w == {"H100": 601} and calls == [0.0]  # cached: heartbeats stay heartbeats
    now[0] = 300.0
    assert read().gpu_power_w == {"H100": 601}  # the failed measurement leaves the last good one
    now[0] = 600.0
    assert read().gpu_power_w == {"H100": 603} and calls == [0.0, 300.0, 600.0]


EXECUTION = inv.ExecutionTarget(kind=inv.EXECUTION_KIND_KUBERAY, context="jsc-prod", namespace="allmende")


def test_only_an_operator_chooses_where_a_cluster_executes(server: InProcessServer) -> None:
    register(server, "exec", execution=EXECUTION)
    assert get(server, "exec").execution == EXECUTION
    bearer = server.token(Role.CLUSTER_AGENT, cluster="exec")
    ray = inv.ExecutionTarget(kind=inv.EXECUTION_KIND_RAY, address="http://attacker.example:8265")
    with pytest.raises(grpc.RpcError) as refused:
        register(server, "exec", bearer, execution=ray)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "operator" in (refused.value.details() or "")
    assert register(server, "exec", bearer).execution == EXECUTION  # an agent's re-registration keeps it
    assert get(server, "exec").execution == EXECUTION


@pytest.mark.parametrize(("target", "field"), [
    pytest.param(inv.ExecutionTarget(address="http://head:8265"), "execution.kind", id="no kind"),
    pytest.param(inv.ExecutionTarget(kind=inv.EXECUTION_KIND_KUBERAY, namespace="x" * 64), "execution.namespace",
                 id="a namespace longer than Kubernetes allows"),
])
def test_a_bad_execution_target_is_refused_and_changes_nothing(
        server: InProcessServer, target: inv.ExecutionTarget, field: str) -> None:
    register(server, "exec-bad", execution=EXECUTION)
    with pytest.raises(grpc.RpcError) as refused:
        register(server, "exec-bad", execution=target)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "") + str(dict(refused.value.trailing_metadata() or ()))
    assert get(server, "exec-bad").execution == EXECUTION


def test_a_cluster_with_no_execution_target_shows_none(server: InProcessServer) -> None:
    register(server, "plain")
    assert not get(server, "plain").HasField("execution")


@pytest.mark.parametrize(("power", "field"), [
    pytest.param({"H100": float("nan")}, "inventory.gpu_power_w[H100]", id="NaN watts"),
    pytest.param({"H100": -1.0}, "inventory.gpu_power_w[H100]", id="negative watts"),
    pytest.param({"B200": 900.0}, "inventory.gpu_power_w[B200]", id="power of a type the cluster never registered"),
])
def test_bad_measured_power_is_refused_and_changes_nothing(
        server: InProcessServer, power: dict[str, float], field: str) -> None:
    register(server, "power-bad")
    before = get(server, "power-bad")
    bearer = server.token(Role.CLUSTER_AGENT, cluster="power-bad")
    bad = inv.InventoryReport(cluster_id="power-bad", inventory=inv.Inventory(gpus={"H100": 8}, gpu_power_w=power))
    with pytest.raises(grpc.RpcError) as refused:
        server.stubs().inventory.ReportInventory(iter([bad]), metadata=auth(bearer))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "") + str(dict(refused.value.trailing_metadata() or ()))
    assert get(server, "power-bad").version == before.version
