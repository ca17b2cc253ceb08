"""``allmende demo``: the whole product on embedded defaults, in the order a programme runs it.

1. start a local Ray head that stands in for the three clusters (a ``cluster:<id>`` resource each,
   logical GPUs), then ``allmende serve`` on SQLite executing on it (``--execute local``) with a
   compressed clock (one slot of the round lasts ``seconds_per_slot`` seconds);
2. register three example clusters as the operator, and start their agents (``allmende agent
   --static``), which stream inventories, carbon forecasts and heartbeats;
3. submit the 40 example requests as their organisations' applicants, then record the review
   panel's merit scores as the operator;
4. open and run a round, approve it and publish it;
5. let the executor run the approved allocations as Ray jobs, and wait until every one has ended;
6. print the public ledger, planned beside actual, and write a self-contained HTML report;
7. stop the agents, the service and the Ray head.

Everything goes through the gRPC API with role tokens, as a programme's staff would use it; only the
tokens are made on the database directly, as ``allmende token create`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import json_format
from rich.console import Console

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import (
    execution_pb2,
    execution_pb2_grpc,
    ledger_pb2,
    ledger_pb2_grpc,
    review_pb2,
    review_pb2_grpc,
)
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import inventory_pb2_grpc as inv_grpc
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import requests_pb2_grpc as req_grpc
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.api.gen.allmende.v1 import rounds_pb2_grpc as rnd_grpc
from scheduler.cli import tables
from scheduler.demo import report
from scheduler.domain import Change, ClusterRecord, Role
from scheduler.execution import local_head
from scheduler.store import open_store

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
SLOTS = 24
SHARES = {"university": 0.35, "sme": 0.30, "civil_society": 0.20, "public_sector": 0.15}
ENERGY_BUDGET_MWH = 1.6
TERMINAL = {rnd.ALLOCATION_STATE_SUCCEEDED, rnd.ALLOCATION_STATE_FAILED, rnd.ALLOCATION_STATE_STALE}


@dataclass(frozen=True)
class Stubs:
    """The service's API, one stub per gRPC service."""

    inventory: inv_grpc.InventoryServiceStub
    requests: req_grpc.RequestServiceStub
    rounds: rnd_grpc.RoundServiceStub
    review: review_pb2_grpc.ReviewServiceStub
    ledger: ledger_pb2_grpc.LedgerServiceStub
    execution: execution_pb2_grpc.ExecutionServiceStub

    @classmethod
    def on(cls, channel: grpc.Channel) -> Stubs:
        return cls(inv_grpc.InventoryServiceStub(channel), req_grpc.RequestServiceStub(channel),  # type: ignore[no-untyped-call]
                   rnd_grpc.RoundServiceStub(channel), review_pb2_grpc.ReviewServiceStub(channel),  # type: ignore[no-untyped-call]
                   ledger_pb2_grpc.LedgerServiceStub(channel),  # type: ignore[no-untyped-call]
                   execution_pb2_grpc.ExecutionServiceStub(channel))  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Options:
    out: Path
    seconds_per_slot: float
    time_limit_s: float


def example(name: str) -> Any:
    return yaml.safe_load(resources.files("scheduler.examples").joinpath(name).read_text(encoding="utf-8"))


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def tokens(url: str, orgs: list[str], clusters: list[str]) -> dict[str, str]:
    """An operator token, one applicant token per organisation and one agent token per cluster."""
    store = open_store(url)
    by = Change(actor="demo", role=Role.SYSTEM, at=datetime.now(UTC), action="create_token", reason="make demo")
    try:
        def make(role: Role, **kw: str) -> str:
            return store.write(lambda t: t.create_token(role, by=by, name=f"demo {role}", **kw)).bearer

        out = {"operator": make(Role.OPERATOR)}
        out |= {f"org:{o}": make(Role.APPLICANT, org=o) for o in orgs}
        out |= {f"cluster:{c}": make(Role.CLUSTER_AGENT, cluster=c) for c in clusters}
        return out
    finally:
        store.close()


