"""Measured GPU power per type, from Prometheus: NVIDIA DCGM exporter or Kepler.

Accounting wants the mean board power of one *busy* GPU of each type, since idle GPUs are not
what an allocation runs on.  Two sources, each a pure function of the ``/api/v1/query`` JSON
answers (tested on recorded ones) plus :func:`query`, a thin urllib fetcher:

* DCGM: ``DCGM_FI_DEV_POWER_USAGE`` (watts, one series per GPU, labels ``modelName`` and
  ``gpu``/``UUID``/``Hostname``).  A GPU counts as busy when ``DCGM_FI_DEV_GPU_UTIL`` of the same
  GPU is at least ``busy_util_pct``; the model name maps to a type id through the same map as the
  node labels, spaces read as dashes (``NVIDIA H100 80GB HBM3`` = ``NVIDIA-H100-80GB-HBM3``).
* Kepler: the GPU energy its containers used, as a rate per node
  (``sum by (node_name) (rate(kepler_container_gpu_joules_total[5m]))``, watts), divided by the
  GPUs of that node, whose type comes from the node list (:func:`scheduler.agent.kube.node_gpus`).
  Kepler attributes the GPUs' energy to the containers running on them, so this is the mean power
  of a GPU on a node with work; nodes with no GPU energy at all are left out as idle.

A type with no busy GPU has no measurement and is absent: the service then estimates.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from scheduler.agent.errors import AgentError

DCGM_POWER = "DCGM_FI_DEV_POWER_USAGE"
DCGM_UTIL = "DCGM_FI_DEV_GPU_UTIL"
KEPLER_NODE_GPU_WATTS = "sum by (node_name) (rate(kepler_container_gpu_joules_total[5m]))"
BUSY_UTIL_PCT = 50.0


def samples(answer: Mapping[str, Any]) -> list[tuple[dict[str, str], float]]:
    """The (labels, value) pairs of an instant-vector answer; an :class:`AgentError` for anything else."""
    if answer.get("status") != "success":
        raise AgentError(f"Prometheus query failed: {answer.get('errorType', '?')}: {answer.get('error', '')}")
    data = answer.get("data", {})
    if data.get("resultType") != "vector":
        raise AgentError(f"expected an instant vector from Prometheus, got {data.get('resultType')!r}")
    out = []
    for item in data.get("result", []):
        value = float(item["value"][1])  # Prometheus sends numbers as strings, "NaN" and "+Inf" among them
        if math.isfinite(value):
            out.append((dict(item.get("metric", {})), value))
    return out


def product_key(name: str) -> str:
    """DCGM's ``modelName`` as GPU feature discovery spells the node label: spaces become dashes."""
    return "-".join(name.split())


def _gpu_id(labels: Mapping[str, str]) -> tuple[str, ...]:
    if labels.get("UUID"):
        return (labels["UUID"],)
    return (labels.get("Hostname") or labels.get("instance", ""), labels.get("gpu", ""))


def dcgm_watts(power: Mapping[str, Any], label_map: Mapping[str, str], util: Mapping[str, Any] | None = None,
               busy_util_pct: float = BUSY_UTIL_PCT) -> dict[str, float]:
    """GPU type id -> mean watts of its busy GPUs; without a utilisation answer every GPU counts as busy."""
    busy = None if util is None else {_gpu_id(labels) for labels, pct in samples(util) if pct >= busy_util_pct}
    watts: dict[str, list[float]] = {}
    for labels, w in samples(power):
        gpu_type = label_map.get(product_key(labels.get("modelName", "")))
        if gpu_type is None or (busy is not None and _gpu_id(labels) not in busy):
            continue
        watts.setdefault(gpu_type, []).append(w)
    return {g: sum(ws) / len(ws) for g, ws in sorted(watts.items())}


def kepler_watts(node_power: Mapping[str, Any], node_gpus: Mapping[str, tuple[str, int]],
                 node_label: str = "node_name") -> dict[str, float]:
    """GPU type id -> watts per GPU on the nodes with GPU energy, from a per-node rate in watts."""
    totals: dict[str, tuple[float, int]] = {}
    for labels, w in samples(node_power):
        node = node_gpus.get(labels.get(node_label, ""))
        if node is None or w <= 0:
            continue
        gpu_type, gpus = node
        total, count = totals.get(gpu_type, (0.0, 0))
        totals[gpu_type] = (total + w, count + gpus)
    return {g: total / count for g, (total, count) in sorted(totals.items())}


def query(base_url: str, promql: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """One instant query against ``base_url`` (``http://prometheus:9090``) through ``/api/v1/query``."""
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            answer: dict[str, Any] = json.load(response)
    except (OSError, ValueError) as exc:
        raise AgentError(f"Prometheus at {base_url}: {exc}") from None
    return answer
