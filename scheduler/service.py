"""The use cases of the allocation service, with no transport types: the API and the CLI both call these.

Every method takes the caller (:class:`~scheduler.access.Principal`) first, checks what
the caller may do with the record it touches, and writes through one unit of work of
the store, so a refusal or an error changes nothing.  Time comes from the injected
clock.

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

The transactions of the phases live in :mod:`scheduler.phases`; this module
sequences them and does the waiting.  Explanations (reason and counterfactual) are
computed on demand from the stored problem and the allocations that stand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from scheduler import ledger, phases, rounds
from scheduler.access import SYSTEM, Principal, execution_fields, require_cluster, require_merit_unset, require_org
from scheduler.domain import (
    AllocationRecord,
    AuditEntry,
    ClusterRecord,
    Inventory,
    RequestRecord,
    RequestSpec,
    RoundRecord,
    new_id,
)
from scheduler.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from scheduler.heartbeats import Heartbeats
from scheduler.pinning import Pinned, check_pins
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.states import AllocationState, ClusterState, RequestState, RoundState
from scheduler.store import (
    AllocationQuery,
    AuditQuery,
    ClusterQuery,
    Page,
    PageRequest,
    Reader,
    Repository,
    RequestQuery,
    RoundQuery,
    Transaction,
)
from solver.explain import counterfactual
from solver.params import SolveParams
from solver.plan import Counterfactual, Plan, Progress
from solver.problem import Horizon, Policy

T = TypeVar("T")
Clock = Callable[[], datetime]
log = logging.getLogger("allmende.service")

ACTIVE_ALLOCATION = frozenset({AllocationState.PROPOSED, AllocationState.PINNED})
STANDING = ACTIVE_ALLOCATION | ledger.STANDING
FLAGGABLE = STANDING - {AllocationState.STALE}
DESCRIPTION = ("operator", "country", "gpu_types", "gpus", "power_cap_kw", "pue")


PROGRESS_PERSIST_S = 1.0


def describe(progress: Progress) -> str:
    """The solver's report in one line: ``improve: 812 assigned, value 29,815 of at most 31,404 (gap 5.1 %)``."""
    text = f"{progress.phase}: {progress.assigned:,} assigned, value {progress.value:,.0f}"
    if progress.bound is not None and progress.bound > 0:
        gap = max(0.0, 1.0 - progress.value / progress.bound)
        text += f" of at most {progress.bound:,.0f} (gap {gap:.1%})"
    return text


def utc_now() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True)
class Explanation:
    round_id: str
    request_id: str
    assignment: AllocationRecord | None
    reason: str = ""
    detail: str = ""
    counterfactual: Counterfactual | None = None


@dataclass(frozen=True)
class Replay:
    round_id: str
    stored: Plan
    replayed: Plan
    differences: list[rounds.Difference]
    stored_ortools_version: str
    current_ortools_version: str


@dataclass(frozen=True)
class NewRound:
    horizon: Horizon
    objective: str
    policy: Policy
    params: SolveParams | None
    reason: str = ""


