"""An inventory described in a YAML file, for sites without Kubernetes (``allmende agent --static FILE``).

The file is read again on every beat, so an edit (a maintenance window, a fresh carbon forecast)
reaches the service with the next heartbeat.  Its fields are the domain's :class:`Inventory`,
with ``withdrawals`` for the withdrawn windows; times need a zone (``2025-03-04T02:00:00Z``).
``scheduler/examples/agent-static.yaml`` is a complete example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scheduler.agent.errors import AgentError
from scheduler.domain import Inventory

FIELDS = {"gpus", "withdrawals", "carbon", "gpu_power_w"}


def parse_static(data: Any, where: str = "static file") -> Inventory:
    """The inventory a parsed YAML document describes; an :class:`AgentError` naming the field if it is wrong."""
    if not isinstance(data, dict):
        raise AgentError(f"{where}: expected a mapping with {', '.join(sorted(FIELDS))}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise AgentError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; "
                         f"expected {', '.join(sorted(FIELDS))}")
    if "gpus" not in data:
        raise AgentError(f"{where}: gpus: is required (GPUs in service now, per GPU type)")
    fields = {"unavailable" if k == "withdrawals" else k: v for k, v in data.items()}
    try:
        inventory = Inventory.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        path = ".".join(str(p) for p in err["loc"]).replace("unavailable", "withdrawals")
        raise AgentError(f"{where}: {path}: {str(err['msg']).removeprefix('Value error, ')}") from None
    return inventory


def read_static(path: Path) -> Inventory:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AgentError(f"{path}: {exc}") from None
    return parse_static(data, str(path))
