"""Independent checker: does a plan break any hard rule of its problem?

This module shares no code with the solver's model (no index, book, greedy,
model or search); it reads only the problem and plan models, so a bug in the
solver's bookkeeping cannot hide itself here.  Slots are discrete and intervals
half-open: a job on ``[s, e)`` uses slots ``s .. e-1``; ``h = slot_minutes / 60``.

The rules (numbered as in :class:`Violation.rule`):

1. every request appears exactly once, assigned or rejected; no unknown ids;
   a rejection has a known ``reason`` and a non-empty ``detail``;
2. the assigned type is in the request's ``runtime_slots`` and the cluster
   exists and has that type (count > 0);
3. the cluster's country is among the request's ``countries``, if it names any;
4. ``e - s == runtime_slots[type]``, ``s >= earliest_slot``,
   ``e <= deadline_slot`` (default the horizon) and ``e <= slots``;
5. for each cluster ``c``, type ``g`` and slot ``t``:
   ``sum gpus <= max(0, count[c,g] - sum of withdrawals covering t)``;
6. for each cluster with a power cap and slot ``t``:
   ``sum gpus * tdp / 1000 <= power_cap_kw`` (all types);
7. ``sum gpus * tdp/1000 * h * (e - s) * pue <= 1000 * energy_budget_mwh`` (kWh);
8. ``sum_jobs sum_{t in [s, e)} gpus * tdp/1000 * h * pue * intensity(c, t)
   <= 1e6 * carbon_budget_t`` (grams);
9. per organisation, ``sum gpus * (e - s) * h <= org_cap_share * capacity``,
   where capacity is the horizon's available GPU-hours (per slot, clamped at 0);
10. every pin of the problem is an assignment on its cluster, type and start.

Next to the hard rules, :func:`check` reports what the policies promise but validity does
not require: wasted requests, justified complaints and the level spread
(:mod:`solver.verify_stability`), and the notes from reading the plan (informational
blocks in a shape the contract does not have are left out, never refused).

Rules 5-9 count an assignment only when rule 2 holds for it (a GPU type a
cluster does not have cannot run there) and only over the slots inside the
horizon; an assignment that breaks rules 3 or 4 still counts, since it would run.
Float comparisons (rules 6-9) allow ``1e-6 + 1e-9 * |limit|``, a little more
than the solver's own 1e-6 slack; GPU counts (rule 5) are compared exactly.

Per-(cluster, type) usage is built with difference arrays in numpy, so a plan
with 25,000 requests over 40 clusters and 336 slots checks in well under a
second.  Overloads are reported once per contiguous run of overloaded slots,
and at most :data:`MAX_PER_RULE` violations per rule are listed, plus one that
says how many more there were.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.plan import REASONS, Assignment, Plan
from solver.problem import Cluster, Problem, Request
from solver.verify_stability import Stability, stability

ABS_TOL = 1e-6
REL_TOL = 1e-9
MAX_PER_RULE = 200
_LIST_REQUESTS = 5

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Job = tuple[Assignment, Request, Cluster]  # an assignment that passed rule 2, with what it refers to


@dataclass(frozen=True)
class Violation:
    """One broken hard rule, with enough numbers that a person can see why."""

    rule: int
    request: str | None
    where: str
    message: str

    def __str__(self) -> str:
        who = f" [{self.request}]" if self.request else ""
        return f"rule {self.rule}{who} at {self.where}: {self.message}"


@dataclass(frozen=True)
class Report:
    """The hard rules broken (the plan is valid when there are none), and beside them the plan's stability."""

    violations: list[Violation]
    stability: Stability
    notes: list[str]


def check(problem: Problem, plan: Plan) -> Report:
    return Report(verify(problem, plan), stability(problem, plan), plan.notes)


def verify(problem: Problem, plan: Plan) -> list[Violation]:
    """Every violation of the hard rules by ``plan``; an empty list means the plan is valid."""
    requests = {r.id: r for r in problem.requests}
    clusters = {c.id: c for c in problem.clusters}
    found: list[Violation] = []
    found += _check_coverage(problem, plan, requests)
    runnable: list[Job] = []
    for i, a in enumerate(plan.assignments):
        r = requests.get(a.request)
        if r is None:
            continue  # reported by rule 1; nothing to measure it against
        cluster = clusters.get(a.cluster)
        issues = _check_assignment(problem, a, r, cluster, i)
        found += issues
        if cluster is not None and not any(v.rule == 2 for v in issues):
            runnable.append((a, r, cluster))
    found += _check_capacity(problem, runnable)
    found += _check_power(problem, runnable)
    found += _check_energy(problem, runnable)
    found += _check_carbon(problem, runnable)
    found += _check_org_cap(problem, runnable)
    found += _check_pins(problem, plan)
    return _capped(found)