@contextmanager
def process(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in ``log``, stopped with SIGTERM (then SIGKILL) on the way out."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ | (env or {}),
                                start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


def wait_serving(channel: grpc.Channel, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(channel)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}; see {log}")
        try:
            if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the service did not answer within {timeout:.0f} s; see {log}")


def register(stub: inv_grpc.InventoryServiceStub, operator: str, clusters: list[dict[str, Any]]) -> None:
    for c in clusters:
        pools = [inv.GpuPool(gpu_type=t, count=c["gpus"][t], tdp_watts=g["tdp_watts"], memory_gb=g.get("memory_gb", 0))
                 for t, g in c["gpu_types"].items()]
        kind = {"ray": inv.EXECUTION_KIND_RAY, "kuberay": inv.EXECUTION_KIND_KUBERAY}[c["execution"]["kind"]]
        stub.RegisterCluster(inv.RegisterClusterRequest(
            cluster_id=c["id"], operator=c["operator"], country=c["country"], gpus=pools,
            power_cap_kw=c["power_cap_kw"], pue=c["pue"],
            execution=inv.ExecutionTarget(kind=kind, address=c["execution"].get("address", "")),
        ), metadata=auth(operator))
        console.print(f"  registered {c['id']} ({c['country']}, {c['operator']}): "
                      + ", ".join(f"{n}×{t}" for t, n in c["gpus"].items()) + f", cap {c['power_cap_kw']} kW")


def agent_files(out: Path, start: datetime) -> dict[str, Path]:
    """The example agents' static files, with their carbon forecasts moved to start with the round."""
    files = {}
    folder = resources.files("scheduler.examples").joinpath("agents")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        if "carbon" in data:
            data["carbon"]["start"] = start.isoformat()
        path = out / f"agent-{entry.name}"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        files[entry.name.removesuffix(".yaml")] = path
    return files


def wait_reported(stub: inv_grpc.InventoryServiceStub, operator: str, ids: list[str], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = stub.ListClusters(inv.ListClustersRequest(), metadata=auth(operator)).clusters
        if all(c.HasField("last_heartbeat") for c in got if c.cluster_id in ids) and len(got) >= len(ids):
            return
        time.sleep(0.3)
    raise RuntimeError("the cluster agents did not report in time")


def submit(stub: req_grpc.RequestServiceStub, toks: dict[str, str], requests: list[dict[str, Any]]) -> dict[str, str]:
    """Each request as its organisation's applicant (no merit), then the panel's merit as the operator."""
    ids = {}
    for r in requests:
        body = {k: v for k, v in r.items() if k not in ("id", "merit")}
        made = stub.SubmitRequest(req.SubmitRequestRequest(idempotency_key=r["id"],
                                                           spec=json_format.ParseDict(body, req.RequestSpec())),
                                  metadata=auth(toks[f"org:{r['org']}"]))
        ids[r["id"]] = made.request_id
    for r in requests:
        body = {k: v for k, v in r.items() if k != "id"}
        stub.AmendRequest(req.AmendRequestRequest(request_id=ids[r["id"]], spec=json_format.ParseDict(body,
                          req.RequestSpec()), reason="merit from the review panel"), metadata=auth(toks["operator"]))
    return ids


def run_round(stubs: Stubs, operator: str, start: datetime, time_limit_s: float) -> str:
    horizon = common.Horizon(slot_minutes=60, slots=SLOTS)
    horizon.start.FromDatetime(start)
    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=horizon, policy=rnd.POLICY_FAIR, reason="demo round",
        policy_config=common.PolicyConfig(category_shares=SHARES, org_cap_share=0.25,
                                          energy_budget_mwh=ENERGY_BUDGET_MWH),
        solver=common.SolverParams(time_limit_s=time_limit_s, deterministic=True, workers=1),
    ), metadata=auth(operator))
    last = ""
    for p in stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=auth(operator)):
        line = f"  {p.phase}: {p.message}" if p.message else f"  {p.phase}"
        if line != last:
            console.print(line)
            last = line
    got = stubs.rounds.GetRound(rnd.GetRoundRequest(round_id=opened.round_id), metadata=auth(operator))
    if got.state != rnd.ROUND_STATE_PROPOSED:
        raise RuntimeError(f"the round ended {rnd.RoundState.Name(got.state)}: {got.error}")
    return str(opened.round_id)


def wait_executed(stub: execution_pb2_grpc.ExecutionServiceStub, operator: str, round_id: str,
                  timeout: float, names: dict[str, str]) -> list[execution_pb2.Execution]:
    end = time.monotonic() + timeout
    seen: dict[str, int] = {}
    while True:
        runs = list(stub.ListExecutions(execution_pb2.ListExecutionsRequest(round_id=round_id),
                                        metadata=auth(operator)).executions)
        for e in runs:
            if seen.get(e.allocation_id) != e.state:
                seen[e.allocation_id] = e.state
                state = rnd.AllocationState.Name(e.state).removeprefix("ALLOCATION_STATE_").lower()
                console.print(f"  {time.strftime('%H:%M:%S')} {names.get(e.request_id, e.request_id):<18} "
                              f"{state:<9} on {e.cluster_id:<10} "
                              f"{e.message}".rstrip(), style="dim" if state == "submitted" else None)
        if runs and all(e.state in TERMINAL for e in runs):
            return runs
        if time.monotonic() > end:
            console.print(f"[yellow]  {sum(e.state not in TERMINAL for e in runs)} allocations still open after "
                          f"{timeout:.0f} s[/yellow]")
            return runs
        time.sleep(1.0)


def print_ledger(entry: ledger_pb2.LedgerEntry) -> None:
    tables.accounts(entry, console)
    console.print("[dim]Actual times are the Ray jobs' own, from acceptance to exit, mapped back onto the round's "
                  "hours: under the compressed clock one wall-clock second is many minutes of the round, so a job's "
                  "start-up counts as run time.[/dim]")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(entry.rejections_by_reason.items())) or "none"
    console.print(f"Rejections by reason: {reasons}.  Min attainment {entry.min_attainment:.3f}, "
                  f"Jain {entry.jain:.3f}.")


