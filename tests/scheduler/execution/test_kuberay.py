"""The KubeRay backend against recorded API server answers.

The real ``kubernetes`` client runs (URL building, serialisation, ``ApiException`` from the status code);
only its urllib3 pool is replaced by one that replays JSON bodies recorded from an API server with
KubeRay v1.7 (``recorded/``) and keeps every request it was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from kubernetes import client
from urllib3.exceptions import MaxRetryError, NewConnectionError

from scheduler.domain import ExecutionTarget
from scheduler.execution.backend import BackendError, JobPhase, JobRefused, JobSpec
from scheduler.execution.kuberay import KubeRayBackend, phase_of
from scheduler.execution.kuberay_manifest import KubeRayOptions, rayjob

RECORDED = Path(__file__).parent / "recorded"
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
HOST = "https://k8s.test:6443"
RAYJOBS = "/apis/ray.io/v1/namespaces/allmende-eu-lab/rayjobs"
NAME = "alloc-7-1-361e914e"


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class RecordedPool:
    """Stands in for urllib3's PoolManager: answers each request with the next recorded (status, file)."""

    replies: list[tuple[int, str] | Exception]
    sent: list[Sent] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.HTTPResponse:
        parts = urlsplit(url)
        body = kwargs.get("body")
        self.sent.append(
            Sent(
                method, parts.path, parse_qs(parts.query), dict(kwargs.get("headers") or {}), body and json.loads(body)
            )
        )
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, name = reply
        return urllib3.HTTPResponse(
            body=(RECORDED / name).read_bytes(),
            status=status,
            headers={"Content-Type": "application/json"},
            reason={200: "OK", 201: "Created"}.get(status, "Error"),
            preload_content=False,
        )

    def clear(self) -> None:
        pass


def backend(
    replies: list[tuple[int, str] | Exception],
    options: KubeRayOptions | None = None,
    namespace: str = "",
    now: datetime = START,
) -> tuple[KubeRayBackend, RecordedPool]:
    api_client = client.ApiClient(client.Configuration(host=HOST))
    pool = RecordedPool(replies)
    api_client.rest_client.pool_manager = pool  # type: ignore[assignment]
    target = ExecutionTarget(kind="kuberay", context="lab", namespace=namespace)
    return KubeRayBackend(target, options, api_client=api_client, clock=lambda: now), pool


def job(**changes: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "submission_id": "alloc-7:1",
        "allocation_id": "alloc-7",
        "request_id": "req-7",
        "round_id": "round-1",
        "org": "eu-lab",
        "cluster": "jsc",
        "gpu_type": "H100",
        "gpus": 16,
        "entrypoint": "python train.py",
        "start": START,
        "deadline": START + timedelta(hours=2),
    }
    return JobSpec(**(fields | changes))


def test_submit_creates_the_rayjob() -> None:
    kuberay, pool = backend([(201, "create_201.json")])
    kuberay.submit(job())
    (create,) = pool.sent
    assert (create.method, create.path) == ("POST", RAYJOBS)
    assert create.body == rayjob(job(), kuberay.options, now=START)


