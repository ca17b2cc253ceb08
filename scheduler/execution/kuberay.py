"""The KubeRay backend: each attempt is one ``ray.io/v1`` RayJob, created, listed and deleted through the API server.

The backend keeps no state of its own: names derive from submission ids, and ``observe`` reads the original
ids back from the annotations of every RayJob labelled ``allmende.eu/managed=true``.  Kubernetes answers map
onto the protocol's rules: 409 on create means already submitted, 404 on delete means already gone, 400 and
422 mean the API server will never take this RayJob, anything else may pass on a later try.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.domain import ExecutionTarget
from scheduler.execution.backend import BackendError, JobPhase, JobRefused, JobSpec, ObservedJob
from scheduler.execution.kuberay_manifest import (
    ALLOCATION_ANNOTATION,
    GROUP,
    MANAGED_LABEL,
    PLURAL,
    SUBMISSION_ANNOTATION,
    VERSION,
    KubeRayOptions,
    rayjob,
    rayjob_name,
)

_SELECTOR = f"{MANAGED_LABEL}=true"
_REFUSED = (400, 422)
_TERMINAL = {"SUCCEEDED": JobPhase.SUCCEEDED, "FAILED": JobPhase.FAILED, "STOPPED": JobPhase.STOPPED}
_FAILED_DEPLOYMENTS = ("Failed", "ValidationFailed")
_CALL_ERRORS = (ApiException, HTTPError, OSError)  # what a client call raises: an answer, or no connection


def phase_of(status: dict[str, Any], deleting: bool) -> JobPhase:
    """A RayJob's phase from ``status.jobStatus`` (the Ray job) and ``status.jobDeploymentStatus`` (KubeRay's).

    A deployment that failed (deadline passed, cluster never came up) fails the job whatever Ray last said;
    a terminal Ray status is final; a RayJob being deleted was stopped; running needs both to say so;
    everything else (initialising, suspended, waiting, retrying) is still pending.
    """
    job_status = status.get("jobStatus", "")
    deployment = status.get("jobDeploymentStatus", "")
    if deployment in _FAILED_DEPLOYMENTS:
        return JobPhase.FAILED
    if job_status in _TERMINAL:
        return _TERMINAL[job_status]
    if deleting:
        return JobPhase.STOPPED
    if deployment == "Complete":
        return JobPhase.FAILED  # KubeRay finished it without the Ray job reaching an end state
    if job_status == "RUNNING" and deployment == "Running":
        return JobPhase.RUNNING
    return JobPhase.PENDING


def observed(item: dict[str, Any]) -> ObservedJob | None:
    """One listed RayJob as the executor sees it; ``None`` for one without our annotations."""
    metadata = item.get("metadata", {})
    annotations = metadata.get("annotations") or {}
    submission_id = annotations.get(SUBMISSION_ANNOTATION)
    allocation_id = annotations.get(ALLOCATION_ANNOTATION)
    if not submission_id or not allocation_id:
        return None
    status = item.get("status") or {}
    message = " ".join(part for part in (status.get("reason", ""), status.get("message", "")) if part)
    return ObservedJob(
        submission_id=submission_id,
        allocation_id=allocation_id,
        phase=phase_of(status, deleting=bool(metadata.get("deletionTimestamp"))),
        started_at=_timestamp(status.get("startTime")),
        ended_at=_timestamp(status.get("endTime")),
        message=message,
    )


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class KubeRayBackend:
    """Runs jobs as RayJobs on the Kubernetes cluster of one kubeconfig context (or in-cluster config)."""

    kind = "kuberay"

    def __init__(
        self,
        target: ExecutionTarget,
        options: KubeRayOptions | None = None,
        *,
        api_client: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if target.kind != "kuberay":
            raise ValueError(f"KubeRayBackend needs a kuberay execution target, got {target.kind!r}")
        options = options or KubeRayOptions()
        self.options = options.model_copy(update={"namespace": target.namespace}) if target.namespace else options
        self._context = target.context
        self._api_client = api_client
        self._clock = clock
        self._api: Any = None

    def submit(self, job: JobSpec) -> None:
        now = self._clock()
        try:
            body = rayjob(job, self.options, now=now)
        except ValueError as e:
            raise JobRefused(str(e)) from e
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            self._custom_objects().create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        except _CALL_ERRORS as e:
            if not (isinstance(e, ApiException) and e.status == 409):
                raise _backend_error(e, f"create RayJob {namespace}/{name}") from e
            if self.options.suspend_until_start and not body["spec"]["suspend"]:
                self._resume(namespace, name)

    def observe(self) -> list[ObservedJob]:
        try:
            listing = self._list(label_selector=_SELECTOR)
        except _CALL_ERRORS as e:
            raise _backend_error(e, "list RayJobs") from e
        jobs = (observed(item) for item in listing.get("items", []))
        return [job for job in jobs if job is not None]

    def stop(self, submission_id: str) -> None:
        name = rayjob_name(submission_id)
        try:
            listing = self._list(label_selector=_SELECTOR, field_selector=f"metadata.name={name}")
            for item in listing.get("items", []):
                if (item["metadata"].get("annotations") or {}).get(SUBMISSION_ANNOTATION) == submission_id:
                    self._delete(item["metadata"]["namespace"], name)
        except _CALL_ERRORS as e:
            raise _backend_error(e, f"stop RayJob {name}") from e

    def _resume(self, namespace: str, name: str) -> None:
        """An attempt created suspended (``suspend_until_start``) is let go once its start slot has come."""
        api = self._custom_objects()
        try:
            current = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            if current.get("spec", {}).get("suspend"):
                resume = {"spec": {"suspend": False}}
                api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, resume)
        except _CALL_ERRORS as e:
            raise _backend_error(e, f"resume RayJob {namespace}/{name}") from e

    def _delete(self, namespace: str, name: str) -> None:
        try:
            self._custom_objects().delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, propagation_policy="Background"
            )
        except ApiException as e:
            if e.status != 404:
                raise

    def _list(self, **selectors: str) -> dict[str, Any]:
        api = self._custom_objects()
        if self.options.namespace:
            result: dict[str, Any] = api.list_namespaced_custom_object(
                GROUP, VERSION, self.options.namespace, PLURAL, **selectors
            )
        else:
            result = api.list_cluster_custom_object(GROUP, VERSION, PLURAL, **selectors)
        return result

    def _custom_objects(self) -> Any:
        """The API, built on first use: loading a kubeconfig needs files (and maybe a login) a test never has."""
        if self._api is None:
            self._api = client.CustomObjectsApi(self._api_client or self._connect())
        return self._api

    def _connect(self) -> Any:
        try:
            if not self._context and "KUBERNETES_SERVICE_HOST" in os.environ:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                return client.ApiClient(configuration)
            kubeconfig = os.environ.get("KUBECONFIG")  # read now: the client reads it once, on import
            return config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=self._context or None
            )
        except config.ConfigException as e:
            raise BackendError(f"kubeconfig context {self._context or '(current)'}: {e}") from e


def _backend_error(error: Exception, doing: str) -> BackendError:
    """The protocol's error for a failed call: refused for invalid objects, retryable for everything else."""
    if isinstance(error, ApiException):
        detail = f"{doing}: HTTP {error.status} {error.reason}: {_message(error.body)}"
        return JobRefused(detail) if error.status in _REFUSED else BackendError(detail)
    return BackendError(f"{doing}: {error}")


def _message(body: Any) -> str:
    """The ``message`` of the Kubernetes Status in an error body, else the body itself."""
    try:
        status = json.loads(body or "")
    except (TypeError, ValueError):
        return str(body or "")
    return str(status.get("message", body)) if isinstance(status, dict) else str(body)
