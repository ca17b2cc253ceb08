"""Solving a round around pinned assignments: the solver keeps them and plans the rest around them.

A pin becomes part of the problem (:class:`solver.problem.Pin`), so the solver treats it as a hard
fact: placed first, never moved or dropped by any phase, and counted, slot by slot, in capacity,
power caps, budgets, the organisation cap and the categories' fair shares; the verifier checks it
(rule 10).  Before anything is solved, :func:`check_pins` refuses pins that break a hard rule on
their own or together, naming the rule and its numbers.  Pure: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

from scheduler.errors import PolicyViolation
from solver import Plan, Problem, Progress, SolveParams, solve
from solver.plan import Assignment
from solver.problem import Pin
from solver.verify import verify


def solve_with_pins(problem: Problem, objective: str, params: SolveParams, pins: Sequence[Pin],
                    on_progress: Callable[[Progress], None] | None = None) -> Plan:
    return solve(with_pins(problem, pins), objective, params, on_progress=on_progress)


def with_pins(problem: Problem, pins: Sequence[Pin]) -> Problem:
    """The round's problem with its pins; a pin naming what the problem does not allow is refused."""
    if not pins:
        return problem
    try:
        return Problem.model_validate({**problem.model_dump(), "pins": [p.model_dump() for p in pins]})
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise PolicyViolation(f"the pin cannot hold: {message}") from None


def check_pins(problem: Problem, pins: Sequence[Pin]) -> None:
    """Refuse pins that break a hard rule (capacity, power, budgets, organisation cap) by themselves."""
    pinned = with_pins(problem, pins)
    ids = {p.request for p in pins}
    runtime = {r.id: r.runtime_slots for r in problem.requests if r.id in ids}
    only = pinned.model_copy(update={"requests": [r for r in problem.requests if r.id in ids]})
    plan = Plan(assignments=[Assignment(request=p.request, cluster=p.cluster, gpu_type=p.gpu_type,
                                        start_slot=p.start_slot, end_slot=p.start_slot + runtime[p.request][p.gpu_type])
                             for p in pins])
    broken = [v for v in verify(only, plan) if v.rule != 1]
    if broken:
        raise PolicyViolation("the pin breaks a hard rule: " + "; ".join(str(v) for v in broken[:3]))
