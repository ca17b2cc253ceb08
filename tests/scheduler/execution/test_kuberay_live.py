"""The KubeRay backend against a real cluster: runs only where ``KUBECONFIG`` points at one with KubeRay installed.

``ALLMENDE_K8S_NAMESPACE`` names an existing namespace to use (default ``default``), ``ALLMENDE_K8S_GPU_TYPE``
the GPU type to ask for (default ``H100``); the RayJob need not start, the test deletes it either way.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain import ExecutionTarget
from scheduler.execution.backend import JobSpec
from scheduler.execution.kuberay import KubeRayBackend
from scheduler.execution.kuberay_manifest import KubeRayOptions

pytestmark = [
    pytest.mark.k8s,
    pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs KUBECONFIG pointing at a cluster with KubeRay"),
]


def test_create_observe_delete() -> None:
    namespace = os.environ.get("ALLMENDE_K8S_NAMESPACE", "default")
    kuberay = KubeRayBackend(ExecutionTarget(kind="kuberay", namespace=namespace), KubeRayOptions(gpus_per_node=1))
    now = datetime.now(UTC)
    submission_id = f"live-test:{uuid.uuid4().hex[:8]}"
    job = JobSpec(
        submission_id=submission_id,
        allocation_id="live-test",
        request_id="live-test",
        round_id="live-test",
        org="live-test",
        cluster="live-test",
        gpu_type=os.environ.get("ALLMENDE_K8S_GPU_TYPE", "H100"),
        gpus=1,
        entrypoint="python -c 'print(42)'",
        start=now,
        deadline=now + timedelta(minutes=10),
    )
    kuberay.submit(job)
    try:
        kuberay.submit(job)  # a second submit of the same attempt is a no-op
        (seen,) = [observed for observed in kuberay.observe() if observed.submission_id == submission_id]
        assert seen.allocation_id == "live-test"
    finally:
        kuberay.stop(submission_id)
    kuberay.stop(submission_id)  # and so is a second stop
    for _ in range(30):
        remaining = [observed for observed in kuberay.observe() if observed.submission_id == submission_id]
        if not remaining or remaining[0].phase.terminal:
            return
        time.sleep(1)
    pytest.fail(f"RayJob for {submission_id} was neither deleted nor stopped within 30 s")
