"""``make bench-exec``: what the Ray Jobs backend costs on top of Ray, against a fresh local head.

1. Submission overhead: ``--jobs`` trivial jobs (``python -c pass``, 1 GPU of ``cluster:de-01``) through
   :meth:`RayJobsBackend.submit` and as many through a bare ``JobSubmissionClient.submit_job`` with the same
   arguments, alternating, so both see the same head under the same load.  Reported: mean and p50 per job,
   and the ratio of the means (target at most 1.2x).
2. End to end: ``--jobs`` jobs one after another, each from ``submit`` until Ray reports SUCCEEDED (polled
   every 20 ms) on an idle head; p50 and p99.  Also the time of one ``observe()`` with every job of the run on the head.
3. A reconcile tick with 10,000 active allocations: the pure ``reconcile`` alone (:func:`reconcile_tick`), and a
   whole executor tick on SQLite with the jobs on an in-memory backend (:func:`executor_tick`: the store read,
   the observation and the decision; target under 1 s).

    python -m bench.exec_bench [--jobs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from rich.console import Console
from rich.table import Table

from scheduler.domain import AllocationRecord, Change, ClusterRecord, Execution, RequestSpec, Role, RoundRecord
from scheduler.execution.backend import JobPhase, JobSpec, ObservedJob
from scheduler.execution.ray_jobs import RayJobsBackend, cluster_resource
from scheduler.execution.reconcile import Desired, Rules, Window, reconcile, submission_id
from scheduler.states import AllocationState, RoundState
from scheduler.store import Transaction, open_store
from solver.problem import GpuType, Horizon
from support.ray_head import running_head

OVERHEAD_TARGET = 1.2
ACTIVE_ALLOCATIONS = 10_000
NOW = datetime.now(UTC)

console = Console(width=130)


def spec(n: int) -> JobSpec:
    return JobSpec(submission_id=f"bench-{uuid.uuid4().hex[:8]}-{n}", allocation_id=f"alloc-{n}", request_id=f"req-{n}",
                   round_id="bench", org="bench", cluster="de-01", gpu_type="H100", gpus=1,
                   entrypoint="python -c pass", start=NOW, deadline=NOW + timedelta(hours=1))


def timed(call: Callable[[], object]) -> float:
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def submission_overhead(url: str, jobs: int) -> tuple[list[float], list[float]]:
    """Seconds per submit, ours and bare, alternating job by job."""
    from ray.job_submission import JobSubmissionClient

    backend, client = RayJobsBackend(url), JobSubmissionClient(url)
    backend.observe()  # connect and read the nodes once, as a running executor has
    backend.submit(spec(-1))
    ours: list[float] = []
    bare: list[float] = []
    for n in range(jobs):
        job, raw = spec(n), spec(jobs + n)
        submit_bare = partial(client.submit_job, entrypoint=raw.entrypoint, submission_id=raw.submission_id,
                              runtime_env=raw.runtime_env, metadata=raw.metadata(), entrypoint_num_gpus=raw.gpus,
                              entrypoint_resources={cluster_resource(raw.cluster): raw.gpus})
        pair: list[tuple[list[float], Callable[[], object]]] = [(ours, partial(backend.submit, job)),
                                                                 (bare, submit_bare)]
        for into, call in pair if n % 2 == 0 else pair[::-1]:  # who goes first alternates too
            into.append(timed(call))
    return ours, bare


def drain(url: str, timeout_s: float = 900) -> None:
    """Wait until every job on the head has finished, so the next measure starts on an idle head."""
    backend, deadline = RayJobsBackend(url), time.monotonic() + timeout_s
    while any(not j.phase.terminal for j in backend.observe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still running after {timeout_s:.0f} s")
        time.sleep(0.5)


def end_to_end(url: str, jobs: int) -> tuple[list[float], list[str]]:
    """Seconds from submit to SUCCEEDED per job, one job at a time; and any job that did not succeed."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    backend, client = RayJobsBackend(url), JobSubmissionClient(url)
    seconds, bad = [], []
    for n in range(jobs):
        job = spec(10 * jobs + n)
        t = time.perf_counter()
        backend.submit(job)
        while not (status := client.get_job_status(job.submission_id)).is_terminal():
            time.sleep(0.02)
        seconds.append(time.perf_counter() - t)
        if status != JobStatus.SUCCEEDED:
            bad.append(f"{job.submission_id}: {status}")
    return seconds, bad


