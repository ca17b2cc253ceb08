"""One ``ray.io/v1`` RayJob per allocation attempt: a pure function of the job spec and the cluster's options.

The RayJob brings its own Ray cluster: a CPU head and worker pods whose ``nvidia.com/gpu`` limits add up to
the gang, each pod as large as a node (``gpus_per_node``), pinned to the allocated GPU type by a node label.
KubeRay ends the job at ``activeDeadlineSeconds`` (the allocated window), deletes the cluster once it finishes,
and, where configured, holds it suspended until its start slot or hands it to a Kueue queue.

Our ids allow uppercase and ``:/@+``, Kubernetes names do not, so names, namespaces and label values are
sanitised (with a short hash of the original where sanitising changed it, so two ids never meet) and the
original ids travel in ``allmende.eu/*`` annotations, which is what ``observe`` reads back.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

import yaml
from kubernetes import client
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scheduler.execution.backend import JobSpec

GROUP = "ray.io"
VERSION = "v1"
PLURAL = "rayjobs"
MANAGED_LABEL = "allmende.eu/managed"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
SUBMISSION_ANNOTATION = "allmende.eu/submission-id"
ALLOCATION_ANNOTATION = "allmende.eu/allocation-id"

# KubeRay derives the RayCluster's name (<= 53 chars, for the "-serve-svc" suffix) by appending 6 characters,
# so it refuses RayJob names over 47 characters that are not DNS-1035 labels (utils.MaxRayJobNameLength).
MAX_RAYJOB_NAME = 47
MAX_LABEL = 63

DEFAULT_GPU_PRODUCTS = {
    "H200": "NVIDIA-H200",
    "H100": "NVIDIA-H100-80GB-HBM3",
    "A100": "NVIDIA-A100-SXM4-80GB",
    "A100-40GB": "NVIDIA-A100-SXM4-40GB",
    "L40S": "NVIDIA-L40S",
    "L4": "NVIDIA-L4",
}

_RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_NOT_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")


class KubeRayOptions(BaseModel):
    """How one Kubernetes cluster runs RayJobs; every field maps to one setting, each default works on plain KubeRay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: Annotated[str, Field(max_length=MAX_LABEL)] = ""
    """A fixed namespace for every RayJob (ExecutionTarget.namespace); empty: one per organisation."""
    namespace_template: Annotated[str, Field(min_length=1, max_length=200)] = "allmende-{org}"
    image: Annotated[str, Field(min_length=1, max_length=500)] = "rayproject/ray:2.40.0-py311-gpu"
    gpus_per_node: Annotated[int, Field(ge=1, le=64)] = 8
    gpu_label: Annotated[str, Field(min_length=1, max_length=316)] = "nvidia.com/gpu.product"
    gpu_label_values: dict[str, str] = DEFAULT_GPU_PRODUCTS
    """GPU type id -> node label value; a type missing here is looked up under its own id."""
    ttl_seconds_after_finished: Annotated[int, Field(ge=0)] = 600
    queue_name: Annotated[str, Field(max_length=MAX_LABEL)] = ""
    """The Kueue LocalQueue to admit RayJobs through; empty: no Kueue."""
    suspend_until_start: bool = False
    head_cpu: Annotated[str, Field(min_length=1)] = "2"
    head_memory: Annotated[str, Field(min_length=1)] = "8Gi"

    @field_validator("namespace")
    @classmethod
    def _namespace_is_a_label(cls, value: str) -> str:
        if value and not _RFC1123_LABEL.match(value):
            raise ValueError(f"namespace {value!r} is not a DNS label (lowercase letters, digits, '-')")
        return value

    @field_validator("namespace_template")
    @classmethod
    def _template_names_only_org(cls, value: str) -> str:
        try:
            value.format(org="org")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"namespace_template {value!r} may only use {{org}}") from e
        return value

    @field_validator("queue_name")
    @classmethod
    def _queue_is_a_label_value(cls, value: str) -> str:
        if value and label_value(value) != value:
            raise ValueError(f"queue_name {value!r} is not a valid label value")
        return value


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _fit(text: str, cleaned: str, limit: int) -> str:
    """``cleaned`` if it is ``text`` unchanged and short enough, else its head plus a hash of ``text``."""
    if cleaned == text and 0 < len(cleaned) <= limit:
        return cleaned
    head = cleaned[: limit - 9].rstrip("-_.")
    return f"{head}-{_digest(text)}" if head else _digest(text)


def dns_label(text: str, limit: int = MAX_LABEL) -> str:
    """An RFC 1123 label (namespaces): lowercase alphanumerics and '-', alphanumeric at both ends."""
    return _fit(text, _NOT_NAME.sub("-", text.lower()).strip("-"), limit)


def rayjob_name(submission_id: str) -> str:
    """The RayJob's name: a DNS-1035 label (starts with a letter) of at most 47 characters, unique per id."""
    cleaned = _NOT_NAME.sub("-", submission_id.lower()).strip("-")
    if not cleaned[:1].isalpha():
        cleaned = f"j-{cleaned}".rstrip("-")
    name = _fit(submission_id, cleaned, MAX_RAYJOB_NAME)
    return name if name[:1].isalpha() else f"j{name}"[:MAX_RAYJOB_NAME]


