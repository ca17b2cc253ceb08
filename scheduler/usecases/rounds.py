"""Rounds: opening one, and running its phases (:mod:`scheduler.phases`) with a live view of the solve.

A round runs in numbered phases, each logged with its duration:

1. snapshot  one transaction: the round goes ``open -> solving``; every ``active``
             cluster and every ``submitted`` request is read, the problem is built
             (:func:`scheduler.rounds.build_problem`) and stored with the OR-Tools
             version, and the requests go ``submitted -> in_round``;
2. solve     in the solver runner, outside the RPC threads, with progress: the
             solver's own reports (phase, best value so far, bound) reach the
             live run at once and the round record every ``PROGRESS_PERSIST_S``,
             so every worker of the server can show them;
3. persist   one transaction: the plan is stored, each assignment becomes a
             ``proposed`` allocation, and the round goes ``solving -> proposed``.
             If the solve failed, the round goes ``solving -> failed`` and its
             requests return to the pool.

A pin re-runs phases 2 and 3 around the pinned assignment; if that re-solve fails the
round keeps the plan it had.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scheduler import phases
from scheduler.access import Principal
from scheduler.domain import AllocationRecord, RoundRecord, new_id
from scheduler.errors import PolicyViolation
from scheduler.pinning import check_pins
from scheduler.solving import SolverRunner
from scheduler.states import AllocationState, ClusterState, RoundState
from scheduler.store import AllocationQuery, ClusterQuery, Reader, Repository, Transaction
from scheduler.store.pages import all_pages, allocations
from scheduler.usecases import review
from solver.params import SolveParams
from solver.plan import Plan, Progress
from solver.problem import Horizon, Pin, PolicyConfig, Problem

log = logging.getLogger("allmende.service")
PROGRESS_PERSIST_S = 1.0


@dataclass(frozen=True)
class NewRound:
    horizon: Horizon
    objective: str
    policy: PolicyConfig
    params: SolveParams | None
    reason: str = ""


@dataclass
class RoundRun:
    """A solve in progress, as RunRound streams it and GetRound shows it."""

    round_id: str
    phase: str = "snapshot"
    fraction: float = 0.0
    message: str = ""
    solver: Progress | None = None  # the solver's latest report
    started: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


def describe(progress: Progress) -> str:
    """The solver's report in one line: ``improve: 812 assigned, value 29,815 of at most 31,404 (gap 5.1 %)``."""
    text = f"{progress.phase}: {progress.assigned:,} assigned, value {progress.value:,.0f}"
    if progress.bound is not None and progress.bound > 0:
        gap = max(0.0, 1.0 - progress.value / progress.bound)
        text += f" of at most {progress.bound:,.0f} (gap {gap:.1%})"
    return text


def open_round(t: Transaction, who: Principal, new: NewRound, default_time_limit_s: float,
               now: datetime) -> RoundRecord:
    """A new ``open`` round; without solver parameters it gets a deterministic single-worker solve."""
    params = new.params or SolveParams(time_limit_s=default_time_limit_s, workers=1, seed=0, deterministic=True)
    record = RoundRecord(id=new_id("round"), horizon=new.horizon, policy=new.policy, objective=new.objective,
                         params=params, created_at=now, updated_at=now)
    return t.add_round(record, who.change("open", now, new.reason))


def name_stale(r: Reader, problem: Problem, plan: Plan) -> Plan:
    """Each ``no_eligible_cluster`` rejection names the stale clusters that have its GPUs: left out, not missing.

    A cluster whose agent stopped reporting is stale and out of the snapshot, so a request only it could
    run is rejected as if nothing anywhere fit; the detail says which clusters were left out and why.
    """
    if not any(x.reason == "no_eligible_cluster" for x in plan.rejected):
        return plan
    stale = all_pages(lambda p: r.list_clusters(ClusterQuery(states=frozenset({ClusterState.STALE})), p))
    asked = {q.id: q for q in problem.requests}
    rejected = []
    for x in plan.rejected:
        q = asked.get(x.request)
        names = [c.id for c in stale if q is not None and set(c.gpu_types) & set(q.runtime_slots)
                 and (not q.countries or c.country in q.countries)]
        if x.reason == "no_eligible_cluster" and names:
            x = x.model_copy(update={"detail": f"{x.detail}; stale, so not planned on (no heartbeat from its agent): "
                                               f"{', '.join(names)}"})
        rejected.append(x)
    return plan.model_copy(update={"rejected": rejected})


def read_round(r: Reader, round_id: str) -> tuple[RoundRecord, list[AllocationRecord]]:
    return r.get_round(round_id), allocations(r, AllocationQuery(round_id=round_id))