@pytest.mark.parametrize(
    ("options", "now", "replies", "calls"),
    [
        pytest.param(
            KubeRayOptions(),
            START,
            [(409, "create_409_already_exists.json")],
            [("POST", RAYJOBS)],
            id="a job already submitted is left as it is",
        ),
        pytest.param(
            KubeRayOptions(suspend_until_start=True),
            START - timedelta(minutes=10),
            [(409, "create_409_already_exists.json")],
            [("POST", RAYJOBS)],
            id="before its start a suspended job stays suspended",
        ),
        pytest.param(
            KubeRayOptions(suspend_until_start=True),
            START,
            [(409, "create_409_already_exists.json"), (200, "get_suspended.json"), (200, "patch_resumed.json")],
            [("POST", RAYJOBS), ("GET", f"{RAYJOBS}/{NAME}"), ("PATCH", f"{RAYJOBS}/{NAME}")],
            id="at its start slot a job waiting suspended is resumed",
        ),
        pytest.param(
            KubeRayOptions(suspend_until_start=True),
            START,
            [(409, "create_409_already_exists.json"), (200, "patch_resumed.json")],
            [("POST", RAYJOBS), ("GET", f"{RAYJOBS}/{NAME}")],
            id="a job already resumed is not patched again",
        ),
    ],
)
def test_submitting_again_is_safe(
    options: KubeRayOptions, now: datetime, replies: list[tuple[int, str]], calls: list[tuple[str, str]]
) -> None:
    kuberay, pool = backend(list(replies), options, now=now)
    kuberay.submit(job())
    assert [(sent.method, sent.path) for sent in pool.sent] == calls
    patches = [sent for sent in pool.sent if sent.method == "PATCH"]
    for patch in patches:
        assert patch.headers["Content-Type"] == "application/merge-patch+json"
        assert patch.body == {"spec": {"suspend": False}}


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        pytest.param(
            (422, "create_422_invalid.json"), JobRefused, "workerGroupSpecs", id="an invalid RayJob is refused"
        ),
        pytest.param(
            (403, "create_403_forbidden.json"), BackendError, "cannot create resource", id="missing RBAC is retried"
        ),
        pytest.param((500, "create_403_forbidden.json"), BackendError, "HTTP 500", id="a server error is retried"),
        pytest.param(
            MaxRetryError(urllib3.PoolManager(), HOST, NewConnectionError(None, "Connection refused")),  # type: ignore[arg-type]
            BackendError,
            "Connection refused",
            id="an unreachable API server is retried",
        ),
    ],
)
def test_submit_errors(reply: tuple[int, str] | Exception, error: type[BackendError], message: str) -> None:
    kuberay, _ = backend([reply])
    with pytest.raises(error, match=message) as raised:
        kuberay.submit(job())
    assert (raised.type is JobRefused) is (error is JobRefused)


def test_a_job_whose_window_has_passed_is_refused_without_a_call() -> None:
    kuberay, pool = backend([], now=START + timedelta(hours=3))
    with pytest.raises(JobRefused, match="window ended"):
        kuberay.submit(job())
    assert pool.sent == []


def test_observe_lists_managed_rayjobs_across_namespaces() -> None:
    kuberay, pool = backend([(200, "list_managed.json")])
    jobs = {observed.submission_id: observed for observed in kuberay.observe()}
    (listing,) = pool.sent
    assert (listing.method, listing.path) == ("GET", "/apis/ray.io/v1/rayjobs")
    assert listing.query["labelSelector"] == ["allmende.eu/managed=true"]
    assert {key: (value.allocation_id, value.phase) for key, value in jobs.items()} == {
        "alloc-1:1": ("alloc-1", JobPhase.RUNNING),
        "alloc-2:1": ("alloc-2", JobPhase.SUCCEEDED),
        "alloc-3:1": ("alloc-3", JobPhase.FAILED),
        "alloc-4:1": ("alloc-4", JobPhase.PENDING),
        "alloc-5:2": ("alloc-5", JobPhase.PENDING),
        "alloc-6:1": ("alloc-6", JobPhase.STOPPED),
    }  # the hand-made RayJob without our annotations is not ours to report
    assert jobs["alloc-2:1"].started_at == datetime(2025, 6, 2, 6, 0, 4, tzinfo=UTC)
    assert jobs["alloc-2:1"].ended_at == datetime(2025, 6, 2, 7, 41, 19, tzinfo=UTC)
    assert jobs["alloc-3:1"].message.startswith("DeadlineExceeded The RayJob has passed the activeDeadlineSeconds")
    assert jobs["alloc-4:1"].started_at is None


def test_observe_stays_in_a_fixed_namespace() -> None:
    kuberay, pool = backend([(200, "list_empty.json")], namespace="ray-jobs")
    assert kuberay.observe() == []
    assert pool.sent[0].path == "/apis/ray.io/v1/namespaces/ray-jobs/rayjobs"


