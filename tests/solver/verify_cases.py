"""The hard-rule cases the checker's tests share: one small problem and plan per rule, broken or held at its
boundary, with the rules the checker must name; and the helpers that write plans by hand."""

from __future__ import annotations

import pytest

from solver.plan import Assignment, Plan, Rejection
from solver.problem import Problem
from solver.verify import Violation
from tests.solver.worlds import req, world


def on(rid: str, start: int, end: int, cluster: str = "jsc-booster", gpu_type: str = "H100") -> Assignment:
    return Assignment(request=rid, cluster=cluster, gpu_type=gpu_type, start_slot=start, end_slot=end)


def no(rid: str, detail: str = "full") -> Rejection:
    return Rejection(request=rid, reason="capacity", detail=detail)


def plan(problem: Problem, *assignments: Assignment, rejected: tuple[Rejection, ...] = ()) -> Plan:
    """Assign as given, reject every other request: rule-1 clean unless the case says otherwise."""
    covered = {a.request for a in assignments} | {x.request for x in rejected}
    rest = [no(r.id) for r in problem.requests if r.id not in covered]
    return Plan(assignments=list(assignments), rejected=[*rejected, *rest])


def rules(violations: list[Violation]) -> set[int]:
    return {v.rule for v in violations}
# Rules 2-9: one problem per case ------------------------------------------------------------------------------------

EITHER = {"H100": 3, "A100": 5}

