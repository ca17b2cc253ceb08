"""The Ray Jobs backend: an allocation's job submitted to a Ray cluster's Jobs API (the dashboard's HTTP address).

Ray enforces the allocated GPU count: a job reserves ``entrypoint_num_gpus=gpus``, so its entrypoint sees exactly
that many devices in ``CUDA_VISIBLE_DEVICES``, plus ``gpus`` of the custom resource ``cluster:<id>``.  Every Ray
cluster that serves an Allmende cluster must advertise that resource (``ray start --resources
'{"cluster:de-01": 64}'``, equal to its GPUs); then a job sent to the wrong Ray cluster is refused instead of
run, and one local head can stand in for several demo clusters.

A gang larger than the largest node (``gpus_per_node``, read from the cluster unless given) cannot be reserved
by the driver alone; it runs under :mod:`scheduler.execution.gang`, which reserves the gang as a placement
group before the user's command starts.  That launcher must be importable on the cluster: Allmende installed
in the cluster's image, or shipped in the job's ``runtime_env["py_modules"]``; ``python`` names its interpreter.

A job that can never get its GPUs would stay PENDING in Ray indefinitely (and ``stop_job`` does not reach a job
whose supervisor was never placed), so ``submit`` compares the job with the alive nodes' total resources first
and raises :class:`JobRefused`.  The totals are cached for ``capacity_ttl_s``; a job that does not fit the
cached totals is checked again against fresh ones before it is refused.  Jobs that pass and still wait (the
cluster shrank, other work holds the GPUs) are reported PENDING by ``observe`` for the reconcile loop's pending
timeout.

``ray`` is imported lazily (the optional extra ``allmende[ray]``).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scheduler.execution import gang
from scheduler.execution.backend import BackendError, JobPhase, JobRefused, JobSpec, ObservedJob

if TYPE_CHECKING:
    from ray.job_submission import JobDetails, JobSubmissionClient

ALLOCATION_KEY = "allmende.allocation"
HTTP_TIMEOUT_S = 10.0

PHASES = {  # Ray's JobStatus value -> our phase
    "PENDING": JobPhase.PENDING,
    "RUNNING": JobPhase.RUNNING,
    "SUCCEEDED": JobPhase.SUCCEEDED,
    "FAILED": JobPhase.FAILED,
    "STOPPED": JobPhase.STOPPED,
}

Nodes = Sequence[Mapping[str, float]]  # each alive node's total resources


def cluster_resource(cluster: str) -> str:
    return f"cluster:{cluster}"


def refusal(job: JobSpec, nodes: Nodes) -> str | None:
    """Why the Ray cluster with these nodes can never run ``job``, or None if it can."""
    resource = cluster_resource(job.cluster)
    ours = [n for n in nodes if n.get(resource, 0) > 0]
    has = min(sum(n.get("GPU", 0) for n in ours), sum(n[resource] for n in ours)) if ours else 0
    if has < job.gpus:
        return f"needs {job.gpus} GPUs of cluster {job.cluster}; the Ray cluster has {has:g}"
    return None


def largest_node(cluster: str, nodes: Nodes) -> int:
    """GPUs on the largest node that serves ``cluster`` (0 when none does)."""
    resource = cluster_resource(cluster)
    return int(max((min(n.get("GPU", 0), n[resource]) for n in nodes if n.get(resource, 0) > 0), default=0))


def observed(job: JobDetails) -> ObservedJob | None:
    """Our view of one Ray job, or None when it carries no Allmende metadata.

    Ray's ``start_time`` is when the job was accepted (it stays set while PENDING); times are ms since epoch.
    """
    allocation = (job.metadata or {}).get(ALLOCATION_KEY)
    if not allocation or not job.submission_id:
        return None
    return ObservedJob(submission_id=job.submission_id, allocation_id=allocation,
                       phase=PHASES[str(job.status.value)], started_at=_from_ms(job.start_time),
                       ended_at=_from_ms(job.end_time), message=job.message or "")


def _from_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


class RayJobsBackend:
    """Submits, lists and stops Allmende's jobs on one Ray cluster through its Jobs API at ``address``."""

    kind = "ray"

    def __init__(self, address: str, *, gpus_per_node: int | None = None, python: str = "python",
                 gang_timeout_s: float = 300.0, capacity_ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address.rstrip("/")
        self.gpus_per_node = gpus_per_node
        self.python = python
        self.gang_timeout_s = gang_timeout_s
        self.capacity_ttl_s = capacity_ttl_s
        self._clock = clock
        self._client: JobSubmissionClient | None = None
        self._nodes: tuple[float, Nodes] | None = None  # (fetched at, alive nodes' totals)

    def submit(self, job: JobSpec) -> None:
        nodes = self._capacity(job)
        per_node = self.gpus_per_node or largest_node(job.cluster, nodes)
        resource = cluster_resource(job.cluster)
        kwargs: dict[str, Any] = {}
        if job.gpus <= per_node:
            entrypoint = job.entrypoint
            kwargs.update(entrypoint_num_gpus=job.gpus, entrypoint_resources={resource: job.gpus})
        else:
            argv = gang.command(self.python, job.gpus, per_node, resource, self.gang_timeout_s, job.entrypoint)
            entrypoint = shlex.join(argv)
        client = self._connect()
        try:
            client.submit_job(entrypoint=entrypoint, submission_id=job.submission_id, runtime_env=job.runtime_env,
                              metadata=job.metadata(), **kwargs)
        except RuntimeError as e:
            text = str(e)
            if "already exists" in text:
                return  # a repeated submit: Ray holds this submission id
            if "status code 4" in text:
                raise JobRefused(f"Ray refused job {job.submission_id}: {_gist(text)}") from e
            raise BackendError(f"Ray Jobs at {self.address}: {_gist(text)}") from e
        except (TypeError, ValueError) as e:  # the client checks runtime_env before sending it
            raise JobRefused(f"Ray refused job {job.submission_id}: {e}") from e
        except OSError as e:
            raise BackendError(f"Ray Jobs at {self.address} unreachable: {e}") from e

    def observe(self) -> list[ObservedJob]:
        client = self._connect()
        try:
            jobs = client.list_jobs()
        except (RuntimeError, OSError) as e:
            raise BackendError(f"Ray Jobs at {self.address}: {_gist(str(e))}") from e
        return [o for o in map(observed, jobs) if o is not None]

    def stop(self, submission_id: str) -> None:
        client = self._connect()
        try:
            client.stop_job(submission_id)  # False for a finished job: nothing to do
        except RuntimeError as e:
            if "does not exist" not in str(e):
                raise BackendError(f"Ray Jobs at {self.address}: {_gist(str(e))}") from e
        except OSError as e:
            raise BackendError(f"Ray Jobs at {self.address} unreachable: {e}") from e

    def _connect(self) -> JobSubmissionClient:
        """The client, created on first use (its constructor calls the server to check the version)."""
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            try:
                self._client = JobSubmissionClient(self.address)
            except (RuntimeError, OSError) as e:
                raise BackendError(f"Ray Jobs at {self.address} unreachable: {e}") from e
        return self._client

    def _capacity(self, job: JobSpec) -> Nodes:
        """Alive nodes' totals that fit ``job``, re-read once before refusing it; JobRefused if it never fits."""
        cached = self._nodes
        if cached is not None and self._clock() - cached[0] < self.capacity_ttl_s and refusal(job, cached[1]) is None:
            return cached[1]
        nodes = self._fetch_nodes()
        self._nodes = (self._clock(), nodes)
        reason = refusal(job, nodes)
        if reason is not None:
            raise JobRefused(reason)
        return nodes

    def _fetch_nodes(self) -> Nodes:
        """Total resources of the cluster's alive nodes, from the dashboard's state API."""
        import requests

        try:
            r = requests.get(f"{self.address}/api/v0/nodes", params={"detail": "1", "limit": "10000"},
                             timeout=HTTP_TIMEOUT_S)
            r.raise_for_status()
            rows = r.json()["data"]["result"]["result"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BackendError(f"Ray cluster at {self.address}: cannot read its nodes: {e}") from e
        return [dict(row["resources_total"]) for row in rows if row.get("state") == "ALIVE"]


def _gist(text: str) -> str:
    """Ray puts a whole server traceback in its errors; the last line says what happened."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text
