"""The chart under test, rendered offline with the Helm library (helm-python-sdk): no cluster, no helm binary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "allmende"
PRODUCTION = Path(__file__).with_name("production.yaml")
SECRET_SETTINGS = frozenset({"database_url", "tls_cert_file", "tls_key_file", "client_ca_file"})


def values(path: Path = PRODUCTION) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def render(overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart renders with ``overrides`` (hooks included), as dicts."""
    import helm_python

    chart = helm_python.Chart.load(CHART)
    manifests = chart.render(overrides, name="allmende", namespace="allmende", is_upgrade=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [o for o in yaml.safe_load_all(text) if o]
    return objects