def _within(value: float, limit: float) -> bool:
    return value <= limit + ABS_TOL + REL_TOL * abs(limit)


def _span(a: Assignment) -> str:
    return f"cluster {a.cluster}, {a.gpu_type}, slots [{a.start_slot}, {a.end_slot})"


def _slots_text(first: int, last: int) -> str:
    return f"slot {first}" if first == last else f"slots {first}-{last}"


# Rule 10 --------------------------------------------------------------------------------------------------------------


def _check_pins(problem: Problem, plan: Plan) -> list[Violation]:
    """An operator fixed these: a plan that moved or dropped one overrode a person's decision."""
    assigned = {a.request: a for a in plan.assignments}
    found = []
    for pin in problem.pins:
        a = assigned.get(pin.request)
        want = f"cluster {pin.cluster}, {pin.gpu_type}, start slot {pin.start_slot}"
        if a is None:
            found.append(Violation(10, pin.request, "pins", f"pinned to {want} but not assigned"))
        elif (a.cluster, a.gpu_type, a.start_slot) != (pin.cluster, pin.gpu_type, pin.start_slot):
            found.append(Violation(10, pin.request, _span(a), f"pinned to {want}"))
    return found


# Rule 1 ---------------------------------------------------------------------------------------------------------------


def _check_coverage(problem: Problem, plan: Plan, requests: dict[str, Request]) -> list[Violation]:
    """Exactly once, assigned or rejected: a request lost or doubled is a silent unfairness."""
    out: list[Violation] = []
    assigned = Counter(a.request for a in plan.assignments)
    rejected = Counter(x.request for x in plan.rejected)
    for i, a in enumerate(plan.assignments):
        if a.request not in requests:
            out.append(Violation(1, a.request, f"assignments[{i}]", f"unknown request id {a.request!r}"))
    for i, x in enumerate(plan.rejected):
        where = f"rejected[{i}]"
        if x.request not in requests:
            out.append(Violation(1, x.request, where, f"unknown request id {x.request!r}"))
        if x.reason not in REASONS:
            out.append(Violation(1, x.request, where, f"reason {x.reason!r} is not one of {sorted(REASONS)}"))
        if not x.detail.strip():
            out.append(Violation(1, x.request, where, "rejection has no human-readable detail"))
    for r in problem.requests:
        n_a, n_r = assigned[r.id], rejected[r.id]
        if n_a + n_r == 0:
            out.append(Violation(1, r.id, f"request {r.id}", "request appears neither in assignments nor in rejected"))
        elif n_a + n_r > 1:
            out.append(
                Violation(
                    1,
                    r.id,
                    f"request {r.id}",
                    f"request appears {n_a + n_r} times ({n_a} assigned, {n_r} rejected); it must appear once",
                )
            )
    return out


# Rules 2-4 ------------------------------------------------------------------------------------------------------------


def _check_assignment(problem: Problem, a: Assignment, r: Request, c: Cluster | None, i: int) -> list[Violation]:
    """The rules one assignment can break on its own: type, place and window."""
    out: list[Violation] = []
    where = f"assignments[{i}]: {_span(a)}"
    if a.gpu_type not in r.runtime_slots:
        out.append(
            Violation(2, r.id, where, f"{a.gpu_type} is not among the request's types {sorted(r.runtime_slots)}")
        )
    if c is None:
        out.append(Violation(2, r.id, where, f"unknown cluster {a.cluster!r}"))
    elif c.gpus.get(a.gpu_type, 0) <= 0:
        out.append(Violation(2, r.id, where, f"cluster {c.id} has no {a.gpu_type} GPUs"))
    elif a.gpu_type not in problem.gpu_types:
        out.append(Violation(2, r.id, where, f"unknown GPU type {a.gpu_type!r}"))
    if c is not None and r.countries is not None and c.country not in r.countries:
        out.append(Violation(3, r.id, where, f"cluster {c.id} is in {c.country}, request allows {r.countries}"))
    runtime = r.runtime_slots.get(a.gpu_type)
    length = a.end_slot - a.start_slot
    if length <= 0:
        out.append(Violation(4, r.id, where, f"end_slot {a.end_slot} is not after start_slot {a.start_slot}"))
    elif runtime is not None and length != runtime:
        out.append(Violation(4, r.id, where, f"runs {length} slots, but the request needs {runtime} on {a.gpu_type}"))
    if a.start_slot < r.earliest_slot:
        out.append(Violation(4, r.id, where, f"starts at slot {a.start_slot}, before earliest_slot {r.earliest_slot}"))
    if r.deadline_slot is not None and a.end_slot > r.deadline_slot:
        out.append(Violation(4, r.id, where, f"ends at slot {a.end_slot}, after deadline_slot {r.deadline_slot}"))
    if a.end_slot > problem.horizon.slots:
        out.append(
            Violation(4, r.id, where, f"ends at slot {a.end_slot}, beyond the horizon of {problem.horizon.slots} slots")
        )
    return out


