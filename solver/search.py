"""``solve``: a Problem in, a Plan out, in numbered phases.

1. compile   the problem into arrays over sorted keys (``solver.index``)
2. demand    which requests fit on their own (rules 2–9 in an empty plan)
3. first     the policy's greedy: a complete valid plan within seconds
4. bound     the LP relaxation's upper bound on value (``solver.bound``), then the
             policy's greedy again in the LP's order with its dual prices; the better
             of the two plans goes on
5. improve   CP-SAT on neighbourhoods (cluster × time window) until the time limit,
             keeping a move only when the policy's score does not drop
             (``solver.neighbourhood``)
6. fill      add every request that still fits and does not lower the score
7. polish    move each job to its lowest-carbon start that changes nothing else
8. settle    place every request that still fits, whatever the score (0 wasted), and under
             the fair policy resolve justified complaints by swaps (``solver.stability``);
             this phase has its own share of the time (a quarter under a fairness floor, 2 %
             for the fill alone otherwise) and runs after a timeout too.  Where settling ends
             early, the time left goes back to improve, fill, polish and settle again, and the
             new plan replaces the settled one only if it settles too and scores higher
9. decode    assignments with energy and CO2, rejections with reasons, metrics (the complaint
             count is settle's, where its last pass over the rejected requests found none)

Every phase works on a :class:`~solver.placements.PlacementBook`, which enforces every hard
rule, so the plan returned at any moment (time limit included) is valid.

``on_progress``, if given, hears after phases 3, 4 and 7, and during phase 5 at most every
``PROGRESS_EVERY_S``, where the search stands (:class:`~solver.plan.Progress`).  It is called on
the solver's own thread and must return quickly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from solver import polish
from solver.bound import Relaxation, relax, trivial
from solver.greedy import economise
from solver.guide import Guide, option_costs
from solver.index import Index, compile_problem
from solver.metrics import compute, fits_alone
from solver.neighbourhood import improve
from solver.params import SolveParams
from solver.placements import PlacementBook
from solver.plan import Assignment, Plan, Progress, SolverInfo
from solver.policies import DEFAULT, Context, Policy, get
from solver.problem import Problem
from solver.reasons import reject_all
from solver.stability import settle, stability_metrics

Clock = Callable[[], float]
PROGRESS_EVERY_S = 0.5
SETTLE_SHARE = 0.25  # of the time limit, kept from the improve phase for settling under a fairness floor
FILL_SHARE = 0.02  # and for the final fill alone, where there is nothing to settle
AGAIN = 4  # settling again after more improving is given this many times the first settle's seconds


def solve(
    problem: Problem,
    policy: str | Policy = DEFAULT,
    params: SolveParams | None = None,
    clock: Clock = time.perf_counter,
    on_progress: Callable[[Progress], None] | None = None,
) -> Plan:
    params = params or SolveParams()
    pol = get(policy) if isinstance(policy, str) else policy
    t0 = clock()
    deadline = t0 + params.time_limit_s
    stages: dict[str, float] = {}
    reported = [t0]
    bound: float | None = None

    def phase(name: str, since: float) -> float:
        now = clock()
        stages[name] = round(stages.get(name, 0.0) + now - since, 4)
        return now

    def report(name: str, book: PlacementBook, every: float = 0.0) -> None:
        now = clock()
        if on_progress is None or now - reported[0] < every:
            return
        reported[0] = now
        on_progress(Progress(phase=name, elapsed_s=now - t0, time_limit_s=params.time_limit_s,
                             value=ctx.value(book), assigned=len(book.placed), bound=bound))

    index = compile_problem(problem)
    t = phase("compile", t0)
    ctx = Context.build(index, fits_alone(index))
    t = phase("demand", t)
    book = pol.first_plan(ctx)
    t = phase("first_plan", t)
    first_plan_seconds = t - t0
    report("first_plan", book)
    relaxation = relax(ctx, deadline=t0 + 0.3 * params.time_limit_s, clock=clock) if params.lp_bound else trivial(ctx)
    bound = relaxation.bound
    t = phase("bound", t)
    lp_guide = guide(ctx, relaxation)
    guided = pol.first_plan(ctx, lp_guide)
    if pol.score(ctx, guided) > pol.score(ctx, book):
        book = guided
    t = phase("guided_plan", t)
    report("bound", book)
    if np.isfinite(index.energy_budget_kwh):
        saver = book.copy()
        economise(saver, lambda r: np.array([o.energy_kwh for o in index.options[r]]))
        saver = pol.first_plan(ctx, lp_guide, start=saver)
        if pol.score(ctx, saver) > pol.score(ctx, book):
            book = saver
        t = phase("economise", t)
    settle_by = deadline - _finish_reserve(index, pol)
    share = SETTLE_SHARE if pol.fairness_floor() is not None else FILL_SHARE

    def stepped() -> None:
        report("improve", book, PROGRESS_EVERY_S)

    status = improve(ctx, pol, book, relaxation, params, deadline=settle_by - share * params.time_limit_s,
                     clock=clock, on_step=stepped)
    t = phase("improve", t)
    fill(ctx, pol, book, lp_guide.order)
    t = phase("fill", t)
    polish.lower_carbon(ctx, book)
    t = phase("polish", t)
    t_settle = t
    settled = settle(ctx, pol, book, lp_guide, settle_by, clock)
    t = phase("settle", t)
    while pol.fairness_floor() is not None and settled.owed == 0:
        # settle ended early: give the time left to improve, keeping what settling again will take
        took = clock() - t_settle
        until = settle_by - max(AGAIN * took, 0.05 * params.time_limit_s)
        if until - clock() < max(took, 0.05 * params.time_limit_s):
            break
        kept, score = book.copy(), pol.score(ctx, book)
        improve(ctx, pol, book, relaxation, params, deadline=until, clock=clock, on_step=stepped)
        fill(ctx, pol, book, lp_guide.order)
        polish.lower_carbon(ctx, book)
        t = t_settle = phase("improve_again", t)
        again = settle(ctx, pol, book, lp_guide, settle_by, clock)
        t = phase("settle", t)
        if again.owed != 0 or pol.score(ctx, book) <= score:
            book = kept  # not settled in time, or no better: the settled plan before stands
            break
        settled = again
    report("polish", book)
    plan = decode(ctx, book, pol, settled.owed)
    t = phase("decode", t)
    value = plan.metrics.value
    return plan.model_copy(
        update={
            "solver": SolverInfo(
                status="OPTIMAL" if value >= relaxation.bound - 1e-6 else status,
                policy=pol.name,
                objective=pol.score(ctx, book)[0],
                bound=relaxation.bound,
                wall_seconds=round(t - t0, 4),
                first_plan_seconds=round(first_plan_seconds, 4),
                stages=stages,
            )
        }
    )


def guide(ctx: Context, relaxation: Relaxation) -> Guide:
    """The LP's order (most selected first, then merit) and its dual prices as option costs."""
    idx = ctx.index
    sel = np.round(relaxation.selected, 3)
    order = sorted(range(idx.n), key=lambda r: (-sel[r], -idx.merit[r], idx.earliest[r], idx.req_ids[r]))
    return Guide(order, option_costs(relaxation.prices, idx.merit * idx.work))