class Solves:
    """The solves this process runs: phase 1 in the caller, phases 2-3 as tasks, each with its live run."""

    def __init__(self, store: Repository, runner: SolverRunner, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.runner = runner
        self.clock = clock
        self.runs: dict[str, RoundRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def live(self, round_id: str) -> RoundRun | None:
        """The latest solve of the round in this process, running or done; None if it ran elsewhere."""
        return self.runs.get(round_id)

    async def run(self, who: Principal, round_id: str, reason: str) -> RoundRun:
        """Phase 1 now (its errors reach the caller), phases 2-3 in the background; returns the live run."""
        running = self.runs.get(round_id)
        if running is not None and not running.done.is_set():
            return running
        run = RoundRun(round_id)
        t0 = time.monotonic()
        record = await self.store.write_async(lambda t: phases.snapshot(t, who, round_id, reason, self.clock()))
        log.info("round %s phase 1 snapshot: %d requests, %d clusters in %.3fs", round_id,
                 len(record.problem.requests) if record.problem else 0,
                 len(record.problem.clusters) if record.problem else 0, time.monotonic() - t0)
        self.runs[round_id] = run
        self._spawn(self._solve_and_persist(run, record, pins=(), previous=None))
        return run

    async def pin(self, who: Principal, pin: Pin, round_id: str, reason: str) -> RoundRecord:
        """Force one assignment and re-solve the rest; waits for the re-solve and returns the round."""
        record, held = await self.store.read_async(lambda r: read_round(r, round_id))
        if record.state != RoundState.PROPOSED or record.problem is None:
            raise PolicyViolation(f"round {round_id!r} is {record.state}: pins are set while it is proposed")
        kept = [a for a in held if a.state == AllocationState.PINNED and a.request_id != pin.request]
        pins = [*map(phases.pin_of, kept), pin]
        await asyncio.to_thread(check_pins, record.problem, pins)  # refuses a pin breaking a rule
        now = self.clock()
        solving = await self.store.write_async(lambda t: review.start_pin(t, who, record, pin, reason, now))
        run = RoundRun(round_id)
        self.runs[round_id] = run
        await self._solve_and_persist(run, solving, pins, previous=record)
        if run.error is not None:
            raise PolicyViolation(f"the re-solve around the pin failed: {run.error}")
        return await self.store.read_async(lambda r: r.get_round(round_id))

    async def recover(self) -> list[str]:
        """On start: a round left ``solving`` by a dead server fails (or, mid re-solve, keeps its plan)."""
        return await self.store.write_async(lambda t: phases.recover(t, self.clock()))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _solve_and_persist(
        self, run: RoundRun, record: RoundRecord, pins: Sequence[Pin], previous: RoundRecord | None
    ) -> None:
        problem = record.problem
        if problem is None:  # pragma: no cover - phase 1 always stores one
            raise RuntimeError("round without a problem")
        try:
            run.phase, run.fraction = "solve", 0.05
            t0 = time.monotonic()
            persisted = [t0]

            def progress(share: float, latest: Progress | None) -> None:
                run.fraction = 0.05 + 0.9 * share
                if latest is not None:
                    run.solver, run.message = latest, describe(latest)
                now = time.monotonic()
                if now - persisted[0] >= PROGRESS_PERSIST_S:
                    persisted[0] = now
                    fraction, message = run.fraction, run.message
                    self._spawn(self._persist_progress(record.id, fraction, message))

            plan = await self.runner.solve(problem, record.objective, record.params, pins, progress)
            log.info("round %s phase 2 solve: %d assigned, %d rejected in %.3fs", record.id,
                     len(plan.assignments), len(plan.rejected), time.monotonic() - t0)
            run.phase, run.fraction = "persist", 0.95
            t0 = time.monotonic()
            await self.store.write_async(
                lambda t: phases.persist(t, record.id, name_stale(t, problem, plan), pins, self.clock()))
            log.info("round %s phase 3 persist in %.3fs", record.id, time.monotonic() - t0)
            run.phase, run.fraction, run.message = "done", 1.0, f"{len(plan.assignments)} assigned"
        except Exception as exc:  # the round must never stay 'solving' because of an error
            log.exception("round %s failed", record.id)
            run.error = f"{type(exc).__name__}: {exc}"
            run.phase, run.message = "failed", run.error
            error = run.error
            await self.store.write_async(lambda t: phases.fail(t, record.id, error, previous, self.clock()))
        finally:
            run.done.set()

    async def _persist_progress(self, round_id: str, fraction: float, message: str) -> None:
        """An observation: no version, no audit entry; a failure only leaves the stored progress older."""
        try:
            await self.store.write_async(lambda t: t.set_round_progress(round_id, fraction, message))
        except Exception:
            log.warning("round %s: progress not stored", round_id, exc_info=True)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
