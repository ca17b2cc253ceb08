"""``make bench-service``: durable submissions and heartbeats against a real ``allmende serve``.

What runs, in one go:

0. The baseline: the same RPC with the same messages on a bare grpc.aio server whose handler
   answers at once (no auth, no validation, no store), so the cost of gRPC itself on this
   machine is measured in the same run.
1. For each database (SQLite file, then PostgreSQL started from the machine's binaries by the
   test fixture's starter), a real server (``allmende serve``, with one worker process and with
   ``--workers 2``), fed by 1, 8 and 64 concurrent clients, each submitting requests back to
   back for ``--seconds``, ``--repeat`` times; the run with the median rate is reported.  A
   submission counts once its answer arrives with status OK, and the server answers only after
   COMMIT (SQLite: WAL, ``synchronous=FULL``), so every counted submission is durable.  Reported:
   submissions/s, p50 and p99 latency, and the CPU (user + system, as a share of one core) of
   the server's processes and of the load generator.

The load generator is ``bench/loadgen/loadgen`` (C, libnghttp2; ``make bench-service`` builds
it), which costs a few microseconds per call, so the two cores measure the server; without it,
or with ``--generator python``, the clients are grpc.aio in this process, which on this machine
cost about as much CPU per call as the server.
2. 1,000 simulated clusters, each on its own ``ReportInventory`` stream with its own
   cluster-agent token, sending a heartbeat every 10 s (staggered), against SQLite; the
   server's CPU share over the window is the figure, and every heartbeat is confirmed
   by the streams' final answers.

Targets on 2 cores: >= 2,000 submissions/s on SQLite, with p99 <= 20 ms at 8 clients;
heartbeats of 1,000 clusters <= 15% of one core.  The load generator shares the machine with
the server, so the figures are conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import struct
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
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.table import Table

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import inventory_pb2_grpc as inv_grpc
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import requests_pb2_grpc as req_grpc
from scheduler.domain import Change, ClusterRecord, Role
from scheduler.store import Transaction, open_store
from solver.problem import GpuType
from support.ports import free_port, listening, wait_for

ROOT = Path(__file__).resolve().parents[1]
ALLMENDE = str(Path(sys.executable).with_name("allmende"))
LOADGEN = ROOT / "bench" / "loadgen" / "loadgen"
KEY_PLACEHOLDER = "K" * 24  # the C generator writes each call's own key here
CLIENTS = (1, 8, 64)
CHANNELS = 8
CLUSTERS = 1000
HEARTBEAT_S = 10.0
TICKS = os.sysconf("SC_CLK_TCK")
SPEC = dict(org="bench-org", category="research", gpus=4, runtime_hours={"H100": 6.0, "A100": 9.0},
            deadline=Timestamp(seconds=1_798_761_600), countries=["DE", "FR"],  # 2027-01-01 00:00 UTC
            entrypoint="python train.py --epochs 3")
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
    client_cpu: float


@dataclass(frozen=True)
class Heartbeats:
    clusters: int
    sent: int
    confirmed: int
    seconds: float
    first_cpu: float  # the first interval: streams open, tokens checked, clusters looked up once
    cpu: float  # steady state


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of the workers it spawned, from /proc."""
    total = 0.0
    for p in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for t in os.listdir(f"/proc/{pid}/task")
                for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
    except FileNotFoundError:
        return []