def reconcile_tick(allocations: int = ACTIVE_ALLOCATIONS) -> float:
    """Seconds of one pure ``reconcile`` over ``allocations`` running allocations, each with its running job."""
    window = Window(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    desired, observed = [], {}
    for n in range(allocations):
        sid = submission_id(f"alloc-{n}", 1)
        record = AllocationRecord(id=f"alloc-{n}", round_id="bench", request_id=f"req-{n}", cluster="de-01",
                                  gpu_type="H100", start_slot=0, end_slot=2, state=AllocationState.RUNNING,
                                  execution=Execution(backend="ray", submission_id=sid, attempts=1))
        desired.append(Desired(allocation=record, window=window))
        observed[sid] = ObservedJob(submission_id=sid, allocation_id=record.id, phase=JobPhase.RUNNING,
                                    started_at=window.start)
    t = time.perf_counter()
    reconcile(desired, observed, NOW, Rules())
    return time.perf_counter() - t


def executor_tick(allocations: int = ACTIVE_ALLOCATIONS) -> float:
    """Seconds of one whole executor tick on SQLite: read ``allocations`` running allocations of a published round,
    observe their jobs on an in-memory backend, reconcile; nothing changes, so nothing is written."""
    from scheduler.execution.executor import Executor
    from scheduler.execution.memory import MemoryBackend

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/bench.db")
        backend = MemoryBackend(lambda: NOW)
        by = Change(actor="bench", role=Role.SYSTEM, at=NOW, action="seed")
        gpu = {"H100": GpuType(tdp_watts=700)}

        def seed(t: Transaction) -> None:
            t.add_cluster(ClusterRecord(id="de-01", country="DE", gpu_types=gpu, gpus={"H100": 8},
                                        registered_at=NOW), by)
            t.add_round(RoundRecord(id="bench", horizon=Horizon(start=NOW - timedelta(hours=1), slots=4),
                                    state=RoundState.PUBLISHED, created_at=NOW, updated_at=NOW), by)
            spec = RequestSpec(org="org", title="bench", category="research", gpus=1, runtime_hours={"H100": 2.0},
                               entrypoint="true")
            for n in range(allocations):
                t.submit_request(spec, id=f"req-{n}", by=by)
            t.add_allocations([AllocationRecord(
                id=f"alloc-{n}", round_id="bench", request_id=f"req-{n}", cluster="de-01", gpu_type="H100",
                start_slot=0, end_slot=2, state=AllocationState.RUNNING,
                execution=Execution(backend="ray", submission_id=submission_id(f"alloc-{n}", 1), attempts=1),
            ) for n in range(allocations)], by)

        store.write(seed)
        for n in range(allocations):
            sid = submission_id(f"alloc-{n}", 1)
            backend.submit(JobSpec(submission_id=sid, allocation_id=f"alloc-{n}", request_id=f"req-{n}",
                                   round_id="bench", org="org", cluster="de-01", gpu_type="H100", gpus=1,
                                   entrypoint="true", start=NOW, deadline=NOW + timedelta(hours=1)))
            backend.start(sid)
        executor = Executor(store, lambda c: backend, clock=lambda: NOW)
        try:
            t = time.perf_counter()
            actions = asyncio.run(executor.tick())
            took = time.perf_counter() - t
        finally:
            store.close()
        assert not actions, "a steady state: every job runs inside its window"
        return took


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[98] if len(xs) > 1 else xs[0]


def ms(s: float) -> str:
    return f"{s * 1000:,.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    with running_head() as head:
        console.print(f"Ray head {head.address}, Jobs API {head.dashboard_url}: {head.num_gpus} GPUs, "
                      f"clusters {dict(head.clusters)}")
        ours, bare = submission_overhead(head.dashboard_url, args.jobs)
        drain(head.dashboard_url)
        e2e, bad = end_to_end(head.dashboard_url, args.jobs)
        observe_s = timed(RayJobsBackend(head.dashboard_url).observe)
    tick, whole = reconcile_tick(), executor_tick()
    ratio = statistics.mean(ours) / statistics.mean(bare)
    failed = ratio > OVERHEAD_TARGET or bool(bad) or whole >= 1.0

    table = Table("measure", "RayJobsBackend", "bare JobSubmissionClient", "ratio / note",
                  title=f"Execution on a local Ray head ({args.jobs} jobs per row)")
    table.add_row("submit, mean per job", ms(statistics.mean(ours)), ms(statistics.mean(bare)),
                  f"{ratio:.2f}x {'✓' if ratio <= OVERHEAD_TARGET else '✗'} (target ≤ {OVERHEAD_TARGET}x)")
    table.add_row("submit, p50", ms(statistics.median(ours)), ms(statistics.median(bare)),
                  f"{statistics.median(ours) / statistics.median(bare):.2f}x")
    table.add_row("submit → SUCCEEDED, p50", ms(statistics.median(e2e)), "", "one job at a time")
    table.add_row("submit → SUCCEEDED, p99", ms(p99(e2e)), "", f"{len(bad)} did not succeed")
    table.add_row(f"observe() with {3 * args.jobs + 1} jobs held", ms(observe_s), "", "")
    table.add_row(f"reconcile, {ACTIVE_ALLOCATIONS:,} active allocations", ms(tick), "", "pure, no I/O")
    table.add_row(f"executor tick, {ACTIVE_ALLOCATIONS:,} active allocations", ms(whole), "",
                  f"SQLite read + observe + reconcile {'✓' if whole < 1.0 else '✗'} (target < 1 s)")
    console.print(table)
    for line in bad[:5]:
        console.print(f"[red]{line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