def test_observe_failure_is_retried() -> None:
    kuberay, _ = backend([(503, "create_403_forbidden.json")])
    with pytest.raises(BackendError, match="list RayJobs: HTTP 503"):
        kuberay.observe()


@pytest.mark.parametrize(
    ("replies", "calls"),
    [
        pytest.param(
            [(200, "list_one_by_name.json"), (200, "delete_200.json")],
            ["GET", "DELETE"],
            id="a waiting or running job is deleted",
        ),
        pytest.param(
            [(200, "list_one_by_name.json"), (404, "delete_404_not_found.json")],
            ["GET", "DELETE"],
            id="a job deleted meanwhile is no error",
        ),
        pytest.param([(200, "list_empty.json")], ["GET"], id="an unknown job is left alone"),
    ],
)
def test_stop_deletes_the_rayjob(replies: list[tuple[int, str]], calls: list[str]) -> None:
    kuberay, pool = backend(list(replies))
    kuberay.stop("alloc-7:1")
    assert [sent.method for sent in pool.sent] == calls
    assert pool.sent[0].query["fieldSelector"] == [f"metadata.name={NAME}"]
    assert pool.sent[0].query["labelSelector"] == ["allmende.eu/managed=true"]
    if "DELETE" in calls:
        assert pool.sent[1].path == f"{RAYJOBS}/{NAME}"
        assert pool.sent[1].query["propagationPolicy"] == ["Background"]


def test_stop_failure_is_retried() -> None:
    kuberay, _ = backend([(200, "list_one_by_name.json"), (403, "create_403_forbidden.json")])
    with pytest.raises(BackendError, match="HTTP 403"):
        kuberay.stop("alloc-7:1")


@pytest.mark.parametrize(
    ("status", "deleting", "phase"),
    [
        pytest.param({}, False, JobPhase.PENDING, id="just created, KubeRay has not looked yet"),
        pytest.param({"jobDeploymentStatus": "Initializing"}, False, JobPhase.PENDING, id="cluster coming up"),
        pytest.param({"jobDeploymentStatus": "Suspended"}, False, JobPhase.PENDING, id="suspended until start"),
        pytest.param({"jobDeploymentStatus": "Retrying"}, False, JobPhase.PENDING, id="retrying is not running"),
        pytest.param({"jobStatus": "RUNNING", "jobDeploymentStatus": "Running"}, False, JobPhase.RUNNING, id="run"),
        pytest.param(
            {"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete"}, False, JobPhase.SUCCEEDED, id="succeeded"
        ),
        pytest.param({"jobStatus": "FAILED", "jobDeploymentStatus": "Complete"}, False, JobPhase.FAILED, id="failed"),
        pytest.param({"jobStatus": "STOPPED", "jobDeploymentStatus": "Complete"}, False, JobPhase.STOPPED, id="stop"),
        pytest.param(
            {"jobStatus": "RUNNING", "jobDeploymentStatus": "Failed"}, False, JobPhase.FAILED, id="deadline exceeded"
        ),
        pytest.param({"jobDeploymentStatus": "ValidationFailed"}, False, JobPhase.FAILED, id="KubeRay refused spec"),
        pytest.param({"jobStatus": "RUNNING", "jobDeploymentStatus": "Running"}, True, JobPhase.STOPPED, id="deleted"),
        pytest.param(
            {"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete"}, True, JobPhase.SUCCEEDED, id="deleted after"
        ),
        pytest.param({"jobDeploymentStatus": "Complete"}, False, JobPhase.FAILED, id="complete without an end state"),
    ],
)
def test_phase_of(status: dict[str, str], deleting: bool, phase: JobPhase) -> None:
    assert phase_of(status, deleting) is phase


def test_only_kuberay_targets() -> None:
    with pytest.raises(ValueError, match="kuberay execution target"):
        KubeRayBackend(ExecutionTarget(kind="ray"))


def test_a_missing_kubeconfig_context_is_a_backend_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    kuberay = KubeRayBackend(ExecutionTarget(kind="kuberay", context="nowhere"))
    with pytest.raises(BackendError, match="nowhere"):
        kuberay.observe()
