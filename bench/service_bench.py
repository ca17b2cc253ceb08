"""``make bench-service``: durable submissions and heartbeats against a real ``allmende serve``.

What runs, in one go:

0. The baseline: the same RPC with the same messages on a bare grpc.aio server whose handler
   answers at once (no auth, no validation, no store), so the cost of gRPC itself on this
   machine is measured in the same run.
1. For each database (SQLite file, then PostgreSQL started from the machine's binaries by the
   test fixture's starter), a real server in its own process (``allmende serve``), fed by
   1, 8 and 64 concurrent gRPC clients in this process, each submitting requests back to
   back for ``--seconds``.  A submission counts once its answer arrives, and the server
   answers only after COMMIT (SQLite: WAL, ``synchronous=FULL``), so every counted
   submission is durable.  Reported: submissions/s, p50 and p99 latency, and the server's
   CPU (user + system) as a share of one core.
2. 1,000 simulated clusters, each on its own ``ReportInventory`` stream with its own
   cluster-agent token, sending a heartbeat every 10 s (staggered), against SQLite; the
   server's CPU share over the window is the figure, and every heartbeat is confirmed
   by the streams' final answers.

Targets on 2 cores: >= 2,000 submissions/s with p99 <= 20 ms at 8 clients on SQLite;
heartbeats of 1,000 clusters <= 15% of one core.  The client load generator shares the
machine with the server, so the figures are conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from rich.console import Console
from rich.table import Table

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import inventory_pb2_grpc as inv_grpc
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import requests_pb2_grpc as req_grpc
from scheduler.domain import Change, ClusterRecord, Role
from scheduler.store import Transaction, open_store
from solver.problem import GpuType

ROOT = Path(__file__).resolve().parents[1]
ALLMENDE = str(Path(sys.executable).with_name("allmende"))
CLIENTS = (1, 8, 64)
CHANNELS = 8
CLUSTERS = 1000
HEARTBEAT_S = 10.0
TICKS = os.sysconf("SC_CLK_TCK")
SPEC = dict(org="bench-org", category="research", gpus=4, runtime_slots={"H100": 6, "A100": 9},
            earliest_slot=0, deadline_slot=48, countries=["DE", "FR"], entrypoint="python train.py --epochs 3")
console = Console()


@dataclass(frozen=True)
class Row:
    database: str
    clients: int
    submissions: int
    per_s: float
    p50_ms: float
    p99_ms: float
    cpu: float


@dataclass(frozen=True)
class Heartbeats:
    clusters: int
    sent: int
    confirmed: int
    seconds: float
    first_cpu: float  # the first interval: streams open, tokens checked, clusters looked up once
    cpu: float  # steady state


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str | None) -> Iterator[tuple[str, int]]:
    """``allmende serve`` on ``url`` (None: the no-op baseline server); yields its address and pid."""
    port = free_port()
    env = {**os.environ, "ALLMENDE_SOLVER_EXECUTOR": "thread", "ALLMENDE_STALENESS_CHECK_S": "60"}
    cmd = ([ALLMENDE, "serve", "--db", url, "--port", str(port)] if url else
           [sys.executable, "-m", "bench.service_bench", "--noop-server", str(port)])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
        yield address, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def by(role: Role) -> Change:
    return Change(actor="bench", role=role, at=datetime.now(UTC), action="bench")


# -- submissions --------------------------------------------------------------------------------------


async def submit_load(address: str, token: str, clients: int, seconds: float, tag: str) -> tuple[int, list[float]]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(min(clients, CHANNELS))]
    stubs = [req_grpc.RequestServiceStub(c) for c in channels]
    metadata = (("authorization", f"Bearer {token}"),)
    spec = req.RequestSpec(title="bench", **SPEC)
    warm = time.perf_counter() + min(1.0, seconds / 4)
    end = warm + seconds
    latencies: list[float] = []

    async def client(i: int) -> None:
        stub, n = stubs[i % len(stubs)], 0
        while (t := time.perf_counter()) < end:
            msg = req.SubmitRequestRequest(idempotency_key=f"{tag}-{i}-{n}", spec=spec)
            await stub.SubmitRequest(msg, metadata=metadata)
            if t >= warm:
                latencies.append(time.perf_counter() - t)
            n += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    for c in channels:
        await c.close()
    return len(latencies), latencies


def quantile(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))] if ys else float("nan")


async def noop_server(port: int) -> None:
    """The baseline: the same RPC and messages on grpc.aio, answered at once, with no auth and no store."""

    class NoOp(req_grpc.RequestServiceServicer):
        async def SubmitRequest(self, request: req.SubmitRequestRequest, context: object) -> req.AllocationRequest:
            return req.AllocationRequest(request_id="noop", spec=request.spec, idempotency_key=request.idempotency_key)

    server = grpc.aio.server()
    req_grpc.add_RequestServiceServicer_to_server(NoOp(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def submissions(database: str, url: str | None, seconds: float) -> list[Row]:
    token = "none"
    if url is not None:
        store = open_store(url)
        token = store.write(lambda t: t.create_token(Role.APPLICANT, by=by(Role.SYSTEM), org="bench-org")).bearer
        store.close()
    rows = []
    with server(url) as (address, pid):
        asyncio.run(submit_load(address, token, 8, 1.0, "warmup"))  # connections, caches, first pages
        for clients in CLIENTS:
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            count, lat = asyncio.run(submit_load(address, token, clients, seconds, f"c{clients}"))
            cpu = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
            rows.append(Row(database, clients, count, count / seconds, 1000 * quantile(lat, 0.5),
                            1000 * quantile(lat, 0.99), cpu))
    return rows


# -- heartbeats ---------------------------------------------------------------------------------------


async def heartbeat_load(address: str, tokens: list[str], window: float, pid: int) -> tuple[int, int, float, float]:
    """Each cluster on its own stream, a beat every HEARTBEAT_S, first beats spread over one interval.

    Returns beats sent, beats the streams' answers confirmed, and the server's CPU share in the
    first interval (streams open, tokens are checked, each cluster is looked up once) and in the
    steady state after it, over ``window`` seconds.  Streams stay open until the end, as agents'
    do, and close after the measurement.
    """
    channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    stubs = [inv_grpc.InventoryServiceStub(c) for c in channels]
    start = time.perf_counter()
    seconds = HEARTBEAT_S + 1 + window + 0.5
    sent = 0

    async def beats(i: int) -> AsyncIterator[inv.InventoryReport]:
        nonlocal sent
        k = 0
        while (due := start + (i / len(tokens) + k) * HEARTBEAT_S) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent += 1
            k += 1
            yield inv.InventoryReport(cluster_id=f"bench-{i:04d}", heartbeat=inv.Heartbeat())
        await asyncio.sleep(max(0.0, start + seconds - time.perf_counter()))  # agents keep their streams open

    async def cluster(i: int) -> int:
        metadata = (("authorization", f"Bearer {tokens[i]}"),)
        answer = await stubs[i % CHANNELS].ReportInventory(beats(i), metadata=metadata)
        return int(answer.reports)

    async def meter(begin: float, end: float) -> float:
        await asyncio.sleep(max(0.0, start + begin - time.perf_counter()))
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(max(0.0, start + end - time.perf_counter()))
        return (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)

    first = asyncio.ensure_future(meter(0.0, HEARTBEAT_S))
    steady = asyncio.ensure_future(meter(HEARTBEAT_S + 1, HEARTBEAT_S + 1 + window))
    confirmed = sum(await asyncio.gather(*(cluster(i) for i in range(len(tokens)))))
    for c in channels:
        await c.close()
    return sent, confirmed, await first, await steady


def heartbeats(url: str, seconds: float) -> Heartbeats:
    store = open_store(url)
    now = datetime.now(UTC)

    def setup(t: Transaction) -> list[str]:
        out = []
        for i in range(CLUSTERS):
            cid = f"bench-{i:04d}"
            t.add_cluster(ClusterRecord(id=cid, country="DE", gpu_types={"H100": GpuType(tdp_watts=700)},
                                        gpus={"H100": 8}, registered_at=now), by(Role.SYSTEM))
            out.append(t.create_token(Role.CLUSTER_AGENT, by=by(Role.SYSTEM), cluster=cid).bearer)
        return out

    tokens = store.write(setup)
    store.close()
    with server(url) as (address, pid):
        sent, confirmed, first, steady = asyncio.run(heartbeat_load(address, tokens, seconds, pid))
    return Heartbeats(CLUSTERS, sent, confirmed, seconds, first, steady)


# -- databases ----------------------------------------------------------------------------------------


@contextmanager
def postgres() -> Iterator[str | None]:
    """A throwaway PostgreSQL from the machine's binaries, via the test suite's starter; None without them."""
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.postgres import PostgresServer, _free_port, _unprivileged_user, find_bin

    pg_bin = find_bin()
    if pg_bin is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="allmende-bench-pg-"))
    os.chmod(root, 0o755)
    pg = PostgresServer(bin=pg_bin, root=root / "pg", port=_free_port(), user=_unprivileged_user())
    try:
        pg.start()
        yield pg.create_database("bench")
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def render(rows: list[Row], beats: Heartbeats | None, markdown: bool) -> None:
    head = ("database", "clients", "submissions/s", "p50 ms", "p99 ms", "server CPU")
    cells = [(r.database, str(r.clients), f"{r.per_s:,.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.cpu:.0%}")
             for r in rows]
    beat_head = ("clusters", "heartbeat every", "sent / confirmed", "steady window", "server CPU, steady",
                 "server CPU, first interval")
    beat_cells = [] if beats is None else [(
        f"{beats.clusters:,}", f"{HEARTBEAT_S:g} s", f"{beats.sent:,} / {beats.confirmed:,}", f"{beats.seconds:g} s",
        f"{beats.cpu:.1%}", f"{beats.first_cpu:.1%}")]
    if markdown:
        for header, body in ((head, cells), (beat_head, beat_cells)):
            if body:
                print("| " + " | ".join(header) + " |")
                print("|---|" + "---:|" * (len(header) - 1))
                for row in body:
                    print("| " + " | ".join(row) + " |")
                print()
        return
    for title, header, body in (("SubmitRequest, each answered after COMMIT (the baseline stores nothing)", head,
                                 cells),
                                ("heartbeats on ReportInventory streams (SQLite); CPU as a share of one core",
                                 beat_head, beat_cells)):
        if body:
            table = Table(*header, title=title)
            for row in body:
                table.add_row(*row)
            console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per client count")
    parser.add_argument("--heartbeat-seconds", type=float, default=20.0,
                        help="steady-state heartbeat window, after the first interval")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-heartbeats", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables for docs/benchmarks.md")
    parser.add_argument("--noop-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.noop_server:
        asyncio.run(noop_server(args.noop_server))
        return 0
    rows = submissions("baseline: no-op grpc.aio handler", None, args.seconds)
    with tempfile.TemporaryDirectory(prefix="allmende-bench-") as tmp:
        console.print(f"SQLite in {tmp}", style="dim")
        rows += submissions("SQLite (WAL, synchronous=FULL)", f"sqlite:///{tmp}/submit.db", args.seconds)
        if not args.no_postgres:
            with postgres() as url:
                if url is None:
                    console.print("PostgreSQL binaries not found: skipped", style="yellow")
                else:
                    rows += submissions("PostgreSQL", url, args.seconds)
        beats = None if args.no_heartbeats else heartbeats(f"sqlite:///{tmp}/beats.db", args.heartbeat_seconds)
    render(rows, beats, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