class Service:
    def __init__(
        self, store: Repository, settings: Settings, *, clock: Clock = utc_now, runner: SolverRunner | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.runner = runner or SolverRunner(settings.solver_executor)
        self.runs: dict[str, RoundRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.heartbeats = Heartbeats(store, clock, flush_s=settings.heartbeat_flush_s,
                                     persist_s=settings.heartbeat_persist_every_s,
                                     settle_s=settings.heartbeat_interval_s)

    # -- inventory --------------------------------------------------------------------------------

    async def register_cluster(self, who: Principal, record: ClusterRecord, reason: str = "") -> ClusterRecord:
        require_cluster(who, record.id, "register")
        described = (*DESCRIPTION, *execution_fields(who, record))
        now = self.clock()

        def tx(t: Transaction) -> ClusterRecord:
            try:
                stored = t.get_cluster(record.id)
            except NotFound:
                fresh = record.model_copy(update={"registered_at": now})
                return t.add_cluster(fresh, who.change("register", now, reason))
            update = {k: getattr(record, k) for k in described}
            if all(getattr(stored, k) == v for k, v in update.items()):
                return stored
            return t.update_cluster(stored.model_copy(update=update), who.change("describe", now, reason))

        return await self.store.write_async(tx)

    async def report(self, who: Principal, cluster_id: str, inventory: Inventory | None) -> None:
        """A heartbeat, with or without a new inventory; a stale cluster that reports becomes active again.

        A bare heartbeat is buffered (:mod:`scheduler.heartbeats`); an inventory is written at once.
        """
        require_cluster(who, cluster_id, "report for")
        if inventory is None:
            await self.heartbeats.beat(cluster_id)
            return
        now = self.clock()

        def tx(t: Transaction) -> ClusterRecord:
            _check_inventory(t.get_cluster(cluster_id), inventory)
            record = t.record_heartbeat(cluster_id, now, inventory)
            if record.state == ClusterState.STALE:
                record = t.update_cluster(record.model_copy(update={"state": ClusterState.ACTIVE}),
                                          SYSTEM.change("heartbeat_resumed", now))
            return record

        await self.store.write_async(tx)

    async def reported(self, who: Principal, cluster_id: str) -> ClusterRecord:
        """The cluster as its reports left it: buffered heartbeats are written first."""
        await self.heartbeats.flush(only=[cluster_id])
        return await self.get_cluster(who, cluster_id)

    async def list_clusters(self, who: Principal, state: ClusterState | None, page: PageRequest) -> Page[ClusterRecord]:
        query = ClusterQuery(states=None if state is None else frozenset({state}))
        return await self.store.read_async(lambda r: r.list_clusters(query, page))

    async def get_cluster(self, who: Principal, cluster_id: str) -> ClusterRecord:
        return await self.store.read_async(lambda r: r.get_cluster(cluster_id))

    async def sweep_stale(self) -> list[str]:
        """Clusters silent for N heartbeat intervals become stale; their standing allocations are flagged.

        Silent means neither the store nor the heartbeat buffer has seen the cluster since the cutoff.
        Nobody is judged in the first heartbeat interval after start (agents reconnect first).
        """
        if not self.heartbeats.settled():
            return []
        now = self.clock()
        cutoff = now - timedelta(seconds=self.settings.stale_after_s)
        seen = self.heartbeats.last_seen

        def tx(t: Transaction) -> list[str]:
            silent = phases.all_pages(lambda p: t.list_clusters(
                ClusterQuery(states=frozenset({ClusterState.ACTIVE}), heartbeat_before=cutoff), p))
            gone = [c for c in silent
                    if max(c.last_heartbeat or c.registered_at, seen(c.id) or c.registered_at) < cutoff]
            for c in gone:
                why = f"no heartbeat since {c.last_heartbeat or 'registration'}"
                t.update_cluster(c.model_copy(update={"state": ClusterState.STALE}), SYSTEM.change("stale", now, why))
                for a in phases.allocations(t, AllocationQuery(cluster=c.id, states=FLAGGABLE)):
                    if not a.flagged_stale:
                        t.update_allocation(a.model_copy(update={"flagged_stale": True}),
                                            SYSTEM.change("flag_stale", now, f"cluster {c.id} is stale"))
            return [c.id for c in gone]

        stale = await self.store.write_async(tx)
        if stale:
            self.heartbeats.stale.update(stale)
            log.warning("clusters went stale: %s", ", ".join(stale))
        return stale

    # -- requests ---------------------------------------------------------------------------------

    async def submit(self, who: Principal, spec: RequestSpec) -> RequestRecord:
        require_org(who, spec.org, "submit")
        require_merit_unset(who, spec, "submit")
        return await self.store.submit_request_async(spec, id=new_id("req"), by=who.change("submit", self.clock()))

    async def get_request(self, who: Principal, request_id: str) -> RequestRecord:
        record = await self.store.read_async(lambda r: r.get_request(request_id))
        require_org(who, record.org, "read")
        return record

    async def list_requests(self, who: Principal, query: RequestQuery, page: PageRequest) -> Page[RequestRecord]:
        if who.is_applicant:
            if query.org not in (None, who.org):
                raise PermissionDenied(f"an applicant of {who.org!r} may not list the requests of {query.org!r}")
            query = query.model_copy(update={"org": who.org})
        return await self.store.read_async(lambda r: r.list_requests(query, page))

    async def amend(self, who: Principal, request_id: str, spec: RequestSpec, reason: str) -> RequestRecord:
        now = self.clock()

        def tx(t: Transaction) -> RequestRecord:
            stored = t.get_request(request_id)
            require_org(who, stored.org, "amend")
            if spec.org != stored.org:
                raise InvalidInput("spec.org", f"a request cannot move from {stored.org!r} to {spec.org!r}")
            if stored.state != RequestState.SUBMITTED:
                raise PolicyViolation(f"request {request_id!r} is {stored.state}: it can be amended only until it "
                                      "enters a round")
            require_merit_unset(who, spec, "amend", stored.merit)
            keep = {"org", "idempotency_key"} | ({"merit"} if who.is_applicant else set())
            content = spec.model_dump(exclude=keep)
            return t.update_request(RequestRecord.model_validate({**stored.model_dump(), **content}),
                                    who.change("amend", now, reason))

        return await self.store.write_async(tx)

    async def withdraw(self, who: Principal, request_id: str, reason: str) -> RequestRecord:
        now = self.clock()

        def tx(t: Transaction) -> RequestRecord:
            stored = t.get_request(request_id)
            require_org(who, stored.org, "withdraw")
            return t.update_request(stored.model_copy(update={"state": RequestState.WITHDRAWN}),
                                    who.change("withdraw", now, reason))

        return await self.store.write_async(tx)

    # -- rounds -----------------------------------------------------------------------------------

    async def open_round(self, who: Principal, new: NewRound) -> RoundRecord:
        now = self.clock()
        params = new.params or SolveParams(
            time_limit_s=self.settings.default_time_limit_s, workers=1, seed=0, deterministic=True
        )
        record = RoundRecord(id=new_id("round"), horizon=new.horizon, policy=new.policy, objective=new.objective,
                             params=params, created_at=now, updated_at=now)
        return await self.store.write_async(lambda t: t.add_round(record, who.change("open", now, new.reason)))

    async def get_round(self, who: Principal, round_id: str) -> tuple[RoundRecord, list[AllocationRecord]]:
        def read(r: Reader) -> tuple[RoundRecord, list[AllocationRecord]]:
            return r.get_round(round_id), phases.allocations(r, AllocationQuery(round_id=round_id))

        return await self.store.read_async(read)

    async def list_rounds(self, who: Principal, state: RoundState | None, page: PageRequest) -> Page[RoundRecord]:
        query = RoundQuery(states=None if state is None else frozenset({state}))
        return await self.store.read_async(lambda r: r.list_rounds(query, page))

    async def run_round(self, who: Principal, round_id: str, reason: str = "") -> RoundRun:
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

    async def _solve_and_persist(
        self, run: RoundRun, record: RoundRecord, pins: Sequence[Pinned], previous: RoundRecord | None
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
            await self.store.write_async(lambda t: phases.persist(t, record.id, plan, pins, self.clock()))
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

    async def recover(self) -> list[str]:
        """On start: a round left ``solving`` by a dead server fails (or, mid re-solve, keeps its plan)."""
        return await self.store.write_async(lambda t: phases.recover(t, self.clock()))

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- plans, explanations, replays -------------------------------------------------------------

    async def explain(self, who: Principal, round_id: str, request_id: str) -> Explanation:
        record, allocations = await self.get_round(who, round_id)
        if record.problem is None or record.plan is None:
            raise PolicyViolation(f"round {round_id!r} has no plan yet ({record.state})")
        request = next((q for q in record.problem.requests if q.id == request_id), None)
        if request is None:
            raise NotFound("request in round", request_id)
        require_org(who, request.org, "see the explanation of")
        standing = [a for a in allocations if a.state in STANDING]
        mine = next((a for a in standing if a.request_id == request_id), None)
        if mine is not None:
            return Explanation(round_id, request_id, mine)
        rejection = next((r for r in record.plan.rejected if r.request == request_id), None)
        if rejection is None:
            return Explanation(round_id, request_id, None, ledger.REVIEW_REJECTED, "an operator rejected it in review")
        placed = rounds.placements([(a.request_id, a.cluster, a.gpu_type, a.start_slot) for a in standing])
        change = await asyncio.to_thread(counterfactual, record.problem, placed, request_id)
        return Explanation(round_id, request_id, None, rejection.reason, rejection.detail, change)

    async def replay(self, who: Principal, round_id: str) -> Replay:
        record, allocations = await self.get_round(who, round_id)
        if record.problem is None or record.plan is None:
            raise PolicyViolation(f"round {round_id!r} has no stored plan to replay ({record.state})")
        pins = [phases.pin_of(a) for a in allocations if a.pinned and a.state in STANDING]
        replayed = await self.runner.solve(record.problem, record.objective, record.params, pins)
        return Replay(round_id, record.plan, replayed, rounds.differences(record.plan, replayed),
                      record.ortools_version or "", phases.ORTOOLS_VERSION)

    # -- review -----------------------------------------------------------------------------------

    async def approve(self, who: Principal, round_id: str, request_ids: Sequence[str], reason: str) -> RoundRecord:
        return await self._review(who, round_id, request_ids, reason, AllocationState.APPROVED, RoundState.APPROVED)

    async def reject(self, who: Principal, round_id: str, request_ids: Sequence[str], reason: str) -> RoundRecord:
        return await self._review(who, round_id, request_ids, reason, AllocationState.REJECTED, RoundState.REJECTED)

    async def _review(self, who: Principal, round_id: str, request_ids: Sequence[str], reason: str,
                      to: AllocationState, round_to: RoundState) -> RoundRecord:
        now = self.clock()
        verb = "approve" if to == AllocationState.APPROVED else "reject"

        def tx(t: Transaction) -> RoundRecord:
            stored = t.get_round(round_id)
            by = who.change(verb, now, reason)
            active = {a.request_id: a for a in phases.all_pages(lambda p: t.list_allocations(
                AllocationQuery(round_id=round_id, states=ACTIVE_ALLOCATION), p))}
            if request_ids and stored.state != RoundState.PROPOSED:
                raise PolicyViolation(f"round {round_id!r} is {stored.state}: single allocations are reviewed "
                                      "only while it is proposed")
            for rid in request_ids or sorted(active):
                if rid not in active:
                    raise NotFound("allocation under review", f"{round_id}/{rid}")
                t.update_allocation(active[rid].model_copy(update={"state": to}), by)
            if request_ids:
                return stored
            record = t.update_round(stored.model_copy(update={"state": round_to}), by)
            if round_to == RoundState.REJECTED:
                back = SYSTEM.change("round_rejected", now, f"round {round_id} rejected: {reason}")
                for r in phases.in_round(t, round_id):
                    t.update_request(r.model_copy(update={"state": RequestState.SUBMITTED, "round_id": None}), back)
            return record

        return await self.store.write_async(tx)

    async def pin(self, who: Principal, pin: Pinned, round_id: str, reason: str) -> RoundRecord:
        """Force one assignment and re-solve the rest; waits for the re-solve and returns the round."""
        record, allocations = await self.get_round(who, round_id)
        if record.state != RoundState.PROPOSED or record.problem is None:
            raise PolicyViolation(f"round {round_id!r} is {record.state}: pins are set while it is proposed")
        held = [a for a in allocations if a.state == AllocationState.PINNED and a.request_id != pin.request]
        pins = [*map(phases.pin_of, held), pin]
        await asyncio.to_thread(check_pins, record.problem, pins)  # refuses a pin breaking a rule
        now = self.clock()

        def start(t: Transaction) -> RoundRecord:
            text = f"{pin.request} on {pin.cluster}/{pin.gpu_type} at slot {pin.start_slot}: {reason}"
            return t.update_round(record.model_copy(update={"state": RoundState.SOLVING}), who.change("pin", now, text))

        solving = await self.store.write_async(start)
        run = RoundRun(round_id)
        self.runs[round_id] = run
        await self._solve_and_persist(run, solving, pins, previous=record)
        if run.error is not None:
            raise PolicyViolation(f"the re-solve around the pin failed: {run.error}")
        return (await self.get_round(who, round_id))[0]

    async def publish(self, who: Principal, round_id: str, reason: str) -> RoundRecord:
        now = self.clock()

        def tx(t: Transaction) -> RoundRecord:
            stored = t.get_round(round_id)
            record = t.update_round(stored.model_copy(update={"state": RoundState.PUBLISHED}),
                                    who.change("publish", now, reason))
            granted = {a.request_id for a in phases.all_pages(lambda p: t.list_allocations(
                AllocationQuery(round_id=round_id, states=frozenset({AllocationState.APPROVED})), p))}
            by = SYSTEM.change("published", now, f"round {round_id}")
            for r in phases.in_round(t, round_id):
                state = RequestState.ALLOCATED if r.id in granted else RequestState.REJECTED
                t.update_request(r.model_copy(update={"state": state}), by)
            return record

        return await self.store.write_async(tx)

    async def audit(self, who: Principal, subject_id: str | None, page: PageRequest) -> Page[AuditEntry]:
        return await self.store.read_async(lambda r: r.list_audit(AuditQuery(subject=subject_id), page))

    # -- public ledger ----------------------------------------------------------------------------

    async def ledger_entries(self, page: PageRequest) -> tuple[list[ledger.LedgerEntry], str | None]:
        def read(r: Reader) -> tuple[list[ledger.LedgerEntry], str | None]:
            found = r.list_rounds(RoundQuery(states=frozenset({RoundState.PUBLISHED})), page)
            return [_entry(r, x) for x in found.items], found.next_cursor

        return await self.store.read_async(read)

    async def ledger_entry(self, round_id: str) -> ledger.LedgerEntry:
        def read(r: Reader) -> ledger.LedgerEntry:
            record = r.get_round(round_id)
            if record.state != RoundState.PUBLISHED:
                raise NotFound("published round", round_id)
            return _entry(r, record)

        return await self.store.read_async(read)

    async def close(self) -> None:
        await self.heartbeats.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.runner.close()


# -- helpers ----------------------------------------------------------------------------------------


def _check_inventory(cluster: ClusterRecord, inventory: Inventory) -> None:
    for g in sorted(set(inventory.gpus) - set(cluster.gpu_types)):
        raise InvalidInput(f"inventory.gpus[{g}]", f"cluster {cluster.id} registered no {g} GPUs")
    for i, w in enumerate(inventory.unavailable):
        if w.gpu_type not in cluster.gpu_types:
            raise InvalidInput(f"inventory.withdrawn[{i}].gpu_type", f"cluster {cluster.id} has no {w.gpu_type}")
    for g in sorted(set(inventory.gpu_power_w) - set(cluster.gpu_types)):
        raise InvalidInput(f"inventory.gpu_power_w[{g}]", f"cluster {cluster.id} registered no {g} GPUs")


def _entry(r: Reader, record: RoundRecord) -> ledger.LedgerEntry:
    allocations = phases.all_pages(lambda p: r.list_allocations(AllocationQuery(round_id=record.id), p))
    ids: Iterable[str] = [q.id for q in record.problem.requests] if record.problem else []
    return ledger.entry(record, allocations, {i: r.get_request(i) for i in ids})