def label_value(text: str) -> str:
    """A label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    return _fit(text, _NOT_LABEL_VALUE.sub("-", text).strip("-_."), MAX_LABEL)


def namespace_for(job: JobSpec, options: KubeRayOptions) -> str:
    """The fixed namespace where one is configured, else the organisation's from the template."""
    if options.namespace:
        return options.namespace
    return dns_label(options.namespace_template.format(org=dns_label(job.org)))


def worker_pods(gpus: int, gpus_per_node: int) -> list[tuple[int, int]]:
    """The gang as (GPUs per pod, pods): whole nodes first, then one pod for the remainder."""
    full, rest = divmod(gpus, gpus_per_node)
    return [(size, count) for size, count in ((gpus_per_node, full), (rest, 1 if rest else 0)) if count]


def active_deadline_seconds(job: JobSpec, now: datetime | None = None) -> int:
    """Seconds from the later of start and ``now`` to the deadline; KubeRay fails the job when they run out."""
    begin = max(job.start, now) if now is not None else job.start
    seconds = int((job.deadline - begin).total_seconds())
    if seconds <= 0:
        raise ValueError(f"job {job.submission_id}: its window ended at {job.deadline.isoformat()}")
    return seconds


def rayjob(job: JobSpec, options: KubeRayOptions, now: datetime | None = None) -> dict[str, Any]:
    """The RayJob for one attempt; ``now`` (the backend's clock) trims the deadline and decides suspension.

    Without ``now`` (rendering ahead of time) the window is taken whole and, where configured, the job is
    created suspended, to be resumed at its start slot.
    """
    seconds = active_deadline_seconds(job, now)
    suspend = options.suspend_until_start and (now is None or now < job.start)
    labels = _labels(job, options)
    pod_labels = {key: value for key, value in labels.items() if key != QUEUE_LABEL}  # Kueue admits the RayJob
    node_selector = {options.gpu_label: label_value(options.gpu_label_values.get(job.gpu_type, job.gpu_type))}
    head = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=pod_labels),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="ray-head",
                    image=options.image,
                    resources=client.V1ResourceRequirements(
                        requests={"cpu": options.head_cpu, "memory": options.head_memory},
                        limits={"cpu": options.head_cpu, "memory": options.head_memory},
                    ),
                )
            ]
        ),
    )
    workers = [
        {
            "groupName": f"gpus-{size}",
            "replicas": count,
            "minReplicas": count,
            "maxReplicas": count,
            "rayStartParams": {},
            "template": _worker_template(options.image, size, node_selector, pod_labels),
        }
        for size, count in worker_pods(job.gpus, options.gpus_per_node)
    ]
    spec: dict[str, Any] = {
        "entrypoint": job.entrypoint,
        "jobId": job.submission_id,
        "metadata": job.metadata(),
        "submissionMode": "K8sJobMode",
        "activeDeadlineSeconds": seconds,
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": options.ttl_seconds_after_finished,
        "suspend": suspend,
        "rayClusterSpec": {
            "headGroupSpec": {"rayStartParams": {}, "template": head},
            "workerGroupSpecs": workers,
        },
    }
    if job.runtime_env:
        spec["runtimeEnvYAML"] = yaml.safe_dump(job.runtime_env, sort_keys=True)
    metadata = client.V1ObjectMeta(
        name=rayjob_name(job.submission_id),
        namespace=namespace_for(job, options),
        labels=labels,
        annotations=_annotations(job),
    )
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RayJob", "metadata": metadata, "spec": spec}
    serialised: dict[str, Any] = client.ApiClient().sanitize_for_serialization(body)  # type: ignore[no-untyped-call]
    return serialised


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the entrypoint, ``runtimeEnvYAML``) as literal blocks a person can read."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def render(job: JobSpec, options: KubeRayOptions) -> str:
    """The RayJob as YAML, for ``allmende execution render`` (to review, or to apply by hand)."""
    return yaml.dump(rayjob(job, options), Dumper=_Dumper, sort_keys=False)


def _labels(job: JobSpec, options: KubeRayOptions) -> dict[str, str]:
    labels = {
        MANAGED_LABEL: "true",
        "app.kubernetes.io/managed-by": "allmende",
        "allmende.eu/submission": label_value(job.submission_id),
        "allmende.eu/allocation": label_value(job.allocation_id),
        "allmende.eu/request": label_value(job.request_id),
        "allmende.eu/round": label_value(job.round_id),
        "allmende.eu/org": label_value(job.org),
        "allmende.eu/cluster": label_value(job.cluster),
    }
    if options.queue_name:
        labels[QUEUE_LABEL] = options.queue_name
    return labels


def _annotations(job: JobSpec) -> dict[str, str]:
    return {
        SUBMISSION_ANNOTATION: job.submission_id,
        ALLOCATION_ANNOTATION: job.allocation_id,
        "allmende.eu/request-id": job.request_id,
        "allmende.eu/round-id": job.round_id,
        "allmende.eu/org": job.org,
        "allmende.eu/cluster-id": job.cluster,
        "allmende.eu/gpu-type": job.gpu_type,
        "allmende.eu/start": job.start.isoformat(),
        "allmende.eu/deadline": job.deadline.isoformat(),
    }


def _worker_template(image: str, gpus: int, node_selector: dict[str, str], labels: dict[str, str]) -> Any:
    gpu = {"nvidia.com/gpu": str(gpus)}
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="ray-worker", image=image, resources=client.V1ResourceRequirements(requests=gpu, limits=gpu)
                )
            ],
            node_selector=node_selector,
            tolerations=[client.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        ),
    )
