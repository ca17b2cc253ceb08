"""The Ray Jobs backend: its pure choices first, then the real thing against a local Ray head with the Jobs API.

The session's head has 4 logical GPUs and 8 of ``cluster:de-01`` and ``cluster:fr-01`` each, so it is too small
for an 8-GPU gang of de-01, and it does not serve a cluster ``xx-99`` at all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.execution.backend import BackendError, JobPhase, JobRefused, JobSpec, ObservedJob
from scheduler.execution.gang import NOT_PLACED_EXIT, PLACEMENT_GROUP_ENV, Gang, plan_gang
from scheduler.execution.ray_jobs import RayJobsBackend, largest_node, observed, refusal
from support.ports import free_port
from support.ray_head import RayHead

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HEAD = {"CPU": 2.0, "GPU": 4.0, "cluster:de-01": 8.0, "cluster:fr-01": 8.0}


def spec(**changes: Any) -> JobSpec:
    base: dict[str, Any] = dict(submission_id=f"alloc-{uuid.uuid4().hex[:12]}-1", allocation_id="alloc-7",
                                request_id="req-3", round_id="round-1", org="tu-delft", cluster="de-01",
                                gpu_type="H100", gpus=1, entrypoint="python -c pass", start=NOW,
                                deadline=NOW + timedelta(hours=1))
    return JobSpec(**(base | changes))


@pytest.mark.parametrize(("gpus", "per_node", "want"), [
    pytest.param(3, 4, Gang([{"GPU": 3, "cluster:de-01": 3}], "STRICT_PACK"), id="a gang that fits one node packs it"),
    pytest.param(8, 4, Gang([{"GPU": 4, "cluster:de-01": 4}] * 2, "PACK"), id="two full nodes"),
    pytest.param(10, 4, Gang([{"GPU": 4, "cluster:de-01": 4}] * 2 + [{"GPU": 2, "cluster:de-01": 2}], "PACK"),
                 id="full nodes first, then the remainder"),
])
def test_a_gang_is_reserved_node_by_node(gpus: int, per_node: int, want: Gang) -> None:
    assert plan_gang(gpus, per_node, "cluster:de-01") == want


def test_an_empty_gang_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one GPU"):
        plan_gang(0, 4, "cluster:de-01")


@pytest.mark.parametrize(("gpus", "cluster", "nodes", "want"), [
    pytest.param(4, "de-01", [HEAD], None, id="fits the head"),
    pytest.param(8, "de-01", [HEAD], "needs 8 GPUs of cluster de-01; the Ray cluster has 4",
                 id="more GPUs than the nodes hold"),
    pytest.param(8, "de-01", [HEAD, HEAD], None, id="a gang over two nodes"),
    pytest.param(3, "de-01", [{"GPU": 8.0, "cluster:de-01": 2.0}],
                 "needs 3 GPUs of cluster de-01; the Ray cluster has 2",
                 id="the cluster resource caps the GPUs"),
    pytest.param(1, "xx-99", [HEAD], "needs 1 GPUs of cluster xx-99; the Ray cluster has 0",
                 id="a cluster this Ray cluster does not serve"),
    pytest.param(1, "de-01", [], "needs 1 GPUs of cluster de-01; the Ray cluster has 0", id="no node alive"),
])
def test_a_job_that_can_never_run_is_refused_up_front(gpus: int, cluster: str, nodes: list[dict[str, float]],
                                                      want: str | None) -> None:
    assert refusal(spec(gpus=gpus, cluster=cluster), nodes) == want


def test_the_largest_node_counts_only_nodes_of_the_cluster() -> None:
    nodes = [HEAD, {"GPU": 8.0, "cluster:fr-01": 8.0}, {"GPU": 2.0, "cluster:de-01": 2.0}]
    assert (largest_node("de-01", nodes), largest_node("fr-01", nodes), largest_node("xx-99", nodes)) == (4, 8, 0)


def test_a_ray_job_maps_to_our_words_and_strangers_are_ignored() -> None:
    job_submission = pytest.importorskip("ray.job_submission")
    details = job_submission.JobDetails
    ours = details(type="SUBMISSION", submission_id="alloc-7-1", entrypoint="x", status="FAILED",
                   message="exit code 1", start_time=1_772_438_400_000, end_time=1_772_438_460_500,
                   metadata=spec().metadata())
    assert observed(ours) == ObservedJob(
        submission_id="alloc-7-1", allocation_id="alloc-7", phase=JobPhase.FAILED, message="exit code 1",
        started_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), ended_at=datetime(2026, 3, 2, 8, 1, 0, 500_000, tzinfo=UTC))
    stranger = details(type="SUBMISSION", submission_id="x", entrypoint="x", status="RUNNING", metadata={"a": "b"})
    assert observed(stranger) is None


@pytest.mark.parametrize("call", [
    pytest.param(lambda b: b.submit(spec()), id="submit"),
    pytest.param(lambda b: b.observe(), id="observe"),
    pytest.param(lambda b: b.stop("alloc-7-1"), id="stop"),
])
def test_an_unreachable_ray_cluster_is_a_backend_error_to_retry(call: Callable[[RayJobsBackend], object]) -> None:
    pytest.importorskip("ray.job_submission")
    backend = RayJobsBackend(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendError, match=r"127\.0\.0\.1") as caught:
        call(backend)
    assert not isinstance(caught.value, JobRefused)


# --- against a real head --------------------------------------------------------------------------------------

def on_a_real_head(test: Callable[..., None]) -> Callable[..., None]:
    """Marks for a test that uses the session's head; one xdist worker runs them all, so only one head starts."""
    marked: Callable[..., None] = pytest.mark.ray(pytest.mark.slow(pytest.mark.xdist_group("ray")(test)))
    return marked


