"""What the executor asks of a backend: submit a job, list the jobs it holds, stop one.

Every call is safe to repeat.  ``submit`` with a ``submission_id`` the backend already holds is a
no-op (Ray Jobs answers a duplicate id with HTTP 500, KubeRay with 409 Conflict; both mean "already
submitted"), ``stop`` of a finished or unknown job is a no-op, and ``observe`` lists every job the
backend holds that carries Allmende's metadata, so the executor can rebuild its view after a restart.
Calls are synchronous (the clients are); the executor runs them off its event loop.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=200)]


class JobSpec(BaseModel):
    """One attempt at running one allocation: what to run, with how many GPUs of which type, and when it must end."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    submission_id: Id
    allocation_id: Id
    request_id: Id
    round_id: Id
    org: Id
    cluster: Id
    gpu_type: Id
    gpus: Annotated[int, Field(ge=1)]
    entrypoint: Annotated[str, Field(min_length=1)]
    runtime_env: dict[str, Any] = {}
    start: AwareDatetime
    deadline: AwareDatetime

    def metadata(self) -> dict[str, str]:
        """The labels a backend stores with the job, so that ``observe`` can tell whose job it is."""
        return {
            "allmende.allocation": self.allocation_id,
            "allmende.request": self.request_id,
            "allmende.round": self.round_id,
            "allmende.org": self.org,
            "allmende.cluster": self.cluster,
        }


class JobPhase(StrEnum):
    """A backend job's phase, in the backend-neutral words the reconcile table uses."""

    PENDING = "pending"  # accepted, not yet running (waiting for resources or a start time)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"  # stopped on request (ours or someone else's)

    @property
    def terminal(self) -> bool:
        return self in (JobPhase.SUCCEEDED, JobPhase.FAILED, JobPhase.STOPPED)


class ObservedJob(BaseModel):
    """One job as the backend reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    submission_id: Id
    allocation_id: Id
    phase: JobPhase
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message: str = ""


class BackendError(Exception):
    """A call failed in a way a later attempt may not (network, server busy); the loop retries with backoff."""


class JobRefused(BackendError):
    """The backend will never run this job as asked (bad runtime_env, more GPUs than the cluster has)."""


class Backend(Protocol):
    kind: str

    def submit(self, job: JobSpec) -> None:
        """Start the job; a ``submission_id`` the backend already holds is not an error."""
        ...

    def observe(self) -> list[ObservedJob]:
        """Every job this backend holds with Allmende's metadata, finished ones included."""
        ...

    def stop(self, submission_id: str) -> None:
        """Stop the job if it still runs or waits; unknown or finished jobs are left as they are."""
        ...
