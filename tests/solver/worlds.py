"""The small world the solver, explanation and verifier tests tell their stories in.

12 one-hour slots; 16 H100 (700 W) at jsc-booster in Germany and 8 A100 (400 W) at cineca-leo in
Italy; no caps and no budgets unless a test sets them.
"""

from __future__ import annotations

from typing import Any

from solver.problem import Problem


def world(
    *requests: dict[str, Any],
    slots: int = 12,
    slot_minutes: int = 60,
    jsc: dict[str, Any] | None = None,
    leo: dict[str, Any] | None = None,
    extra: list[dict[str, Any]] | None = None,
    policy: dict[str, Any] | None = None,
) -> Problem:
    return Problem.model_validate(
        {
            "horizon": {"start": "2027-01-04T00:00:00Z", "slot_minutes": slot_minutes, "slots": slots},
            "gpu_types": {"H100": {"tdp_watts": 700}, "A100": {"tdp_watts": 400}},
            "clusters": [
                {"id": "jsc-booster", "country": "DE", "gpus": {"H100": 16}, **(jsc or {})},
                {"id": "cineca-leo", "country": "IT", "gpus": {"A100": 8}, **(leo or {})},
                *(extra or []),
            ],
            "requests": list(requests),
            "policy": policy or {},
        }
    )


def req(rid: str, gpus: int = 8, runtime: dict[str, int] | None = None, **kw: Any) -> dict[str, Any]:
    """A request of org-a in category research: 8 GPUs for 3 slots of H100 unless told otherwise."""
    base = {"id": rid, "org": "org-a", "category": "research", "gpus": gpus, "runtime_slots": runtime or {"H100": 3}}
    return base | kw