def until(backend: RayJobsBackend, submission_id: str, phases: set[JobPhase], timeout: float = 90) -> ObservedJob:
    deadline = time.monotonic() + timeout
    while True:
        job = next((j for j in backend.observe() if j.submission_id == submission_id), None)
        if job is not None and job.phase in phases:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{submission_id} never reached {phases}; last seen {job}")
        time.sleep(0.3)


def logs(head: RayHead, submission_id: str) -> str:
    from ray.job_submission import JobSubmissionClient

    return str(JobSubmissionClient(head.dashboard_url).get_job_logs(submission_id))


@on_a_real_head
def test_a_job_runs_then_succeeds_with_its_times(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec(entrypoint="python -c 'import time; time.sleep(3)'")
    backend.submit(job)
    assert until(backend, job.submission_id, {JobPhase.RUNNING}).allocation_id == "alloc-7"
    done = until(backend, job.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED})
    assert done.phase is JobPhase.SUCCEEDED, done.message
    assert done.started_at is not None and done.ended_at is not None
    assert done.started_at.tzinfo is not None and done.ended_at - done.started_at >= timedelta(seconds=3)


@on_a_real_head
def test_the_same_submission_twice_is_one_job(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec()
    backend.submit(job)
    backend.submit(job)
    assert [j.submission_id for j in backend.observe()].count(job.submission_id) == 1
    assert until(backend, job.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED}).phase is JobPhase.SUCCEEDED


