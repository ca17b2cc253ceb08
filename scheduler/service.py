"""The service: the use cases the API and the CLI call, with no transport types.

Every method takes the caller (:class:`~scheduler.access.Principal`) first and hands one
transaction of :mod:`scheduler.usecases` (or :mod:`scheduler.phases`) to the store with
the instant it took from the injected clock.  The transactions check what the caller may
do with the record they touch before they write, so a refusal or an error changes
nothing.  Each area has its own module: clusters, requests, rounds (the phases of a
solve and its live view), explanations (and replays), review (verdicts, pins,
publication) and ledger (the public record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from scheduler import ledger
from scheduler.access import Principal, require_cluster, require_merit_unset, require_org
from scheduler.domain import (
    AllocationRecord,
    AuditEntry,
    ClusterRecord,
    Inventory,
    RequestRecord,
    RequestSpec,
    RoundRecord,
    TokenRecord,
    new_id,
)
from scheduler.execution.reconcile import window
from scheduler.heartbeats import Heartbeats
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.states import AllocationState, ClusterState, RequestState, RoundState
from scheduler.store import AuditQuery, ClusterQuery, Page, PageRequest, Repository, RoundQuery
from scheduler.store.cursors import is_cursor
from scheduler.usecases import clusters, executions, explanations, requests, review, rounds
from scheduler.usecases import ledger as public
from scheduler.usecases.executions import ExecutionRow
from scheduler.usecases.explanations import Explanation, Replay
from scheduler.usecases.rounds import NewRound, RoundRun, describe
from solver.problem import Pin

Clock = Callable[[], datetime]
log = logging.getLogger("allmende.service")

__all__ = ["Clock", "ExecutionRow", "Explanation", "NewRound", "Replay", "RoundRun", "Service", "describe",
           "known_cursor", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def known_cursor(token: str) -> bool:
    """Whether a page token could be one this service handed out (the edge refuses others before any read)."""
    return is_cursor(token)


class Service:
    def __init__(
        self, store: Repository, settings: Settings, *, clock: Clock = utc_now, runner: SolverRunner | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.runner = runner or SolverRunner(settings.solver_executor)
        self.solves = rounds.Solves(store, self.runner, clock)
        self.heartbeats = Heartbeats(store, clock, flush_s=settings.heartbeat_flush_s,
                                     persist_s=settings.heartbeat_persist_every_s,
                                     settle_s=settings.heartbeat_interval_s)

    async def authenticate(self, bearer: str) -> TokenRecord:
        """The live token for a bearer string, or ``Unauthenticated``."""
        return await self.store.read_async(lambda r: r.authenticate(bearer))

    # -- clusters ---------------------------------------------------------------------------------

    async def register_cluster(self, who: Principal, record: ClusterRecord, reason: str = "") -> ClusterRecord:
        now = self.clock()
        return await self.store.write_async(lambda t: clusters.register(t, who, record, reason, now))

    async def report(self, who: Principal, cluster_id: str, inventory: Inventory | None) -> None:
        """A heartbeat, with or without a new inventory; a stale cluster that reports becomes active again.

        A bare heartbeat is buffered (:mod:`scheduler.heartbeats`); an inventory is written at once.
        """
        require_cluster(who, cluster_id, "report for")
        if inventory is None:
            await self.heartbeats.beat(cluster_id)
            return
        now = self.clock()
        await self.store.write_async(lambda t: clusters.report_inventory(t, cluster_id, inventory, now))

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

        Nobody is judged in the first heartbeat interval after start (agents reconnect first).
        """
        if not self.heartbeats.settled():
            return []
        now = self.clock()
        cutoff = now - timedelta(seconds=self.settings.stale_after_s)
        stale = await self.store.write_async(lambda t: clusters.mark_stale(t, cutoff, self.heartbeats.last_seen, now))
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
        requests.require_visible(who, record)
        return record

    async def list_requests(self, who: Principal, page: PageRequest, *, org: str | None = None,
                            state: RequestState | None = None, category: str | None = None,
                            round_id: str | None = None) -> Page[RequestRecord]:
        """Requests by organisation, state, category and round; an applicant sees its own organisation's only."""
        query = requests.query(who, org=org, state=state, category=category, round_id=round_id)
        return await self.store.read_async(lambda r: r.list_requests(query, page))

    async def amend(self, who: Principal, request_id: str, spec: RequestSpec, reason: str) -> RequestRecord:
        now = self.clock()
        return await self.store.write_async(lambda t: requests.amend(t, who, request_id, spec, reason, now))

    async def withdraw(self, who: Principal, request_id: str, reason: str) -> RequestRecord:
        now = self.clock()
        return await self.store.write_async(lambda t: requests.withdraw(t, who, request_id, reason, now))

    # -- rounds -----------------------------------------------------------------------------------

    async def open_round(self, who: Principal, new: NewRound) -> RoundRecord:
        now, limit_s = self.clock(), self.settings.default_time_limit_s
        return await self.store.write_async(lambda t: rounds.open_round(t, who, new, limit_s, now))

    async def get_round(self, who: Principal, round_id: str) -> tuple[RoundRecord, list[AllocationRecord]]:
        return await self.store.read_async(lambda r: rounds.read_round(r, round_id))

    def round_run(self, round_id: str) -> RoundRun | None:
        """The live view of the round's latest solve in this process, if it ran here."""
        return self.solves.live(round_id)

    async def list_rounds(self, who: Principal, state: RoundState | None, page: PageRequest) -> Page[RoundRecord]:
        query = RoundQuery(states=None if state is None else frozenset({state}))
        return await self.store.read_async(lambda r: r.list_rounds(query, page))

    async def run_round(self, who: Principal, round_id: str, reason: str = "") -> RoundRun:
        """Phase 1 now (its errors reach the caller), phases 2-3 in the background; returns the live run."""
        return await self.solves.run(who, round_id, reason)

    async def recover(self) -> list[str]:
        """On start: a round left ``solving`` by a dead server fails (or, mid re-solve, keeps its plan)."""
        return await self.solves.recover()

    async def explain(self, who: Principal, round_id: str, request_id: str) -> Explanation:
        record, held = await self.get_round(who, round_id)
        return await explanations.explain(who, record, held, request_id)

    async def replay(self, who: Principal, round_id: str) -> Replay:
        record, held = await self.get_round(who, round_id)
        return await explanations.replay(self.runner, record, held)

    # -- review -----------------------------------------------------------------------------------

    async def approve(self, who: Principal, round_id: str, request_ids: Sequence[str], reason: str) -> RoundRecord:
        return await self._review(who, round_id, request_ids, AllocationState.APPROVED, reason)

    async def reject(self, who: Principal, round_id: str, request_ids: Sequence[str], reason: str) -> RoundRecord:
        return await self._review(who, round_id, request_ids, AllocationState.REJECTED, reason)

    async def _review(self, who: Principal, round_id: str, request_ids: Sequence[str], verdict: AllocationState,
                      reason: str) -> RoundRecord:
        now = self.clock()
        return await self.store.write_async(
            lambda t: review.review(t, who, round_id, request_ids, verdict, reason, now))

    async def pin(self, who: Principal, pin: Pin, round_id: str, reason: str) -> RoundRecord:
        """Force one assignment and re-solve the rest; waits for the re-solve and returns the round."""
        return await self.solves.pin(who, pin, round_id, reason)

    async def publish(self, who: Principal, round_id: str, reason: str) -> RoundRecord:
        now = self.clock()
        return await self.store.write_async(lambda t: review.publish(t, who, round_id, reason, now))

    async def audit(self, who: Principal, subject_id: str | None, page: PageRequest) -> Page[AuditEntry]:
        return await self.store.read_async(lambda r: r.list_audit(AuditQuery(subject=subject_id), page))

    # -- public ledger ----------------------------------------------------------------------------

    async def ledger_entries(self, page: PageRequest) -> tuple[list[ledger.LedgerEntry], str | None]:
        return await self.store.read_async(lambda r: public.entries(r, page))

    async def ledger_entry(self, round_id: str) -> ledger.LedgerEntry:
        return await self.store.read_async(lambda r: public.published(r, round_id))

    # -- execution --------------------------------------------------------------------------------

    async def list_executions(self, who: Principal, round_id: str | None, page: PageRequest) -> Page[ExecutionRow]:
        """Approved allocations of published rounds and what became of them; an applicant sees its own org's."""
        per_slot = self.settings.execution_seconds_per_slot

        def span(record: RoundRecord, a: AllocationRecord) -> tuple[datetime, datetime]:
            # a published round is final, so its last update is the instant it was published, as the executor reads it
            w = window(record, a, per_slot, epoch=record.updated_at)
            return w.start, w.end

        return await self.store.read_async(lambda r: executions.listing(r, who, round_id, page, span))

    async def close(self) -> None:
        await self.heartbeats.close()
        await self.solves.close()
        self.runner.close()