# Rule 5 ---------------------------------------------------------------------------------------------------------------


def _clip(a: Assignment, slots: int) -> tuple[int, int]:
    """The part of ``[start, end)`` inside the horizon (possibly empty)."""
    return max(0, a.start_slot), min(slots, a.end_slot)


def _available(c: Cluster, gpu_type: str, slots: int) -> IntArray:
    """Usable GPUs per slot: withdrawals add up, never below zero."""
    diff = np.zeros(slots + 1, dtype=np.int64)
    for u in c.unavailable:
        if u.gpu_type == gpu_type:
            lo, hi = max(0, u.from_slot), min(slots, u.to_slot)
            if lo < hi:
                diff[lo] += u.gpus
                diff[hi] -= u.gpus
    withdrawn = np.cumsum(diff[:slots])
    out: IntArray = np.maximum(0, c.gpus.get(gpu_type, 0) - withdrawn)
    return out


def _worst(first: int, last: int, worst: int) -> str:
    return "" if first == last else f" in slot {worst}, the worst"


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Contiguous runs of True as inclusive ``(first, last)`` slot pairs."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(edges[k]), int(edges[k + 1]) - 1) for k in range(0, len(edges), 2)]


def _running_at(jobs: list[Job], t: int, listed: int) -> str:
    """Which requests share the worst slot; skipped past the listing cap, where it would only cost time."""
    if listed >= MAX_PER_RULE:
        return ""
    ids = sorted(a.request for a, _, _ in jobs if a.start_slot <= t < a.end_slot)
    more = f" and {len(ids) - _LIST_REQUESTS} more" if len(ids) > _LIST_REQUESTS else ""
    return f" (requests {', '.join(ids[:_LIST_REQUESTS])}{more})"


def _check_capacity(problem: Problem, runnable: list[Job]) -> list[Violation]:
    """GPU counts per cluster, type and slot; one violation per run of overloaded slots."""
    slots = problem.horizon.slots
    by_key: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in runnable:
        by_key[(job[0].cluster, job[0].gpu_type)].append(job)
    out: list[Violation] = []
    for (cid, g), jobs in sorted(by_key.items()):
        diff = np.zeros(slots + 1, dtype=np.int64)
        for a, r, _ in jobs:
            lo, hi = _clip(a, slots)
            if lo < hi:
                diff[lo] += r.gpus
                diff[hi] -= r.gpus
        used = np.cumsum(diff[:slots])
        free = _available(jobs[0][2], g, slots)
        over = used > free
        if not over.any():
            continue
        for first, last in _runs(over):
            worst = first + int(np.argmax((used - free)[first : last + 1]))
            out.append(
                Violation(
                    5,
                    None,
                    f"cluster {cid}, {g}, {_slots_text(first, last)}",
                    f"{int(used[worst])} GPUs assigned, {int(free[worst])} available{_worst(first, last, worst)}"
                    + _running_at(jobs, worst, len(out)),
                )
            )
    return out


# Rule 6 ---------------------------------------------------------------------------------------------------------------