@on_a_real_head
def test_a_stopped_job_is_stopped_and_stopping_again_changes_nothing(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec(entrypoint="sleep 120")
    backend.submit(job)
    until(backend, job.submission_id, {JobPhase.RUNNING})
    backend.stop(job.submission_id)
    stopped = until(backend, job.submission_id, {JobPhase.STOPPED, JobPhase.SUCCEEDED, JobPhase.FAILED}, 30)
    assert stopped.phase is JobPhase.STOPPED
    backend.stop(job.submission_id)
    backend.stop("never-submitted")
    assert until(backend, job.submission_id, set(JobPhase)).phase is JobPhase.STOPPED


@on_a_real_head
def test_a_failing_job_fails_with_a_message(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec(entrypoint="python -c 'import sys; sys.exit(7)'")
    backend.submit(job)
    failed = until(backend, job.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED})
    assert failed.phase is JobPhase.FAILED and "exit code 7" in failed.message


@on_a_real_head
def test_the_metadata_travels_with_the_job(ray_head: RayHead) -> None:
    from ray.job_submission import JobSubmissionClient

    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec(allocation_id="alloc-meta", org="charité")
    backend.submit(job)
    info = JobSubmissionClient(ray_head.dashboard_url).get_job_info(job.submission_id)
    assert info.metadata is not None and job.metadata().items() <= info.metadata.items()
    assert until(backend, job.submission_id, set(JobPhase)).allocation_id == "alloc-meta"


@on_a_real_head
@pytest.mark.parametrize(("gpus", "cluster", "needs"), [
    pytest.param(8, "de-01", "needs 8 GPUs of cluster de-01; the Ray cluster has 4", id="a gang larger than the head"),
    pytest.param(1, "xx-99", "needs 1 GPUs of cluster xx-99; the Ray cluster has 0", id="a cluster the head lacks"),
])
def test_a_job_that_could_never_run_is_refused_not_left_pending(ray_head: RayHead, gpus: int,
                                                                  cluster: str, needs: str) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec(gpus=gpus, cluster=cluster)
    with pytest.raises(JobRefused, match=needs):
        backend.submit(job)
    assert job.submission_id not in {j.submission_id for j in backend.observe()}


@on_a_real_head
def test_the_job_sees_exactly_its_gpus(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    job = spec(gpus=2, entrypoint="python -c 'import os; print(\"visible=\" + os.environ[\"CUDA_VISIBLE_DEVICES\"])'")
    backend.submit(job)
    assert until(backend, job.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED}).phase is JobPhase.SUCCEEDED
    visible = next(line for line in logs(ray_head, job.submission_id).splitlines() if line.startswith("visible="))
    assert len(visible.removeprefix("visible=").split(",")) == 2


@on_a_real_head
def test_a_job_waiting_for_gpus_others_hold_is_reported_pending(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url)
    holder, waiter = spec(gpus=4, entrypoint="sleep 120"), spec(gpus=4)
    backend.submit(holder)
    until(backend, holder.submission_id, {JobPhase.RUNNING})
    try:
        backend.submit(waiter)
        time.sleep(2)
        assert until(backend, waiter.submission_id, set(JobPhase)).phase is JobPhase.PENDING
    finally:
        backend.stop(holder.submission_id)
    assert until(backend, waiter.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED}).phase is JobPhase.SUCCEEDED


@on_a_real_head
def test_a_gang_over_several_nodes_runs_inside_its_placement_group(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url, gpus_per_node=2, gang_timeout_s=60)
    job = spec(gpus=4, entrypoint=f"python -c 'import os; print(\"group=\" + os.environ[\"{PLACEMENT_GROUP_ENV}\"])'")
    backend.submit(job)
    done = until(backend, job.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED}, 120)
    out = logs(ray_head, job.submission_id)
    assert done.phase is JobPhase.SUCCEEDED, out
    assert "gang of 4 GPUs placed as 2 bundles (PACK)" in out
    group = next(line for line in out.splitlines() if line.startswith("group="))
    assert len(group.removeprefix("group=")) > 8


@on_a_real_head
def test_a_gang_not_placed_in_time_fails_instead_of_waiting(ray_head: RayHead) -> None:
    backend = RayJobsBackend(ray_head.dashboard_url, gpus_per_node=2, gang_timeout_s=3)
    holder, gang = spec(gpus=2, entrypoint="sleep 120"), spec(gpus=4, entrypoint="python -c pass")
    backend.submit(holder)
    until(backend, holder.submission_id, {JobPhase.RUNNING})
    try:
        backend.submit(gang)
        failed = until(backend, gang.submission_id, {JobPhase.SUCCEEDED, JobPhase.FAILED}, 120)
    finally:
        backend.stop(holder.submission_id)
    assert failed.phase is JobPhase.FAILED and f"exit code {NOT_PLACED_EXIT}" in failed.message
    assert "was not placed within 3 s" in logs(ray_head, gang.submission_id)
