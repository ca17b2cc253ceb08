"""Kubernetes nodes -> GPUs in service, on a recorded ``kubectl get nodes -o json``.

The recorded cluster: a control-plane node without GPUs; H100 nodes 01 and 02 in service, 03
cordoned and 04 unready (8 GPUs each); an A100 node with 4 GPUs and one whose device plugin has
not advertised any yet; an L40S node.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler.agent.errors import AgentError
from scheduler.agent.kube import in_service, inventory_from_nodes, node_gpus, parse_label_map

RECORDED = Path(__file__).with_name("recorded")
LABELS = {"NVIDIA-H100-80GB-HBM3": "H100", "NVIDIA-A100-SXM4-40GB": "A100"}


def nodes() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((RECORDED / "nodes.json").read_text())["items"]
    return items


def named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(n for n in items if n["metadata"]["name"] == name)


def uncordon(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    named(items, "gpu-h100-03")["spec"].pop("unschedulable")
    return items


def unready(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ready = next(c for c in named(items, "gpu-a100-01")["status"]["conditions"] if c["type"] == "Ready")
    ready["status"] = "False"
    return items


def relabel(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for n in items:
        labels = n["metadata"]["labels"]
        if "nvidia.com/gpu.product" in labels:
            labels["site.example/gpu"] = labels.pop("nvidia.com/gpu.product")
    return items


@pytest.mark.parametrize(("change", "label_map", "want"), [
    pytest.param(None, LABELS, {"A100": 4, "H100": 16},
                 id="cordoned, unready, CPU-only, GPU-less and unmapped nodes are left out"),
    pytest.param(None, {**LABELS, "NVIDIA-L40S": "L40S"}, {"A100": 4, "H100": 16, "L40S": 2},
                 id="mapping the L40S product brings its node in"),
    pytest.param(uncordon, LABELS, {"A100": 4, "H100": 24}, id="an uncordoned node counts again"),
    pytest.param(unready, LABELS, {"H100": 16}, id="a type whose only node turns unready drops out"),
    pytest.param(None, {}, {}, id="no label map, nothing to report"),
])
def test_gpus_in_service(change: Any, label_map: dict[str, str], want: dict[str, int]) -> None:
    items = nodes() if change is None else change(nodes())
    assert inventory_from_nodes(items, label_map) == want


def test_a_site_with_its_own_product_label() -> None:
    items = relabel(nodes())
    assert inventory_from_nodes(items, LABELS) == {}
    assert inventory_from_nodes(items, LABELS, product_label="site.example/gpu") == {"A100": 4, "H100": 16}


def test_node_gpus_names_each_node_in_service() -> None:
    assert node_gpus(nodes(), LABELS) == {
        "gpu-h100-01": ("H100", 8), "gpu-h100-02": ("H100", 8), "gpu-a100-01": ("A100", 4),
    }


def test_a_node_without_conditions_is_not_in_service() -> None:
    node = copy.deepcopy(named(nodes(), "gpu-h100-01"))
    del node["status"]["conditions"]
    assert not in_service(node)


@pytest.mark.parametrize(("pairs", "want"), [
    pytest.param(["NVIDIA-H100-80GB-HBM3=H100"], {"NVIDIA-H100-80GB-HBM3": "H100"}, id="one product"),
    pytest.param([" NVIDIA-L40S = L40S "], {"NVIDIA-L40S": "L40S"}, id="spaces around the parts"),
    pytest.param([], {}, id="none"),
])
def test_label_map_pairs(pairs: list[str], want: dict[str, str]) -> None:
    assert parse_label_map(pairs) == want


@pytest.mark.parametrize("pair", [
    pytest.param("NVIDIA-H100-80GB-HBM3", id="no type"),
    pytest.param("=H100", id="no product"),
    pytest.param("NVIDIA-H100-80GB-HBM3=", id="empty type"),
])
def test_a_bad_label_pair_is_refused(pair: str) -> None:
    with pytest.raises(AgentError, match="PRODUCT=TYPE"):
        parse_label_map([pair])
