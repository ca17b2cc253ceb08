"""The execution loop: each tick reads what should run, observes the backends, decides, persists, then acts.

One tick:

1. **Desired.**  From one store snapshot: the approved, submitted, running and stale allocations of
   *published* rounds, each with its wall-clock window and whether its cluster is stale or retired.
2. **Observed.**  Every backend lists the jobs it holds (off the event loop).  A backend that cannot
   be observed leaves its clusters' allocations out of this tick: absence of evidence is not a lost job.
3. **Decide.**  :func:`~scheduler.execution.reconcile.reconcile`, pure.
4. **Persist, then act.**  Each decision is written first (state, attempt, submission id, times,
   message; the store audits it with the row's reason, compare-and-set on the version read in step 1),
   and only then is the backend called.  Its answer is read back on the next tick.

After a crash the next executor needs nothing but the store and the backends: submission ids are
derived from allocation id and attempt, and a backend's ``submit`` of an id it holds is a no-op, so a
decision persisted but not acted on is simply acted on again, never twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from scheduler import accounting
from scheduler.access import SYSTEM
from scheduler.domain import AllocationRecord, ClusterRecord, Execution, RequestRecord, Usage
from scheduler.errors import Conflict
from scheduler.execution.backend import Backend, JobRefused, JobSpec, ObservedJob
from scheduler.execution.reconcile import EXECUTABLE, Action, Desired, Do, Orphan, Rules, Window, reconcile, window
from scheduler.states import AllocationState, ClusterState, RoundState
from scheduler.store import AllocationQuery, Reader, Repository, Transaction
from scheduler.store.pages import allocations

if TYPE_CHECKING:
    from scheduler.execution.kuberay_manifest import KubeRayOptions  # the kubernetes client is optional

log = logging.getLogger("allmende.executor")

Clock = Callable[[], datetime]
BackendFor = Callable[[ClusterRecord], Backend | None]
FINISHED = frozenset({AllocationState.SUCCEEDED, AllocationState.FAILED})
GONE = frozenset({ClusterState.STALE, ClusterState.RETIRED})
CONCURRENCY = 16  # backend calls in flight at once within one tick


@dataclass(frozen=True)
class _Snapshot:
    desired: list[Desired]
    clusters: dict[str, ClusterRecord]


class Executor:
    """Runs the approved allocations of published rounds on their clusters' backends.

    ``backend_for`` builds the backend of a cluster (``None``: the cluster is not executed here); it
    is called once per cluster and target, off the event loop (it may start a Ray head).  A job that
    ends gets its actual usage (:mod:`scheduler.accounting`), with ``utilisation`` the share of board
    power assumed where the cluster reports no measured power.
    """

    def __init__(self, store: Repository, backend_for: BackendFor, *, clock: Clock, rules: Rules | None = None,
                 seconds_per_slot: float | None = None, utilisation: float = 0.7) -> None:
        self.store = store
        self.clock = clock
        self.rules = rules or Rules()
        self.seconds_per_slot = seconds_per_slot
        self._backend_for = backend_for
        self.utilisation = utilisation
        self._backends: dict[tuple[str, str], Backend | None] = {}
        self._orphans: set[str] = set()

    async def run_forever(self, every_s: float, on_tick: Callable[[float], None] | None = None) -> None:
        """Tick every ``every_s``; ``on_tick`` hears the seconds each successful tick took (metrics)."""
        while True:
            started = time.perf_counter()
            try:
                await self.tick()
            except Exception:  # a failed tick is retried on the next one; it must not end the loop
                log.exception("execution tick failed")
            else:
                if on_tick is not None:
                    on_tick(time.perf_counter() - started)
            await asyncio.sleep(every_s)

    async def tick(self) -> list[Action]:
        """One pass: desired, observed, decide, persist then act.  Returns the actions taken (no waits)."""
        snap = await self.store.read_async(self._snapshot)
        built = await asyncio.gather(*(asyncio.to_thread(self._backend, r) for r in snap.clusters.values()))
        backends = {c: b for c, b in zip(snap.clusters, built, strict=True) if b is not None}
        observed, blind = await self._observe(backends)
        desired = [d for d in snap.desired if d.allocation.cluster in backends and d.allocation.cluster not in blind]
        now = self.clock()
        decided = reconcile(desired, observed, now, self.rules)
        for orphan in (o for o in decided if isinstance(o, Orphan)):
            if orphan.job.submission_id not in self._orphans:
                self._orphans.add(orphan.job.submission_id)
                log.warning("job %s (allocation %s) is %s on a backend but no allocation wants it; left alone",
                            orphan.job.submission_id, orphan.job.allocation_id, orphan.job.phase)
        actions = [a for a in decided if isinstance(a, Action) and a.do != Do.WAIT]
        windows = {d.allocation.id: d for d in desired}
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(action: Action) -> None:
            async with limit:
                cluster = snap.clusters[action.allocation.cluster]
                await self._apply(action, windows[action.allocation.id], backends[cluster.id], cluster)

        await asyncio.gather(*(one(a) for a in actions))
        return actions

    # -- 1. desired ---------------------------------------------------------------------------------

    def _snapshot(self, r: Reader) -> _Snapshot:
        rounds, clusters, desired = {}, {}, []
        for a in allocations(r, AllocationQuery(states=EXECUTABLE)):
            if a.state == AllocationState.STALE and (a.execution is None or not a.execution.submission_id):
                continue  # never reached a backend: nothing can come back
            if a.round_id not in rounds:
                rounds[a.round_id] = r.get_round(a.round_id)
            round = rounds[a.round_id]
            if round.state != RoundState.PUBLISHED:
                continue  # only a published round's allocations execute
            if a.cluster not in clusters:
                clusters[a.cluster] = r.get_cluster(a.cluster)
            # a published round is final, so its last update is the instant it was published
            span = window(round, a, self.seconds_per_slot, epoch=round.updated_at)
            desired.append(Desired(a, span, cluster_stale=clusters[a.cluster].state in GONE))
        return _Snapshot(desired, clusters)

    # -- 2. observed --------------------------------------------------------------------------------

    def _backend(self, cluster: ClusterRecord) -> Backend | None:
        key = (cluster.id, cluster.execution.model_dump_json() if cluster.execution else "")
        if key not in self._backends:
            self._backends[key] = self._backend_for(cluster)
        return self._backends[key]

    async def _observe(self, backends: dict[str, Backend]) -> tuple[dict[str, ObservedJob], set[str]]:
        """Jobs by submission id from every distinct backend, and the clusters whose backend did not answer."""
        distinct = {id(b): b for b in backends.values()}
        answers = await asyncio.gather(*(asyncio.to_thread(b.observe) for b in distinct.values()),
                                       return_exceptions=True)
        observed: dict[str, ObservedJob] = {}
        failed: set[int] = set()
        for key, answer in zip(distinct, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("backend %s could not be observed: %s", distinct[key].kind, answer)
                failed.add(key)
            else:
                observed.update((j.submission_id, j) for j in answer)
        return observed, {c for c, b in backends.items() if id(b) in failed}

    # -- 4. persist, then act -----------------------------------------------------------------------

    async def _apply(self, action: Action, item: Desired, backend: Backend, cluster: ClusterRecord) -> None:
        kind = cluster.execution.kind if cluster.execution is not None else "ray"
        now = self.clock()
        try:
            if action.do == Do.SUBMIT:
                record, spec = await self.store.write_async(lambda t: self._record_submit(t, action, item, kind, now))
                await self._submit(backend, record, spec, kind)
            elif action.do == Do.STOP:
                if action.to is not None or not _asked(action):  # a repeated stop is sent again, not audited again
                    await self.store.write_async(lambda t: _update(t, action.allocation, kind, now, "stop",
                                                                   action.reason, state=action.to,
                                                                   message=action.reason))
                await asyncio.to_thread(backend.stop, action.submission_id)
            elif action.do == Do.MARK:
                await self.store.write_async(lambda t: self._record_mark(t, action, item, cluster, kind, now))
        except Conflict:
            log.info("allocation %s changed underneath; decided again next tick", action.allocation.id)

    def _record_submit(self, t: Transaction, action: Action, item: Desired, kind: str,
                       now: datetime) -> tuple[AllocationRecord, JobSpec]:
        a = action.allocation
        request = t.get_request(a.request_id)
        reason = f"{action.reason} (attempt {action.attempt}, {action.submission_id})"
        record = _update(t, a, kind, now, "submit", reason, state=action.to, attempts=action.attempt,
                         submission_id=action.submission_id, submitted_at=now, next_attempt_at=None, message="")
        return record, job_spec(a, request, item.window, action.submission_id)

    async def _submit(self, backend: Backend, record: AllocationRecord, spec: JobSpec, kind: str) -> None:
        try:
            await asyncio.to_thread(backend.submit, spec)
        except JobRefused as e:
            why = f"the backend refused the job: {e}"
            now = self.clock()
            await self.store.write_async(lambda t: _update(t, record, kind, now, "refused", why,
                                                           state=AllocationState.FAILED, message=why))
        except Exception as e:  # BackendError, or a client error the backend did not wrap: both are retried
            now = self.clock()
            attempts = record.execution.attempts if record.execution is not None else 1
            why = f"submit failed: {type(e).__name__}: {e}"
            retry = now + self.rules.backoff(attempts)
            await self.store.write_async(lambda t: _update(t, record, kind, now, "submit_failed", why, message=why,
                                                           next_attempt_at=retry))

    def _usage(self, t: Transaction, action: Action, item: Desired, cluster: ClusterRecord,
               now: datetime) -> Usage | None:
        """What a finished run used, its times mapped onto the round's horizon; none for a job that never ran."""
        job = action.job
        if action.to not in FINISHED or job is None or job.started_at is None:
            return None
        gpus = t.get_request(action.allocation.request_id).gpus
        start, end = item.window.to_round(job.started_at), item.window.to_round(job.ended_at or now)
        return accounting.usage(cluster, action.allocation.gpu_type, gpus, start, end, utilisation=self.utilisation)

    def _record_mark(self, t: Transaction, action: Action, item: Desired, cluster: ClusterRecord, kind: str,
                     now: datetime) -> AllocationRecord:
        usage = self._usage(t, action, item, cluster, now)
        fields: dict[str, object] = {"replan": action.replan}
        job = action.job
        if job is not None:
            note = action.reason if action.to == AllocationState.FAILED else job.message  # a failure says why
            fields |= {"submission_id": job.submission_id, "job_status": str(job.phase), "message": note}
            if job.started_at is not None:
                fields["started_at"] = job.started_at
            if job.ended_at is not None:
                fields["ended_at"] = job.ended_at
        return _update(t, action.allocation, kind, now, "execution", action.reason, state=action.to, usage=usage,
                       **fields)