def own_cpu_seconds() -> float:
    """CPU of this process and of the children it has waited for (the C load generator)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@contextmanager
def server(url: str | None, workers: int = 1) -> Iterator[tuple[str, int]]:
    """``allmende serve`` on ``url`` (None: the no-op baseline server); yields its address and pid."""
    port = free_port()
    env = {**os.environ, "ALLMENDE_SOLVER_EXECUTOR": "thread", "ALLMENDE_STALENESS_CHECK_S": "60"}
    cmd = ([ALLMENDE, "serve", "--db", url, "--port", str(port), "--workers", str(workers)] if url else
           [sys.executable, "-m", "bench.service_bench", "--noop-server", str(port)])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
        wait_for(lambda: listening(port) == workers, timeout=60)  # worker 0 serves before the others
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
    # Separate connections: equal channels would otherwise share one (gRPC's global subchannel pool).
    channels = [grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(min(clients, CHANNELS))]
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


def c_load(address: str, token: str, clients: int, seconds: float, tag: str) -> tuple[int, list[float]]:
    """The same closed loop as :func:`submit_load`, driven by the C generator (one connection per
    client up to CHANNELS, 1 s of warm-up); raises if any call failed."""
    spec = req.RequestSpec(title="bench", **SPEC)
    body = req.SubmitRequestRequest(idempotency_key=KEY_PLACEHOLDER, spec=spec).SerializeToString()
    frame = b"\0" + struct.pack(">I", len(body)) + body
    with tempfile.NamedTemporaryFile(prefix="allmende-frame-") as f:
        f.write(frame)
        f.flush()
        host, port = address.rsplit(":", 1)
        out = subprocess.run([str(LOADGEN), host, port, "/allmende.v1.RequestService/SubmitRequest", token,
                              str(clients), str(min(clients, CHANNELS)), "1", str(seconds), f.name,
                              str(frame.index(KEY_PLACEHOLDER.encode())), tag[:8]],
                             capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    head = dict(line.split(" ", 1) for line in lines[:3] if not line[:1].isdigit())
    if int(head["errors"]) > 0:
        raise RuntimeError(f"{head['errors']} calls failed, the first with {head.get('error')}")
    latencies = [float(x) / 1e6 for x in lines if x[:1].isdigit()]
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


def submissions(database: str, url: str | None, seconds: float, *, generator: str, repeat: int,
                workers: int = 1) -> list[Row]:
    token = "none"
    if url is not None:
        store = open_store(url)
        token = store.write(lambda t: t.create_token(Role.APPLICANT, by=by(Role.SYSTEM), org="bench-org")).bearer
        store.close()

    def load(clients: int, secs: float, tag: str) -> tuple[int, list[float]]:
        if generator == "c":
            return c_load(address, token, clients, secs, tag)
        return asyncio.run(submit_load(address, token, clients, secs, tag))

    rows = []
    with server(url, workers) as (address, pid):
        load(8, 1.0, "warm")  # connections, caches, first pages
        for clients in CLIENTS:
            runs = []
            for r in range(repeat):
                cpu0, own0, t0 = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
                count, lat = load(clients, seconds, f"w{workers}c{clients}r{r}")
                wall = time.perf_counter() - t0
                runs.append(Row(database, clients, count, count / seconds, 1000 * quantile(lat, 0.5),
                                1000 * quantile(lat, 0.99), (cpu_seconds(pid) - cpu0) / wall,
                                (own_cpu_seconds() - own0) / wall))
            rows.append(sorted(runs, key=lambda row: row.per_s)[len(runs) // 2])
            if repeat > 1:
                console.print(f"{database}, {clients} clients: " + ", ".join(f"{x.per_s:,.0f}" for x in runs) +
                              f" submissions/s (median {statistics.median(x.per_s for x in runs):,.0f})",
                              style="dim")
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
    """A throwaway PostgreSQL from the machine's binaries, via support.postgres; None without them."""
    from support.postgres import PostgresServer, find_bin, unprivileged_user

    pg_bin = find_bin()
    if pg_bin is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="allmende-bench-pg-"))
    os.chmod(root, 0o755)
    pg = PostgresServer(bin=pg_bin, root=root / "pg", port=free_port(), user=unprivileged_user())
    try:
        pg.start()
        yield pg.create_database("bench")
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def render(rows: list[Row], beats: Heartbeats | None, markdown: bool) -> None:
    head = ("server", "clients", "submissions/s", "p50 ms", "p99 ms", "server CPU", "load generator CPU")
    cells = [(r.database, str(r.clients), f"{r.per_s:,.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.cpu:.0%}",
              f"{r.client_cpu:.0%}") for r in rows]
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


def _workers(n: int) -> str:
    return "1 process" if n == 1 else f"--workers {n}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per client count")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the median is reported")
    parser.add_argument("--generator", choices=["c", "python"], default="c" if LOADGEN.exists() else "python",
                        help="the C load generator (default when built) or grpc.aio clients in this process")
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
    if args.generator == "c" and not LOADGEN.exists():
        parser.error(f"{LOADGEN} is not built: run make bench-service (it needs libnghttp2-dev)")
    console.print(f"load generator: {'C (bench/loadgen)' if args.generator == 'c' else 'Python grpc.aio'}",
                  style="dim")
    run = dict(generator=args.generator, repeat=args.repeat)
    rows = submissions("baseline: no-op grpc.aio handler", None, args.seconds, **run)
    with tempfile.TemporaryDirectory(prefix="allmende-bench-") as tmp:
        console.print(f"SQLite in {tmp}", style="dim")
        for workers in (1, 2):
            rows += submissions(f"SQLite (WAL, synchronous=FULL), {_workers(workers)}",
                                f"sqlite:///{tmp}/submit-{workers}.db", args.seconds, workers=workers, **run)
        if not args.no_postgres:
            with postgres() as url:
                if url is None:
                    console.print("PostgreSQL binaries not found: skipped", style="yellow")
                else:
                    for workers in (1, 2):
                        rows += submissions(f"PostgreSQL, {_workers(workers)}", url, args.seconds, workers=workers,
                                            **run)
        beats = None if args.no_heartbeats else heartbeats(f"sqlite:///{tmp}/beats.db", args.heartbeat_seconds)
    render(rows, beats, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
