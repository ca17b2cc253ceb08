"""A backend held in this process: real code that keeps the backend contract, for the loop's tests and simulations.

It keeps every job it was given, finished ones included, answers a repeated ``submit`` of a held
``submission_id`` by doing nothing, and ``stop`` of a finished or unknown job likewise.  Nothing
runs: whoever drives it plays the cluster's part with :meth:`start` and :meth:`finish`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from scheduler.execution.backend import JobPhase, JobSpec, ObservedJob


@dataclass
class _Job:
    spec: JobSpec
    phase: JobPhase = JobPhase.PENDING
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message: str = ""


class MemoryBackend:
    kind = "memory"

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    def submit(self, job: JobSpec) -> None:
        with self._lock:
            self._jobs.setdefault(job.submission_id, _Job(job))

    def observe(self) -> list[ObservedJob]:
        with self._lock:
            return [ObservedJob(submission_id=id, allocation_id=j.spec.allocation_id, phase=j.phase,
                                started_at=j.started_at, ended_at=j.ended_at, message=j.message)
                    for id, j in self._jobs.items()]

    def stop(self, submission_id: str) -> None:
        self._end(submission_id, JobPhase.STOPPED, "stopped on request", only_live=True)

    # -- the cluster's part ---------------------------------------------------------------------

    def jobs(self) -> dict[str, JobSpec]:
        """Every job submitted, by submission id."""
        with self._lock:
            return {id: j.spec for id, j in self._jobs.items()}

    def start(self, submission_id: str) -> None:
        """The job got its resources and runs."""
        with self._lock:
            job = self._jobs[submission_id]
            if job.phase != JobPhase.PENDING:
                raise ValueError(f"job {submission_id!r} is {job.phase}, not pending")
            job.phase, job.started_at = JobPhase.RUNNING, self._clock()

    def finish(self, submission_id: str, ok: bool = True, message: str = "") -> None:
        """The job's entrypoint exited (with status 0 when ``ok``)."""
        self._end(submission_id, JobPhase.SUCCEEDED if ok else JobPhase.FAILED, message, only_live=False)

    def _end(self, submission_id: str, phase: JobPhase, message: str, *, only_live: bool) -> None:
        with self._lock:
            job = self._jobs.get(submission_id)
            if job is None or job.phase.terminal:
                if only_live:
                    return
                raise ValueError(f"job {submission_id!r} is not live")
            job.phase, job.ended_at, job.message = phase, self._clock(), message