def main(options: Options) -> int:
    t0 = time.monotonic()
    out = options.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("demo.db*"):
        stale.unlink()
    url = f"sqlite:///{out / 'demo.db'}"
    clusters = example("clusters.yaml")["clusters"]
    requests = example("requests.yaml")["requests"]
    toks = tokens(url, sorted({r["org"] for r in requests}), [c["id"] for c in clusters])
    port, http_port = local_head.free_port(), local_head.free_port()
    address = f"127.0.0.1:{port}"
    exe = [sys.executable, "-m", "scheduler.cli"]
    settings = {
        "ALLMENDE_EXECUTE": "local", "ALLMENDE_EXECUTION_SECONDS_PER_SLOT": str(options.seconds_per_slot),
        "ALLMENDE_EXECUTION_TICK_S": "0.5", "ALLMENDE_STOP_GRACE_S": str(4 * options.seconds_per_slot),
        "ALLMENDE_SOLVER_EXECUTOR": "thread",
    }
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    with ExitStack() as stack:
        console.rule("1. a local Ray head and the service")
        records = [ClusterRecord.model_validate(c | {"registered_at": datetime.now(UTC)}) for c in clusters]
        head = local_head.start(records)
        stack.callback(head.stop)
        settings["ALLMENDE_LOCAL_RAY_ADDRESS"] = head.dashboard_url
        console.print(f"  Ray head at {head.dashboard_url}: {sum(sum(r.gpus.values()) for r in records)} logical GPUs, "
                      + ", ".join(f"cluster:{c['id']}" for c in clusters))
        server = stack.enter_context(process([*exe, "serve", "--db", url, "--port", str(port), "--http-port",
                                              str(http_port)], out / "server.log", settings))
        channel = stack.enter_context(grpc.insecure_channel(address))
        wait_serving(channel, server, out / "server.log")
        console.print(f"  allmende serve on {address}, SQLite at {out / 'demo.db'} (log: {out / 'server.log'})")
        operator_token = out / "operator.token"
        operator_token.write_text(toks["operator"])
        operator_token.chmod(0o600)
        console.print(f"  console: http://127.0.0.1:{http_port}/ (operator token in {operator_token})")
        stubs = Stubs.on(channel)

        console.rule("2. three clusters and their agents")
        register(stubs.inventory, toks["operator"], clusters)
        for cid, path in agent_files(out, start).items():
            token_file = out / f"agent-{cid}.token"
            token_file.write_text(toks[f"cluster:{cid}"])
            token_file.chmod(0o600)
            stack.enter_context(process([*exe, "agent", "--cluster", cid, "--server", address, "--token-file",
                                         str(token_file), "--static", str(path), "--heartbeat-interval", "5"],
                                        out / f"agent-{cid}.log"))
        wait_reported(stubs.inventory, toks["operator"], [c["id"] for c in clusters])
        console.print("  agents report inventory, carbon forecast and heartbeats every 5 s")

        console.rule("3. forty requests from four categories")
        ids = submit(stubs.requests, toks, requests)
        console.print(f"  {len(ids)} requests submitted by {len({r['org'] for r in requests})} organisations; "
                      "merit recorded by the operator")

        console.rule("4. a round: solve, approve, publish")
        round_id = run_round(stubs, toks["operator"], start, options.time_limit_s)
        stubs.review.Approve(review_pb2.ApproveRequest(round_id=round_id, reason="demo: plan reviewed"),
                                metadata=auth(toks["operator"]))
        stubs.review.Publish(review_pb2.PublishRequest(round_id=round_id, reason="demo: published"),
                                metadata=auth(toks["operator"]))
        console.print(f"  {round_id} approved and published")

        console.rule(f"5. execution on Ray (one slot = {options.seconds_per_slot:g} s)")
        names = {service_id: example_id for example_id, service_id in ids.items()}
        runs = wait_executed(stubs.execution, toks["operator"], round_id,
                             timeout=(SLOTS + 4) * options.seconds_per_slot + 60, names=names)
        done = sum(e.state == rnd.ALLOCATION_STATE_SUCCEEDED for e in runs)
        console.print(f"  {done} of {len(runs)} allocations succeeded")

        console.rule("6. the public ledger")
        entry = stubs.ledger.GetLedgerEntry(ledger_pb2.GetLedgerEntryRequest(round_id=round_id))
        print_ledger(entry)
        html_path = out / "report.html"
        html_path.write_text(report.render(entry, ENERGY_BUDGET_MWH, SHARES), encoding="utf-8")

        console.rule("7. shutting down")
    console.print(f"Report: {html_path}")
    console.print(f"Done in {time.monotonic() - t0:.0f} s.")
    return 0
