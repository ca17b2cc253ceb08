"""The independent checker's second half: wasted requests, justified complaints, level spread, and plans
written by other programs, which verify whatever they put in their informational blocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from solver.files import InputError, validate
from solver.plan import Assignment, Plan, Rejection
from solver.problem import Problem
from solver.verify import check
from solver.verify_stability import stability
from tests.solver.worlds import req, world

SHARES = {"category_shares": {"research": 0.5, "industry": 0.0, "public": 0.5}}


def on(rid: str, start: int, cluster: str = "jsc-booster", gpu_type: str = "H100", runtime: int = 12) -> Assignment:
    return Assignment(request=rid, cluster=cluster, gpu_type=gpu_type, start_slot=start, end_slot=start + runtime)


def only(problem: Problem, *assignments: Assignment) -> Plan:
    """Assign as given and reject the rest."""
    done = {a.request for a in assignments}
    return Plan(assignments=list(assignments),
                rejected=[Rejection(request=r.id, reason="capacity", detail="full")
                          for r in problem.requests if r.id not in done])


def long(rid: str, category: str, gpus: int = 8, **kw: Any) -> dict[str, Any]:
    """A request that needs the whole horizon of 12 slots on H100."""
    return req(rid, gpus, runtime={"H100": 12}, category=category, **kw)


# Two 8-GPU halves of jsc-booster for the whole horizon; cineca-leo's A100 suits nobody.
HALVES = world(long("res-1", "research"), long("res-2", "research"), long("ind-1", "industry"),
               long("pub-1", "public"), policy=SHARES)

CASES = [
    pytest.param(HALVES, only(HALVES, on("res-1", 0), on("pub-1", 0)), [], [],
                 id="a full cluster split between the two shared categories is stable"),
    pytest.param(HALVES, only(HALVES, on("res-1", 0)), ["ind-1", "pub-1", "res-2"], [],
                 id="half the cluster idle: every rejected request that fits beside is wasted"),
    pytest.param(HALVES, only(HALVES, on("res-1", 0), on("ind-1", 0)), [], ["pub-1", "res-2"],
                 id="a share-0 category holds capacity that shared categories could use"),
    pytest.param(HALVES, only(HALVES, on("res-1", 0), on("res-2", 0)), [], ["pub-1"],
                 id="research holds both halves while public has nothing"),
]


@pytest.mark.parametrize(("problem", "plan", "wasted", "complaints"), CASES)
def test_wasted_and_complaints(problem: Problem, plan: Plan, wasted: list[str], complaints: list[str]) -> None:
    st = stability(problem, plan)
    assert (st.wasted, st.complaints) == (wasted, complaints)


def test_a_pinned_job_is_never_evicted() -> None:
    problem = Problem.model_validate(HALVES.model_dump() | {
        "pins": [{"request": "res-1", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 0},
                 {"request": "res-2", "cluster": "jsc-booster", "gpu_type": "H100", "start_slot": 0}]})
    assert stability(problem, only(problem, on("res-1", 0), on("res-2", 0))).complaints == []


def test_an_eviction_that_would_leave_the_holder_worse_off_is_no_complaint() -> None:
    """research holds 8 GPUs × 12 h = 96 h at share 0.5 (level 192); public would reach 192 with pub-1: evicting
    research's only job leaves it at level 0, below 0.99 × 192, so public's complaint is not justified."""
    problem = world(long("res-1", "research", gpus=16), long("pub-1", "public", gpus=16), policy=SHARES)
    st = stability(problem, only(problem, on("res-1", 0)))
    assert (st.wasted, st.complaints) == ([], [])


def test_level_spread_names_the_categories_still_waiting() -> None:
    problem = world(long("res-1", "research"), long("res-2", "research"), long("res-3", "research"),
                    long("pub-1", "public", gpus=4), long("pub-2", "public", gpus=16), policy=SHARES)
    spread = stability(problem, only(problem, on("res-1", 0), on("pub-1", 0))).level_spread
    assert spread is not None
    assert (spread.highest, spread.lowest) == ("research", "public")
    assert spread.levels == {"research": 192.0, "public": 96.0}
    assert spread.ratio == pytest.approx(2.0)


def test_an_energy_budget_lets_a_complaint_evict_jobs_anywhere() -> None:
    """The budget holds two and a half 8-GPU day-long jobs; research holds two, so GPUs are idle but energy is not."""
    one_job_kwh = 8 * 0.7 * 12
    problem = world(long("res-1", "research"), long("res-2", "research"), long("pub-1", "public"),
                    jsc={"gpus": {"H100": 24}}, policy=SHARES | {"energy_budget_mwh": 2.5 * one_job_kwh / 1000})
    st = stability(problem, only(problem, on("res-1", 0), on("res-2", 0)))
    assert st.complaints == ["pub-1"]


# Plans written by other programs ------------------------------------------------------------------------------------


def _foreign(problem: Problem, **extra: Any) -> dict[str, Any]:
    plan = only(problem, on("res-1", 0), on("pub-1", 0))
    return {"version": 1, "assignments": [a.model_dump() for a in plan.assignments],
            "rejected": [r.model_dump() for r in plan.rejected], **extra}


FOREIGN = [
    pytest.param({}, [], id="a minimal hand-written plan: only version, assignments and rejected"),
    pytest.param({"metrics": {"gpu_hours": {"total": 192, "by_category": {"research": 96}}}}, ["metrics"],
                 id="metrics in another shape"),
    pytest.param({"solver": {"name": "other-solver", "bound": None}}, ["solver"],
                 id="a solver block with a null bound and a foreign key"),
    pytest.param({"generated_by": "spreadsheet"}, ["generated_by"], id="an unknown top-level key"),
    pytest.param({"metrics": None, "solver": "v2"}, ["metrics", "solver"], id="null and scalar blocks"),
]


@pytest.mark.parametrize(("extra", "noted"), FOREIGN)
def test_a_plan_from_another_program_verifies(extra: dict[str, Any], noted: list[str]) -> None:
    data = json.loads(json.dumps(_foreign(HALVES, **extra)))
    report = check(HALVES, validate(Plan, data))
    assert report.violations == []
    assert (report.stability.wasted, report.stability.complaints) == ([], [])
    assert len(report.notes) == len(noted)
    assert all(any(key in note for note in report.notes) for key in noted)


BROKEN = [
    pytest.param({"assignments": [{"request": "res-1", "cluster": "jsc-booster"}]}, id="an assignment without a slot"),
    pytest.param({"rejected": [{"request": "res-2", "reason": "because", "detail": "x"}]},
                 id="a rejection with a reason outside the vocabulary"),
    pytest.param({"version": 2}, id="a version this contract does not know"),
]


@pytest.mark.parametrize("change", BROKEN)
def test_strictness_stays_on_assignments_and_rejections(change: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        validate(Plan, _foreign(HALVES) | change)
