"""RayJob manifests: each one the tests build validates against KubeRay v1.7's CRD schema, strictly.

The CRD's ``openAPIV3Schema`` is read from ``../shared/kuberay`` and closed (``additionalProperties: false``
wherever the schema lists properties), as a strict API server's field validation would: a misspelt field
fails here instead of being pruned silently there.  Pod templates are also checked against the Kubernetes
1.37 PodTemplate schema by ``kubernetes-validate``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from scheduler.execution.backend import JobSpec
from scheduler.execution.kuberay_manifest import (
    MAX_RAYJOB_NAME,
    KubeRayOptions,
    label_value,
    rayjob,
    rayjob_name,
    render,
)

CRD = Path(__file__).resolve().parents[3] / ".." / "shared" / "kuberay" / "ray.io_rayjobs.yaml"
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def job(**changes: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "submission_id": "alloc-7:1",
        "allocation_id": "alloc-7",
        "request_id": "req-7",
        "round_id": "round-2025-06-02",
        "org": "eu-lab",
        "cluster": "jsc",
        "gpu_type": "H100",
        "gpus": 8,
        "entrypoint": "python train.py",
        "start": START,
        "deadline": START + timedelta(hours=2),
    }
    return JobSpec(**(fields | changes))


def _closed(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        listed = "properties" in schema and "additionalProperties" not in schema
        if listed and not schema.get("x-kubernetes-preserve-unknown-fields"):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(value) for value in schema]
    return schema


@cache
def _validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(CRD.read_text())
    (v1,) = (version for version in crd["spec"]["versions"] if version["name"] == "v1")
    return jsonschema.Draft7Validator(_closed(v1["schema"]["openAPIV3Schema"]))


def assert_valid(manifest: dict[str, Any]) -> None:
    """The RayJob passes the CRD schema, KubeRay's own name rule, and every pod template passes Kubernetes'."""
    if not CRD.exists():
        pytest.skip(f"KubeRay CRDs not found at {CRD}")
    errors = sorted(_validator().iter_errors(manifest), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{list(error.absolute_path)}: {error.message}" for error in errors)
    metadata = manifest["metadata"]
    assert DNS_1035.match(metadata["name"]) and len(metadata["name"]) <= MAX_RAYJOB_NAME
    assert DNS_1123.match(metadata["namespace"]) and len(metadata["namespace"]) <= 63
    assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in metadata["labels"].values())
    cluster = manifest["spec"]["rayClusterSpec"]
    templates = [cluster["headGroupSpec"]["template"]] + [group["template"] for group in cluster["workerGroupSpecs"]]
    for template in templates:
        pod_template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
        kubernetes_validate.validate(pod_template, "1.37.0", strict=True)


def worker_gpus(manifest: dict[str, Any]) -> list[tuple[int, int]]:
    """(GPUs per pod, pods) for every worker group."""
    return [
        (int(group["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]), group["replicas"])
        for group in manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    ]


@pytest.mark.parametrize(
    ("gang", "per_node", "pods"),
    [
        pytest.param(16, 8, [(8, 2)], id="gang of 16 on 8-GPU nodes is two whole nodes"),
        pytest.param(4, 8, [(4, 1)], id="gang of 4 fits one pod of 4"),
        pytest.param(12, 8, [(8, 1), (4, 1)], id="gang of 12 is a whole node and a pod for the rest"),
        pytest.param(8, 4, [(4, 2)], id="smaller nodes split the gang into more pods"),
        pytest.param(1, 8, [(1, 1)], id="a single GPU is one pod"),
    ],
)
def test_worker_pods_add_up_to_the_gang(gang: int, per_node: int, pods: list[tuple[int, int]]) -> None:
    manifest = rayjob(job(gpus=gang), KubeRayOptions(gpus_per_node=per_node))
    assert_valid(manifest)
    assert worker_gpus(manifest) == pods
    assert sum(size * count for size, count in worker_gpus(manifest)) == gang
    for group in manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        assert group["minReplicas"] == group["replicas"] == group["maxReplicas"]


def test_ids_are_sanitised_and_kept_in_annotations() -> None:
    ids = {
        "submission_id": "Alloc:42/Attempt@1+retry",
        "allocation_id": "Alloc:42",
        "request_id": "Req/UPPER@x",
        "round_id": "2025-06-02T08:00+00:00",
        "org": "Uni Leipzig/Physik",
        "cluster": "JSC:Booster",
    }
    manifest = rayjob(job(**ids), KubeRayOptions())
    assert_valid(manifest)
    annotations = manifest["metadata"]["annotations"]
    assert annotations["allmende.eu/submission-id"] == ids["submission_id"]
    assert annotations["allmende.eu/allocation-id"] == ids["allocation_id"]
    assert annotations["allmende.eu/request-id"] == ids["request_id"]
    assert annotations["allmende.eu/round-id"] == ids["round_id"]
    assert annotations["allmende.eu/org"] == ids["org"]
    assert annotations["allmende.eu/cluster-id"] == ids["cluster"]
    assert manifest["metadata"]["name"].startswith("alloc-42-attempt-1-retry-")
    assert manifest["metadata"]["namespace"].startswith("allmende-uni-leipzig-physik-")
    assert manifest["spec"]["jobId"] == ids["submission_id"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("Alloc:1", "alloc-1", id="case and punctuation do not merge two ids"),
        pytest.param("a" * 60 + "x", "a" * 60 + "y", id="ids differing past the length limit stay apart"),
        pytest.param("7:1", "7-1", id="ids starting with a digit stay apart"),
    ],
)
def test_sanitised_names_never_meet(first: str, second: str) -> None:
    assert rayjob_name(first) != rayjob_name(second)
    assert label_value(first) != label_value(second)
    for name in (rayjob_name(first), rayjob_name(second)):
        assert DNS_1035.match(name) and len(name) <= MAX_RAYJOB_NAME
    assert_valid(rayjob(job(submission_id=first), KubeRayOptions()))


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param("alloc-7", True, id="a clean id is its own label value"),
        pytest.param("Round_2025.06", True, id="uppercase, dots and underscores are allowed in label values"),
        pytest.param("alloc:7", False, id="a colon is replaced and the value hashed"),
        pytest.param("x" * 64, False, id="a value over 63 characters is cut and hashed"),
        pytest.param("-edge-", False, id="values must start and end alphanumeric"),
    ],
)
def test_label_values(value: str, kept: bool) -> None:
    sanitised = label_value(value)
    assert (sanitised == value) is kept
    assert LABEL_VALUE.match(sanitised) and len(sanitised) <= 63


@pytest.mark.parametrize(
    ("options", "namespace"),
    [
        pytest.param(KubeRayOptions(), "allmende-eu-lab", id="one namespace per organisation by default"),
        pytest.param(KubeRayOptions(namespace="ray-jobs"), "ray-jobs", id="a fixed namespace from the target"),
        pytest.param(KubeRayOptions(namespace_template="{org}-gpu"), "eu-lab-gpu", id="a custom template"),
    ],
)
def test_namespace(options: KubeRayOptions, namespace: str) -> None:
    manifest = rayjob(job(), options)
    assert_valid(manifest)
    assert manifest["metadata"]["namespace"] == namespace


@pytest.mark.parametrize(
    ("options", "queue"),
    [
        pytest.param(KubeRayOptions(), None, id="no kueue label unless a queue is configured"),
        pytest.param(KubeRayOptions(queue_name="gpu-queue"), "gpu-queue", id="kueue queue label when configured"),
    ],
)
def test_kueue_label_only_when_configured(options: KubeRayOptions, queue: str | None) -> None:
    manifest = rayjob(job(), options)
    assert_valid(manifest)
    assert manifest["metadata"]["labels"].get("kueue.x-k8s.io/queue-name") == queue
    cluster = manifest["spec"]["rayClusterSpec"]
    assert "kueue.x-k8s.io/queue-name" not in cluster["headGroupSpec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize(
    ("suspend_until_start", "now", "suspended"),
    [
        pytest.param(False, None, False, id="not suspended unless configured"),
        pytest.param(True, None, True, id="rendered ahead of time it waits suspended"),
        pytest.param(True, START - timedelta(minutes=5), True, id="submitted before its start slot it waits"),
        pytest.param(True, START, False, id="submitted at its start slot it runs"),
        pytest.param(
            False, START - timedelta(minutes=5), False, id="early submission runs at once when not configured"
        ),
    ],
)
def test_suspend_only_when_configured(suspend_until_start: bool, now: datetime | None, suspended: bool) -> None:
    manifest = rayjob(job(), KubeRayOptions(suspend_until_start=suspend_until_start), now=now)
    assert_valid(manifest)
    assert manifest["spec"]["suspend"] is suspended
    assert manifest["spec"]["shutdownAfterJobFinishes"] is True  # KubeRay refuses suspending one that it keeps


@pytest.mark.parametrize(
    ("window", "now", "seconds"),
    [
        pytest.param(timedelta(hours=2), None, 7200, id="the whole window when rendered"),
        pytest.param(timedelta(minutes=90), START, 5400, id="the whole window when submitted on time"),
        pytest.param(timedelta(hours=2), START + timedelta(minutes=30), 5400, id="a late submission gets what is left"),
        pytest.param(timedelta(hours=2), START - timedelta(hours=1), 7200, id="an early one still counts from start"),
    ],
)
def test_deadline_seconds(window: timedelta, now: datetime | None, seconds: int) -> None:
    manifest = rayjob(job(deadline=START + window), KubeRayOptions(), now=now)
    assert_valid(manifest)
    assert manifest["spec"]["activeDeadlineSeconds"] == seconds


@pytest.mark.parametrize(
    ("deadline", "now"),
    [
        pytest.param(START, None, id="an empty window"),
        pytest.param(START + timedelta(hours=1), START + timedelta(hours=1), id="a window that has just ended"),
    ],
)
def test_a_window_without_time_is_refused(deadline: datetime, now: datetime | None) -> None:
    with pytest.raises(ValueError, match="window ended"):
        rayjob(job(deadline=deadline), KubeRayOptions(), now=now)


@pytest.mark.parametrize(
    ("gpu_type", "options", "label", "value"),
    [
        pytest.param("H100", KubeRayOptions(), "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3", id="known type"),
        pytest.param(
            "MI300X", KubeRayOptions(), "nvidia.com/gpu.product", "MI300X", id="unknown type falls back to its id"
        ),
        pytest.param(
            "H100",
            KubeRayOptions(gpu_label="cloud.example/accelerator", gpu_label_values={"H100": "h100-80"}),
            "cloud.example/accelerator",
            "h100-80",
            id="a custom label and value map",
        ),
        pytest.param(
            "GH200 480GB",
            KubeRayOptions(),
            "nvidia.com/gpu.product",
            r"GH200-480GB-[0-9a-f]{8}",
            id="a fallback id that is no label value is sanitised",
        ),
    ],
)
def test_gpu_type_node_selector(gpu_type: str, options: KubeRayOptions, label: str, value: str) -> None:
    manifest = rayjob(job(gpu_type=gpu_type, gpus=16), options)
    assert_valid(manifest)
    for group in manifest["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        (selected,) = group["template"]["spec"]["nodeSelector"].items()
        assert selected[0] == label
        assert re.fullmatch(value, selected[1])


def test_job_fields_reach_the_rayjob() -> None:
    env = {"pip": ["torch==2.5.1"], "env_vars": {"WANDB_MODE": "offline"}}
    options = KubeRayOptions(image="registry.example/ray:2.41.0-gpu", ttl_seconds_after_finished=120)
    manifest = rayjob(job(runtime_env=env), options)
    assert_valid(manifest)
    spec = manifest["spec"]
    assert spec["entrypoint"] == "python train.py"
    assert spec["submissionMode"] == "K8sJobMode"
    assert spec["ttlSecondsAfterFinished"] == 120
    assert yaml.safe_load(spec["runtimeEnvYAML"]) == env
    assert spec["metadata"] == job().metadata()
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] == "registry.example/ray:2.41.0-gpu"
    assert "nvidia.com/gpu" not in head["resources"]["limits"]
    assert manifest["metadata"]["labels"]["allmende.eu/managed"] == "true"


def test_render_is_the_manifest_as_yaml() -> None:
    text = render(job(runtime_env={"pip": ["numpy"]}), KubeRayOptions())
    assert yaml.safe_load(text) == rayjob(job(runtime_env={"pip": ["numpy"]}), KubeRayOptions())
    assert "runtimeEnvYAML: |" in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"namespace": "Ray_Jobs"}, "not a DNS label", id="a fixed namespace must be a DNS label"),
        pytest.param({"namespace_template": "ns-{cluster}"}, "may only use", id="template names only org"),
        pytest.param({"queue_name": "queue:a"}, "not a valid label value", id="queue must be a label value"),
        pytest.param({"gpus_per_node": 0}, "greater than or equal to 1", id="nodes have at least one GPU"),
    ],
)
def test_bad_options_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KubeRayOptions(**changes)