def _asked(action: Action) -> bool:
    """Whether this stop, for this reason, is on record already (the job has not ended since it was asked)."""
    ex = action.allocation.execution
    return ex is not None and ex.submission_id == action.submission_id and ex.message == action.reason


def job_spec(a: AllocationRecord, request: RequestRecord, span: Window, submission_id: str) -> JobSpec:
    """The job one attempt at an allocation submits: the request's entrypoint, its gang, and the window's bounds."""
    return JobSpec(submission_id=submission_id, allocation_id=a.id, request_id=a.request_id, round_id=a.round_id,
                   org=request.org, cluster=a.cluster, gpu_type=a.gpu_type, gpus=request.gpus,
                   entrypoint=request.entrypoint, runtime_env=request.runtime_env, start=span.start, deadline=span.end)


def _update(t: Transaction, a: AllocationRecord, kind: str, now: datetime, verb: str, reason: str, *,
            state: AllocationState | None = None, usage: Usage | None = None, **execution: object) -> AllocationRecord:
    """Write the allocation with new Execution fields (and state), audited with ``reason``; compare-and-set."""
    current = a.execution or Execution(backend="kuberay" if kind == "kuberay" else "ray")
    update: dict[str, object] = {"execution": current.model_copy(update=execution)}
    if state is not None:
        update["state"] = state
    if usage is not None:
        update["usage"] = usage
    record = AllocationRecord.model_validate({**a.model_dump(), **update})
    return t.update_allocation(record, SYSTEM.change(verb, now, reason))


def backend_for(local_dashboard_url: Callable[[], str], kuberay: KubeRayOptions | None = None) -> BackendFor:
    """The backend of each cluster: Ray Jobs at its address (none given: the local head), or KubeRay.

    ``local_dashboard_url`` is called only for a cluster without an address of its own, so a local
    head is started when the first such cluster has work, not before.
    """

    def build(cluster: ClusterRecord) -> Backend:
        target = cluster.execution
        if target is not None and target.kind == "kuberay":
            from scheduler.execution.kuberay import KubeRayBackend  # lazily: the kubernetes client is optional

            return KubeRayBackend(target, kuberay)
        from scheduler.execution.ray_jobs import RayJobsBackend  # lazily: Ray is optional

        address = target.address if target is not None and target.address else local_dashboard_url()
        return RayJobsBackend(address)

    return build
