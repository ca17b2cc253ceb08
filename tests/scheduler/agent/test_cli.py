"""``allmende agent``: the arguments that cannot work are refused before connecting, and a good set runs."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from scheduler.agent import cli
from scheduler.agent.errors import AgentError
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.domain import Role
from tests.scheduler.agent.test_loop import until
from tests.scheduler.api.harness import InProcessServer, auth

EXAMPLE = str(resources.files("scheduler.examples") / "agent-static.yaml")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="allmende")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["agent", *argv])


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("alm_x.y\n")
    return path


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(["--static", EXAMPLE], "needs its cluster-agent token", id="no token anywhere"),
    pytest.param(["--static", EXAMPLE, "--token-file", "/nonexistent/token"], "--token-file",
                 id="a token file that is not there"),
    pytest.param(["--token-file", "{token}"], "needs --gpu-label", id="Kubernetes without a label map"),
    pytest.param(["--token-file", "{token}", "--gpu-label", "H100"], "PRODUCT=TYPE", id="a label without its type"),
    pytest.param(["--token-file", "{token}", "--static", EXAMPLE, "--prometheus", "http://prom:9090",
                  "--power", "kepler"], "--power kepler needs the Kubernetes nodes", id="Kepler with a static file"),
    pytest.param(["--token-file", "{token}", "--static", EXAMPLE, "--heartbeat-interval", "0"],
                 "must be positive", id="a zero heartbeat interval"),
])
def test_arguments_that_cannot_work(argv: list[str], message: str, token_file: Path,
                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ALLMENDE_TOKEN", raising=False)
    args = parse("--cluster", "jsc", *(a.replace("{token}", str(token_file)) for a in argv))
    with pytest.raises(AgentError, match=message):
        cli.build(args)
    assert cli.run(args) == cli.EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.fixture
def server() -> Iterator[InProcessServer]:
    s = InProcessServer()
    yield s
    s.close()


def test_a_static_site_reports_through_the_command(server: InProcessServer, tmp_path: Path) -> None:
    operator = auth(server.token(Role.OPERATOR))
    server.stubs().inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="jsc", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700),
                                              inv.GpuPool(gpu_type="A100", count=16, tdp_watts=400)]),
        metadata=operator)
    token = tmp_path / "token"
    token.write_text(server.token(Role.CLUSTER_AGENT, cluster="jsc") + "\n")
    agent = cli.build(parse("--cluster", "jsc", "--server", server.address, "--token-file", str(token),
                            "--static", EXAMPLE, "--heartbeat-interval", "0.05"))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()

    def shown() -> inv.Cluster:
        found: inv.Cluster = server.stubs().inventory.GetCluster(inv.GetClusterRequest(cluster_id="jsc"),
                                                                 metadata=operator)
        return found

    try:
        until(lambda: shown().version > 0)
    finally:
        agent.stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert dict(shown().inventory.gpus) == {"H100": 8, "A100": 16}
    assert len(shown().inventory.carbon.g_per_kwh) == 24
