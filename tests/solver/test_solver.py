"""The solver, told as stories: every plan it returns is valid with true figures, the same seed gives the same plan,
pins are kept, the baselines are valid and beaten, a plan cut short is valid, carbon is avoided where it costs
nothing, and the golden pairs still hold.  Tiny problems solved to the optimum are in test_solver_optimum.py, the
hard rules shaping plans and fairness in test_solver_rules.py.

Solves are deterministic (one worker, a deterministic time per neighbourhood, a bounded number of
neighbourhoods), so these tests are reproducible; speed is the benchmark's business, not theirs.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import given

from solver.files import dumps, load_plan, load_problem
from solver.greedy import baseline
from solver.index import compile_problem
from solver.metrics import fits_alone
from solver.params import SolveParams
from solver.placements import PinsDoNotFit
from solver.plan import Plan, Progress
from solver.policies import NAMES, Context, get
from solver.problem import Problem
from solver.search import decode, solve
from solver.verify import verify
from tests.solver.figures import EXAMPLE, GOLDEN, PARAMS, PROPERTY, check_figures, outcome, placed, value_of
from tests.solver.worlds import req, world
from tests.strategies import problems

# 1. Every plan is valid and reports true figures ---------------------------------------------------------------------


@PROPERTY
@given(problems(max_requests=20, max_clusters=3, max_slots=24))
def test_every_plan_is_valid_and_its_figures_are_true(problem: Problem) -> None:
    for policy in NAMES:
        plan = solve(problem, policy, PARAMS)
        check_figures(problem, plan)
        assert plan.solver.policy == policy


# 3. Determinism --------------------------------------------------------------------------------------------------


def _without_timings(plan: Plan) -> dict[str, Any]:
    data = plan.model_dump()
    for key in ("wall_seconds", "first_plan_seconds", "stages"):
        data["solver"].pop(key)
    return data


def test_same_problem_seed_and_one_worker_give_the_same_plan() -> None:
    problem = load_problem(EXAMPLE)
    params = PARAMS.model_copy(update={"neighbourhood_dtime": 0.2, "max_neighbourhoods": 2})
    first, second = solve(problem, "fair", params), solve(problem, "fair", params)
    assert _without_timings(first) == _without_timings(second)
    assert verify(problem, first) == []


def test_progress_reports_each_phase_with_the_plan_so_far_and_ends_with_the_plan_returned() -> None:
    problem = load_problem(EXAMPLE)
    params = PARAMS.model_copy(update={"neighbourhood_dtime": 0.2, "max_neighbourhoods": 6})
    heard: list[Progress] = []
    plan = solve(problem, "value", params, on_progress=heard.append)
    phases = [p.phase for p in heard]
    assert phases[:2] == ["first_plan", "bound"] and phases[-1] == "polish"
    assert set(phases[2:-1]) <= {"improve"}
    assert heard[0].bound is None and all(p.bound == plan.solver.bound for p in heard[1:])
    assert [p.elapsed_s for p in heard] == sorted(p.elapsed_s for p in heard)
    values = [p.value for p in heard]
    assert values == sorted(values)  # the value policy never accepts a worse plan
    assert heard[-1].value == pytest.approx(plan.metrics.value) and heard[-1].assigned == len(plan.assignments)
    assert all(p.bound is not None and p.value <= p.bound + 1e-6 for p in heard[1:])
    assert _without_timings(solve(problem, "value", params)) == _without_timings(plan)  # listening changes nothing


def pinned_world(*pins: dict[str, Any], **kw: Any) -> Problem:
    """Three 16-GPU jobs for a 16-GPU pool in slots 0-6; the low-merit one may be pinned late."""
    base = world(req("hi", gpus=16, merit=0.9, deadline_slot=6), req("mid", gpus=16, merit=0.6, deadline_slot=6),
                 req("lo", gpus=16, merit=0.1), slots=9, **kw)
    return Problem.model_validate({**base.model_dump(), "pins": list(pins)})


@pytest.mark.parametrize("policy", NAMES)
def test_a_pin_is_kept_and_the_rest_is_planned_around_it(policy: str) -> None:
    """Unpinned, all three run (hi and mid before slot 6, lo after); pinning lo at slot 2 leaves no
    three free slots before 6, so hi and mid go, and their reason says the capacity is taken."""
    unpinned = solve(pinned_world(), policy, PARAMS)
    assert {a.request for a in unpinned.assignments} == {"hi", "mid", "lo"}
    problem = pinned_world({"request": "lo", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 2})
    plan = solve(problem, policy, PARAMS)
    assert verify(problem, plan) == []
    assert [(a.request, a.start_slot) for a in plan.assignments] == [("lo", 2)]
    assert {(r.request, r.reason) for r in plan.rejected} == {("hi", "capacity"), ("mid", "capacity")}


def test_the_verifier_names_a_moved_or_dropped_pin() -> None:
    problem = pinned_world({"request": "lo", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 2})
    plan = solve(problem, "value", PARAMS)
    moved = [a.model_copy(update={"start_slot": 3, "end_slot": 6}) if a.request == "lo" else a
             for a in plan.assignments if a.request == "lo"]
    rules = {v.rule for v in verify(problem, plan.model_copy(update={"assignments": moved}))}
    assert 10 in rules
    dropped = plan.model_copy(update={"assignments": [a for a in plan.assignments if a.request != "lo"]})
    assert any(v.rule == 10 and v.request == "lo" and "not assigned" in v.message for v in verify(problem, dropped))


def test_pins_that_do_not_fit_together_are_refused_by_name() -> None:
    problem = pinned_world({"request": "hi", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 0},
                           {"request": "mid", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 1})
    with pytest.raises(PinsDoNotFit, match="pin of mid on jsc-booster/H100 at slot 1"):
        solve(problem, "value", PARAMS)


@pytest.mark.parametrize(("pin", "message"), [
    ({"request": "nope", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 0},
     r"pins\[request=nope\].request"),
    ({"request": "hi", "cluster": "cineca-leo", "gpu_type": "A100", "start_slot": 0}, r"does not accept 'A100'"),
    ({"request": "hi", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 4}, r"outside the request's window"),
])
def test_a_pin_the_problem_cannot_hold_is_a_validation_error(pin: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pinned_world(pin)


# 6. Baselines --------------------------------------------------------------------------------------------------------


def baseline_plan(problem: Problem, name: str) -> Plan:
    index = compile_problem(problem)
    return decode(Context.build(index, fits_alone(index)), baseline(index, name), get("value"))


@PROPERTY
@given(problems(max_requests=20, max_clusters=3, max_slots=24))
def test_baselines_are_valid_and_the_solver_beats_the_merit_queue(problem: Problem) -> None:
    for name in ("merit", "fifo"):
        plan = baseline_plan(problem, name)
        assert verify(problem, plan) == []
        assert plan.metrics.value == pytest.approx(value_of(problem, plan), abs=1e-9)
    assert solve(problem, "value", PARAMS).metrics.value >= baseline_plan(problem, "merit").metrics.value - 1e-9


# 7. A plan returned at a tiny time limit is still valid ---------------------------------------------------------------


@pytest.mark.parametrize("policy", NAMES)
def test_a_plan_cut_short_at_50_ms_is_still_valid(policy: str) -> None:
    problem = load_problem(EXAMPLE)
    plan = solve(problem, policy, SolveParams(time_limit_s=0.05, workers=1, seed=0, deterministic=True))
    check_figures(problem, plan)
    assert plan.metrics.assigned > 0


# 8. Carbon preference ------------------------------------------------------------------------------------------------


def twin_sites(de: float | list[float], fr: float | list[float]) -> list[dict[str, Any]]:
    return [
        {"id": "site-de", "country": "DE", "gpus": {"H100": 8}, "carbon_intensity": de},
        {"id": "site-fr", "country": "FR", "gpus": {"H100": 8}, "carbon_intensity": fr},
    ]


@pytest.mark.parametrize("policy", NAMES)
def test_the_job_goes_to_the_low_carbon_site(policy: str) -> None:
    problem = world(req("job"), jsc={"gpus": {"H100": 0}}, extra=twin_sites(de=380.0, fr=55.0))
    plan = solve(problem, policy, PARAMS)
    check_figures(problem, plan)
    assert placed(plan, "job").cluster == "site-fr"


@pytest.mark.parametrize("policy", NAMES)
def test_the_job_runs_in_the_low_carbon_slots(policy: str) -> None:
    night = [300.0] * 6 + [80.0, 60.0, 70.0] + [300.0] * 3  # slots 6–8 are clean
    problem = world(req("job"), jsc={"gpus": {"H100": 0}}, extra=twin_sites(de=night, fr=night)[:1])
    plan = solve(problem, policy, PARAMS)
    check_figures(problem, plan)
    a = placed(plan, "job")
    assert (a.start_slot, a.end_slot) == (6, 9)
    assert a.co2_kg == pytest.approx(8 * 0.7 * (80 + 60 + 70) / 1000)


# 9. Golden problem/plan pairs -----------------------------------------------------------------------------------------


def _golden_names() -> list[str]:
    return sorted(p.name.removesuffix(".expected.json") for p in GOLDEN.glob("*.expected.json"))


@pytest.mark.parametrize("name", _golden_names())
def test_golden_pair(name: str) -> None:
    """Hand-checked problems whose plan the rules fix; the stored plan is the one a person checked.

    ``ALLMENDE_REGEN_GOLDEN=1`` rewrites the stored plan from the solver; check the diff by hand before committing.
    """
    [problem_file] = GOLDEN.glob(f"{name}.problem.*")
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text())
    problem = load_problem(problem_file)
    plan = solve(problem, expected["policy"], PARAMS)
    plan_file = GOLDEN / f"{name}.plan.json"
    if os.environ.get("ALLMENDE_REGEN_GOLDEN"):
        untimed = plan.solver.model_copy(update={"wall_seconds": 0.0, "first_plan_seconds": 0.0, "stages": {}})
        plan_file.write_text(dumps(plan.model_copy(update={"solver": untimed})))
    stored = load_plan(plan_file)
    assert verify(problem, stored) == []
    check_figures(problem, plan)
    assert plan.metrics.value == pytest.approx(expected["value"])
    assert plan.metrics.attainment == pytest.approx(expected["attainment"])
    assert outcome(plan) == expected["outcome"]
    spans = {a.request: [a.cluster, a.gpu_type, a.start_slot, a.end_slot] for a in plan.assignments}
    assert spans == expected["assignments"]
    assert spans == {a.request: [a.cluster, a.gpu_type, a.start_slot, a.end_slot] for a in stored.assignments}
    assert outcome(stored) == expected["outcome"]


# 10. Scale -----------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_m_size_bench_instance_solves_to_a_valid_plan() -> None:
    from simulations.workload import bench_problem

    problem = bench_problem("M", 0)
    params = SolveParams(time_limit_s=8, workers=1, seed=0, deterministic=True, max_neighbourhoods=2)
    plan = solve(problem, "fair", params)
    check_figures(problem, plan)
    assert plan.metrics.assigned > 0
