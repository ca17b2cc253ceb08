"""GPUs in service on a Kubernetes cluster, from its nodes.

A node counts when it is schedulable (not cordoned: ``spec.unschedulable`` unset) and Ready; its
GPUs are the allocatable ``nvidia.com/gpu``, and their type comes from the GPU feature discovery
label ``nvidia.com/gpu.product`` through a map to the service's GPU type ids
(``NVIDIA-H100-80GB-HBM3`` -> ``H100``).  Nodes are plain dicts in the API's JSON shape (what
``kubectl get nodes -o json`` prints), so the counting is a pure function tested on recorded lists;
:func:`read_nodes` is the thin reader, and imports the ``kubernetes`` client only when called.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from scheduler.agent.errors import AgentError

GPU_RESOURCE = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"

log = logging.getLogger(__name__)
Node = Mapping[str, Any]


def in_service(node: Node) -> bool:
    """Schedulable and Ready: a cordoned or unready node offers nothing to new work."""
    if node.get("spec", {}).get("unschedulable"):
        return False
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def node_gpus(nodes: Sequence[Node], label_map: Mapping[str, str],
              product_label: str = PRODUCT_LABEL) -> dict[str, tuple[str, int]]:
    """Node name -> (GPU type id, allocatable GPUs) for the nodes in service with mapped GPUs.

    A GPU node whose product is not in ``label_map`` is left out and logged: the service knows
    only the types the cluster registered, so guessing an id would get the report refused.
    """
    out: dict[str, tuple[str, int]] = {}
    for node in nodes:
        count = int(node.get("status", {}).get("allocatable", {}).get(GPU_RESOURCE, 0) or 0)
        if count <= 0 or not in_service(node):
            continue
        meta = node.get("metadata", {})
        product = (meta.get("labels") or {}).get(product_label, "")
        if product not in label_map:
            log.warning("node %s: GPU product %r is not in the label map; its %d GPU(s) are left out",
                        meta.get("name", "?"), product, count)
            continue
        out[meta.get("name", "")] = (label_map[product], count)
    return out


def inventory_from_nodes(nodes: Sequence[Node], label_map: Mapping[str, str],
                         product_label: str = PRODUCT_LABEL) -> dict[str, int]:
    """GPU type id -> GPUs in service now, summed over the nodes; a type with no node in service is absent (0)."""
    out: dict[str, int] = {}
    for gpu_type, count in node_gpus(nodes, label_map, product_label).values():
        out[gpu_type] = out.get(gpu_type, 0) + count
    return dict(sorted(out.items()))


def read_nodes(context: str | None = None) -> list[dict[str, Any]]:
    """Every node of the cluster, as JSON-shaped dicts: the kubeconfig ``context`` when named, else the
    pod's service account when running in one, else the current kubeconfig context."""
    import urllib3
    from kubernetes import client, config

    try:
        return _list_nodes(client, config, context)
    except (config.ConfigException, client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise AgentError(f"cannot list the Kubernetes nodes: {exc}") from None


def _list_nodes(client: Any, config: Any, context: str | None) -> list[dict[str, Any]]:
    if context:
        config.load_kube_config(context=context)
    else:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
    api = client.ApiClient()
    return [api.sanitize_for_serialization(n) for n in client.CoreV1Api(api).list_node().items]


def parse_label_map(pairs: list[str]) -> dict[str, str]:
    """``PRODUCT=TYPE`` pairs (``NVIDIA-H100-80GB-HBM3=H100``) as the product label -> GPU type id map."""
    out: dict[str, str] = {}
    for pair in pairs:
        product, sep, gpu_type = pair.partition("=")
        if not sep or not product.strip() or not gpu_type.strip():
            raise AgentError(f"expected PRODUCT=TYPE (NVIDIA-H100-80GB-HBM3=H100), got {pair!r}")
        out[product.strip()] = gpu_type.strip()
    return out