def fill(ctx: Context, policy: Policy, book: PlacementBook, order: Iterable[int]) -> int:
    """Add every request, in ``order``, that still fits and does not lower the policy's score."""
    idx = ctx.index
    work = ctx.work_by_category(book)
    value = ctx.value(book)
    score = policy.score_of(ctx, work, value)
    added = 0
    for r in order:
        if r in book.placed or not ctx.alone[r]:
            continue
        c = int(idx.category[r])
        work[c] += idx.work[r]
        trial = policy.score_of(ctx, work, value + float(idx.merit[r] * idx.work[r]))
        if trial < score or (p := book.earliest(r)) is None:
            work[c] -= idx.work[r]
            continue
        book.place(r, p)
        value += float(idx.merit[r] * idx.work[r])
        score = trial
        added += 1
    return added


def _finish_reserve(index: Index, policy: Policy) -> float:
    """Seconds kept back for decode, which grows with the number of requests; more where decode must count the
    complaints itself (a policy without a fairness floor does not settle them, so settle does not count them)."""
    return 1.0 + index.n * (4e-4 if policy.fairness_floor() is not None else 7e-4)


def decode(ctx: Context, book: PlacementBook, policy: Policy, owed: int | None = None) -> Plan:
    """The plan of ``book``; ``owed``, the justified complaints where settle has counted them."""
    index = ctx.index
    assignments = []
    for r in sorted(book.placed, key=lambda q: index.req_ids[q]):
        p = book.placed[r]
        o = index.options[r][p.option]
        assignments.append(
            Assignment(
                request=index.req_ids[r],
                cluster=index.cluster_ids[o.cluster],
                gpu_type=index.pool_type[o.pool],
                start_slot=p.start,
                end_slot=p.start + o.runtime,
                energy_kwh=round(o.energy_kwh, 6),
                co2_kg=round(index.co2_g(o, p.start) / 1000.0, 6),
            )
        )
    return Plan(
        assignments=assignments,
        rejected=reject_all(index, book, ctx.alone, policy),
        metrics=compute(index, book.placed, ctx.alone).model_copy(update=stability_metrics(ctx, book, owed)),
    )
