"""A clusters file (``allmende cluster register --file``), read and validated whole before anything is sent.

The file is shaped like ``scheduler/examples/clusters.yaml``: ``clusters: [...]``, each with ``id``, ``operator``,
``country``, ``gpu_types`` (board power and memory per type), ``gpus`` (count per type), ``power_cap_kw``, ``pue``
and ``execution`` (``kind``, ``address``, ``context``, ``namespace``).  Each cluster is checked twice: its shape
here, then with the server's own conversion (:func:`scheduler.api.inbound.register_cluster`), so a file the
server would refuse halfway is refused before its first cluster is registered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.cli.exitcodes import EXIT_BAD_INPUT
from scheduler.cli.remote import CliError

KINDS = {"ray": inv.EXECUTION_KIND_RAY, "kuberay": inv.EXECUTION_KIND_KUBERAY}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GpuTypeEntry(_Entry):
    tdp_watts: float
    memory_gb: float = 0.0


class ExecutionEntry(_Entry):
    kind: Literal["ray", "kuberay"]
    address: str = ""
    context: str = ""
    namespace: str = ""


class ClusterEntry(_Entry):
    id: str
    country: str
    operator: str = ""
    gpu_types: dict[str, GpuTypeEntry]
    gpus: dict[str, Annotated[int, Field(ge=0)]]
    power_cap_kw: float | None = None
    pue: float = 1.0
    execution: ExecutionEntry | None = None


def target(kind: str, address: str = "", context: str = "", namespace: str = "") -> inv.ExecutionTarget:
    return inv.ExecutionTarget(kind=KINDS[kind], address=address, context=context, namespace=namespace)


def message(c: ClusterEntry) -> inv.RegisterClusterRequest:
    unknown = sorted(set(c.gpus) - set(c.gpu_types))
    if unknown:
        raise ValueError(f"gpus: no entry in gpu_types (board power) for {', '.join(unknown)}")
    pools = [inv.GpuPool(gpu_type=t, count=c.gpus.get(t, 0), tdp_watts=g.tdp_watts, memory_gb=g.memory_gb)
             for t, g in c.gpu_types.items()]
    msg = inv.RegisterClusterRequest(cluster_id=c.id, operator=c.operator, country=c.country, gpus=pools, pue=c.pue)
    if c.power_cap_kw is not None:
        msg.power_cap_kw = c.power_cap_kw
    if c.execution is not None:
        msg.execution.CopyFrom(target(**c.execution.model_dump()))
    return msg


def load(path: str) -> list[inv.RegisterClusterRequest]:
    """Every cluster of the file as a registration, or a :class:`CliError` naming the cluster and the field."""
    from scheduler.api import inbound
    from scheduler.errors import DomainError

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"{path}: {exc}", EXIT_BAD_INPUT) from None
    items = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise CliError(f"{path}: expected 'clusters: [...]' with at least one cluster", EXIT_BAD_INPUT)
    out, seen = [], set()
    now = datetime.now(UTC)
    for i, item in enumerate(items):
        name = f"clusters[{i}]" + (f" ({item['id']})" if isinstance(item, dict) and "id" in item else "")
        try:
            msg = message(ClusterEntry.model_validate(item))
            inbound.register_cluster(msg, now)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "cluster"
            raise CliError(f"{path}: {name}: {where}: {first['msg']}", EXIT_BAD_INPUT) from None
        except (ValueError, DomainError) as exc:
            raise CliError(f"{path}: {name}: {exc}", EXIT_BAD_INPUT) from None
        if msg.cluster_id in seen:
            raise CliError(f"{path}: {name}: id {msg.cluster_id!r} is listed twice", EXIT_BAD_INPUT)
        seen.add(msg.cluster_id)
        out.append(msg)
    return out