CASES = [
    # Rule 2: type and cluster
    pytest.param(
        world(req("r1", runtime=EITHER)),
        [on("r1", 0, 5, "cineca-leo", "A100")],
        set(),
        id="request runs on its second-choice type A100",
    ),
    pytest.param(
        world(req("r1", runtime=EITHER)), [on("r1", 0, 3, "cineca-leo", "H100")], {2}, id="unknown GPU type on cluster"
    ),
    pytest.param(world(req("r1")), [on("r1", 0, 5, "cineca-leo", "A100")], {2}, id="GPU type the request did not list"),
    pytest.param(world(req("r1")), [on("r1", 0, 3, "hawk")], {2}, id="unknown cluster"),
    pytest.param(
        world(req("r1"), jsc={"gpus": {"H100": 0}}), [on("r1", 0, 3)], {2}, id="cluster lists H100 with a count of zero"
    ),
    # Rule 3: residency
    pytest.param(
        world(req("r1", runtime=EITHER, countries=["DE"])),
        [on("r1", 0, 5, "cineca-leo", "A100")],
        {3},
        id="country outside residency",
    ),
    pytest.param(
        world(req("r1", runtime=EITHER, countries=["FR", "IT"])),
        [on("r1", 0, 5, "cineca-leo", "A100")],
        set(),
        id="country inside residency list",
    ),
    # Rule 4: runtime and window
    pytest.param(world(req("r1")), [on("r1", 0, 2)], {4}, id="runs 2 slots where 3 are needed"),
    pytest.param(world(req("r1")), [on("r1", 0, 4)], {4}, id="runs 4 slots where 3 are needed"),
    pytest.param(
        world(req("r1", runtime=EITHER)),
        [on("r1", 0, 3, "cineca-leo", "A100")],
        {4},
        id="A100 needs the A100 runtime, not the H100 one",
    ),
    pytest.param(world(req("r1", earliest_slot=4)), [on("r1", 3, 6)], {4}, id="starts one slot before earliest"),
    pytest.param(world(req("r1", earliest_slot=4)), [on("r1", 4, 7)], set(), id="starts exactly at earliest"),
    pytest.param(world(req("r1", deadline_slot=10)), [on("r1", 8, 11)], {4}, id="deadline at slot 10 rules out end 11"),
    pytest.param(world(req("r1", deadline_slot=10)), [on("r1", 7, 10)], set(), id="deadline at slot 10 allows end 10"),
    pytest.param(world(req("r1")), [on("r1", 10, 13)], {4}, id="end 13 is beyond a 12-slot horizon"),
    pytest.param(world(req("r1")), [on("r1", 9, 12)], set(), id="end 12 is exactly the horizon"),
    # Rule 5: GPU counts
    pytest.param(
        world(req("r1"), req("r2")), [on("r1", 0, 3), on("r2", 1, 4)], set(), id="two 8-GPU jobs fill 16 H100 exactly"
    ),
    pytest.param(
        world(req("r1"), req("r2"), req("r3")),
        [on("r1", 0, 3), on("r2", 1, 4), on("r3", 2, 5)],
        {5},
        id="a third 8-GPU job overloads 16 H100 in slot 2",
    ),
    pytest.param(
        world(req("r1", 16), req("r2", 16)),
        [on("r1", 2, 5), on("r2", 5, 8)],
        set(),
        id="a job ending at slot 5 and one starting at slot 5 do not overlap",
    ),
    pytest.param(
        world(req("r1", 16), req("r2", 16)),
        [on("r1", 2, 5), on("r2", 4, 7)],
        {5},
        id="jobs on [2, 5) and [4, 7) share slot 4",
    ),
    pytest.param(
        world(req("r1", 16), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 5, "to_slot": 6}]}),
        [on("r1", 3, 6)],
        {5},
        id="maintenance window leaves 8 of 16 H100 in slot 5",
    ),
    pytest.param(
        world(req("r1", 16), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 5, "to_slot": 6}]}),
        [on("r1", 2, 5)],
        set(),
        id="16-GPU job ends as maintenance starts at slot 5",
    ),
    pytest.param(
        world(req("r1", 8), jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 5, "to_slot": 6}]}),
        [on("r1", 4, 7)],
        set(),
        id="8-GPU job runs through a window that leaves 8",
    ),
    pytest.param(
        world(
            req("r1", 8),
            jsc={
                "unavailable": [
                    {"gpu_type": "H100", "gpus": 8, "from_slot": 4, "to_slot": 8},
                    {"gpu_type": "H100", "gpus": 4, "from_slot": 6, "to_slot": 7},
                ]
            },
        ),
        [on("r1", 4, 7)],
        {5},
        id="overlapping withdrawals add up to leave 4 in slot 6",
    ),
    pytest.param(
        world(req("r1", 8, {"A100": 2}), req("r2", 8), jsc={"gpus": {"H100": 8, "A100": 8}}),
        [on("r1", 0, 2, gpu_type="A100"), on("r2", 0, 3)],
        set(),
        id="H100 and A100 counts are separate",
    ),
    # Rule 6: power cap
    pytest.param(
        world(req("r1"), req("r2"), jsc={"power_cap_kw": 10}),
        [on("r1", 1, 4), on("r2", 3, 6)],
        {6},
        id="power cap blocks the second 8-GPU job in slot 3",
    ),
    pytest.param(
        world(req("r1"), req("r2"), jsc={"power_cap_kw": 10}),
        [on("r1", 0, 3), on("r2", 3, 6)],
        set(),
        id="power cap of 10 kW fits 8-GPU jobs back to back",
    ),
    pytest.param(
        world(req("r1"), req("r2"), jsc={"power_cap_kw": 11.2}),
        [on("r1", 0, 3), on("r2", 1, 4)],
        set(),
        id="power cap of 11.2 kW fits two 8-GPU H100 jobs exactly",
    ),
    pytest.param(
        world(req("r1", 8, {"A100": 2}), req("r2", 8), jsc={"gpus": {"H100": 8, "A100": 8}, "power_cap_kw": 8}),
        [on("r1", 0, 2, gpu_type="A100"), on("r2", 0, 3)],
        {6},
        id="power cap adds 5.6 kW H100 and 3.2 kW A100",
    ),
    # Rule 7: energy budget (8 H100 x 3 h = 16.8 kWh)
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0163}),
        [on("r1", 0, 3)],
        {7},
        id="energy budget exceeded by 0.5 kWh",
    ),
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0168}),
        [on("r1", 0, 3)],
        set(),
        id="energy budget of exactly 16.8 kWh",
    ),
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0168 - 1e-10}),
        [on("r1", 0, 3)],
        set(),
        id="energy 1e-7 kWh over budget is within tolerance",
    ),
    pytest.param(
        world(req("r1"), policy={"energy_budget_mwh": 0.0168 - 1e-7}),
        [on("r1", 0, 3)],
        {7},
        id="energy 1e-4 kWh over budget is caught",
    ),
    pytest.param(
        world(req("r1"), jsc={"pue": 1.5}, policy={"energy_budget_mwh": 0.0168}),
        [on("r1", 0, 3)],
        {7},
        id="energy counts the PUE at the meter",
    ),
    pytest.param(
        world(req("r1"), slot_minutes=30, policy={"energy_budget_mwh": 0.0084}),
        [on("r1", 0, 3)],
        set(),
        id="half-hour slots halve the energy",
    ),
    # Rule 8: carbon budget (5.6 kWh per slot)
    pytest.param(
        world(
            req("r1"),
            jsc={"carbon_intensity": [0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]},
            policy={"carbon_budget_t": 0.005},
        ),
        [on("r1", 4, 7)],
        {8},
        id="carbon budget uses per-slot intensity",
    ),
    pytest.param(
        world(
            req("r1"),
            jsc={"carbon_intensity": [0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]},
            policy={"carbon_budget_t": 0.0056},
        ),
        [on("r1", 4, 7)],
        set(),
        id="carbon budget meets 5.6 kg in the one dirty slot exactly",
    ),
    pytest.param(
        world(
            req("r1"),
            jsc={"carbon_intensity": [0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 0]},
            policy={"carbon_budget_t": 0.0},
        ),
        [on("r1", 2, 5)],
        set(),
        id="zero carbon budget allows a job that ends before the dirty slot",
    ),
    pytest.param(
        world(req("r1"), jsc={"carbon_intensity": 300}, policy={"carbon_budget_t": 0.005}),
        [on("r1", 0, 3)],
        {8},
        id="carbon at a flat 300 g per kWh is 5.04 kg",
    ),
    # Rule 9: org cap (capacity 16 x 12 + 8 x 12 = 288 GPU-hours; 0.1 of it is 28.8)
    pytest.param(
        world(req("r1", runtime={"H100": 2, "A100": 4}), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 4, "cineca-leo", "A100")],
        {9},
        id="org cap counts GPU-hours as run on slower type",
    ),
    pytest.param(
        world(req("r1", runtime={"H100": 2, "A100": 4}), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 2)],
        set(),
        id="org cap allows the same request on the faster type",
    ),
    pytest.param(
        world(req("r1", 8, {"H100": 2}), req("r2", 8, {"H100": 2}), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 2), on("r2", 2, 4)],
        {9},
        id="org cap adds up an organisation's requests",
    ),
    pytest.param(
        world(req("r1", 8, {"H100": 2}), req("r2", 8, {"H100": 2}, org="org-b"), policy={"org_cap_share": 0.1}),
        [on("r1", 0, 2), on("r2", 2, 4)],
        set(),
        id="org cap counts each organisation apart",
    ),
    pytest.param(
        world(
            req("r1"),
            policy={"org_cap_share": 0.1},
            jsc={"unavailable": [{"gpu_type": "H100", "gpus": 8, "from_slot": 0, "to_slot": 12}]},
        ),
        [on("r1", 0, 3)],
        {9},
        id="maintenance shrinks the capacity the org cap is a share of",
    ),
    pytest.param(
        world(
            req("r1", runtime={"A100": 4}),
            policy={"org_cap_share": 0.5},
            jsc={
                "unavailable": [
                    {"gpu_type": "H100", "gpus": 16, "from_slot": 0, "to_slot": 12},
                    {"gpu_type": "H100", "gpus": 16, "from_slot": 0, "to_slot": 12},
                ]
            },
        ),
        [on("r1", 0, 4, "cineca-leo", "A100")],
        set(),
        id="doubled withdrawals count as zero GPUs in the org cap capacity, not minus 16",
    ),
]
