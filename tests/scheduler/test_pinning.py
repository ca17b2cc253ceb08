"""Pins in a round: the solver keeps them and plans the rest slot by slot around them."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.errors import PolicyViolation
from scheduler.pinning import check_pins, solve_with_pins
from solver import Problem, SolveParams
from solver.problem import Pin
from solver.verify import verify

PARAMS = SolveParams(time_limit_s=5, deterministic=True, max_neighbourhoods=4)


def capped(power_cap_kw: float) -> Problem:
    """One 8-GPU cluster whose power cap fits one 8 x 700 W job at a time; job a before slot 3, b after."""
    def job(rid: str, **kw: Any) -> dict[str, Any]:
        return {"id": rid, "org": "org-a", "category": "research", "gpus": 8, "runtime_slots": {"H100": 3}} | kw

    return Problem.model_validate({
        "horizon": {"start": "2027-01-04T00:00:00Z", "slot_minutes": 60, "slots": 6},
        "gpu_types": {"H100": {"tdp_watts": 700}},
        "clusters": [{"id": "jsc", "country": "DE", "gpus": {"H100": 16}, "power_cap_kw": power_cap_kw}],
        "requests": [job("a", merit=0.2, deadline_slot=3), job("b", merit=0.9, earliest_slot=3)],
    })


def test_a_pin_takes_power_only_in_its_own_slots() -> None:
    problem = capped(5.6)
    plan = solve_with_pins(problem, "value", PARAMS, [Pin(request="a", cluster="jsc", gpu_type="H100", start_slot=0)])
    assert {(a.request, a.start_slot) for a in plan.assignments} == {("a", 0), ("b", 3)}
    assert verify(problem, plan) == []


def test_a_pin_that_breaks_a_rule_on_its_own_is_refused_with_the_rule() -> None:
    with pytest.raises(PolicyViolation, match="rule 6"):
        check_pins(capped(5.0), [Pin(request="a", cluster="jsc", gpu_type="H100", start_slot=0)])


def test_a_pin_the_round_cannot_hold_is_refused_before_any_solve() -> None:
    with pytest.raises(PolicyViolation, match="outside the request's window"):
        check_pins(capped(5.6), [Pin(request="b", cluster="jsc", gpu_type="H100", start_slot=1)])
    with pytest.raises(PolicyViolation, match="no request 'zz'"):
        solve_with_pins(capped(5.6), "fair", PARAMS, [Pin(request="zz", cluster="jsc", gpu_type="H100", start_slot=0)])
