"""A tiny world for simulation tests: two small sites, day-long rounds, a few dozen requests a day."""

from __future__ import annotations

from typing import Any

from simulations.scenario import Scenario, apply_overrides, validate

TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 0,
    "start": "2026-01-05T00:00:00Z",
    "weeks": 1,
    "round_slots": 84,
    "sites": {"generated": {"count": 2, "demand_ratio": 1.5}},
    "policy": {
        "category_shares": {"university": 0.4, "sme": 0.3, "public_sector": 0.2, "civil_society": 0.1},
        "org_cap_share": 0.3,
        "energy_share": 0.7,
    },
    "demand": {"arrivals_per_day": 30.0, "orgs": 12, "max_runtime_slots": 12},
    "solver": {"policy": "fair", "neighbourhoods": 2, "neighbourhood_dtime": 0.05},
}


def tiny(overrides: dict[str, Any] | None = None) -> Scenario:
    return validate(apply_overrides(TINY, overrides or {}), "tiny")