def _check_power(problem: Problem, runnable: list[Job]) -> list[Violation]:
    """Draw per cluster and slot, all types together, against the cluster's power cap."""
    slots = problem.horizon.slots
    by_cluster: dict[str, list[Job]] = defaultdict(list)
    for job in runnable:
        by_cluster[job[2].id].append(job)
    out: list[Violation] = []
    for c in sorted(problem.clusters, key=lambda c: c.id):
        cap, jobs = c.power_cap_kw, by_cluster.get(c.id)
        if cap is None or not jobs:
            continue
        diff = np.zeros(slots + 1, dtype=np.float64)
        for a, r, _ in jobs:
            lo, hi = _clip(a, slots)
            if lo < hi:
                kw = r.gpus * problem.gpu_types[a.gpu_type].tdp_watts / 1000.0
                diff[lo] += kw
                diff[hi] -= kw
        draw = np.cumsum(diff[:slots])
        over = draw > cap + ABS_TOL + REL_TOL * cap
        for first, last in _runs(over):
            worst = first + int(np.argmax(draw[first : last + 1]))
            out.append(
                Violation(
                    6,
                    None,
                    f"cluster {c.id}, {_slots_text(first, last)}",
                    f"{draw[worst]:.6g} kW drawn, power cap {cap:.6g} kW{_worst(first, last, worst)}"
                    + _running_at(jobs, worst, len(out)),
                )
            )
    return out


# Rules 7-8 ------------------------------------------------------------------------------------------------------------


def _kw_at_meter(problem: Problem, a: Assignment, r: Request, c: Cluster) -> float:
    """Power at the meter: GPU draw times the cluster's PUE."""
    return r.gpus * problem.gpu_types[a.gpu_type].tdp_watts / 1000.0 * c.pue


def _check_energy(problem: Problem, runnable: list[Job]) -> list[Violation]:
    """The programme's energy budget, in kWh at the meter, over the whole plan."""
    budget = problem.policy.energy_budget_mwh
    if budget is None:
        return []
    h = problem.horizon.slot_hours
    kwh = sum(_kw_at_meter(problem, a, r, c) * h * max(0, a.end_slot - a.start_slot) for a, r, c in runnable)
    limit = 1000.0 * budget
    if _within(kwh, limit):
        return []
    return [Violation(7, None, "plan", f"{kwh:.6f} kWh used, energy budget {limit:.6f} kWh (+{kwh - limit:.6g} kWh)")]


def _check_carbon(problem: Problem, runnable: list[Job]) -> list[Violation]:
    """The programme's carbon budget: energy weighted slot by slot with each cluster's intensity."""
    budget = problem.policy.carbon_budget_t
    if budget is None:
        return []
    slots = problem.horizon.slots
    h = problem.horizon.slot_hours
    prefix: dict[str, FloatArray] = {}
    grams = 0.0
    for a, r, c in runnable:
        if c.id not in prefix:
            ci = c.carbon_intensity
            per_slot = np.asarray(ci, dtype=np.float64) if isinstance(ci, list) else np.full(slots, float(ci))
            prefix[c.id] = np.concatenate(([0.0], np.cumsum(per_slot)))
        lo, hi = _clip(a, slots)
        if lo < hi:
            grams += _kw_at_meter(problem, a, r, c) * h * float(prefix[c.id][hi] - prefix[c.id][lo])
    limit = 1e6 * budget
    if _within(grams, limit):
        return []
    return [Violation(8, None, "plan", f"{grams / 1000:.6f} kg CO2e emitted, carbon budget {limit / 1000:.6f} kg CO2e")]


# Rule 9 ---------------------------------------------------------------------------------------------------------------


def _check_org_cap(problem: Problem, runnable: list[Job]) -> list[Violation]:
    """No organisation takes more than its share of the horizon's GPU-hours, counted as run."""
    share = problem.policy.org_cap_share
    if share is None:
        return []
    slots = problem.horizon.slots
    h = problem.horizon.slot_hours
    gpu_slots = sum(int(_available(c, g, slots).sum()) for c in problem.clusters for g in c.gpus)
    limit = share * gpu_slots * h
    used: dict[str, float] = defaultdict(float)
    for a, r, _ in runnable:
        used[r.org] += r.gpus * max(0, a.end_slot - a.start_slot) * h
    return [
        Violation(
            9,
            None,
            f"org {org}",
            f"{hours:.6g} GPU-hours assigned, cap {limit:.6g} ({share:.6g} of {gpu_slots * h:.6g} GPU-hours)",
        )
        for org, hours in sorted(used.items())
        if not _within(hours, limit)
    ]


def _capped(found: list[Violation]) -> list[Violation]:
    """At most MAX_PER_RULE per rule, plus one saying how many were left out; never empties a non-empty list."""
    shown: Counter[int] = Counter()
    out: list[Violation] = []
    for v in found:
        shown[v.rule] += 1
        if shown[v.rule] <= MAX_PER_RULE:
            out.append(v)
    for rule, n in sorted(shown.items()):
        if n > MAX_PER_RULE:
            out.append(Violation(rule, None, "plan", f"{n - MAX_PER_RULE} more rule-{rule} violations not listed"))
    return out
