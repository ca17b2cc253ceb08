"""Small builders for store tests: valid records with only the fields a test cares about spelled out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.domain import AllocationRecord, Change, ClusterRecord, RequestSpec, Role, RoundRecord
from solver.problem import GpuType, Horizon

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def change(action: str = "test", actor: str = "alice", role: Role = Role.OPERATOR, when: datetime = T0) -> Change:
    return Change(actor=actor, role=role, at=when, action=action, reason=f"because {action}")


def spec(org: str = "org-a", key: str | None = None, **fields: Any) -> RequestSpec:
    values: dict[str, Any] = {
        "org": org,
        "title": "train a small model",
        "category": "research",
        "gpus": 4,
        "runtime_slots": {"H100": 3, "A100": 5},
        "entrypoint": "python train.py --epochs 3",
        "runtime_env": {"pip": ["torch==2.5"], "env_vars": {"SEED": "1"}},
        "idempotency_key": key,
    }
    return RequestSpec.model_validate(values | fields)


def cluster(id: str = "c-de-1", **fields: Any) -> ClusterRecord:
    values: dict[str, Any] = {
        "id": id,
        "operator": "hlrs",
        "country": "DE",
        "gpu_types": {"H100": GpuType(tdp_watts=700), "A100": GpuType(tdp_watts=400)},
        "gpus": {"H100": 16, "A100": 8},
        "power_cap_kw": 20.0,
        "registered_at": T0,
    }
    return ClusterRecord.model_validate(values | fields)


def round_(id: str = "round-1", **fields: Any) -> RoundRecord:
    values: dict[str, Any] = {
        "id": id,
        "horizon": Horizon(start=T0, slots=24),
        "created_at": T0,
        "updated_at": T0,
    }
    return RoundRecord.model_validate(values | fields)


def allocation(id: str, round_id: str, request_id: str, **fields: Any) -> AllocationRecord:
    values: dict[str, Any] = {
        "id": id,
        "round_id": round_id,
        "request_id": request_id,
        "cluster": "c-de-1",
        "gpu_type": "H100",
        "start_slot": 0,
        "end_slot": 3,
    }
    return AllocationRecord.model_validate(values | fields)
