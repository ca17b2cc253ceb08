"""Fair: weighted max-min of category attainment first, then value.

Let W_c = Σ_{r∈c} work_r · x_r be the work assigned to category c, D_c its demand
(work of its requests that fit alone), s_c its share, and C the categories with
s_c > 0 and D_c > 0.  Fair shares split W = Σ_{c∈C} W_c by water-filling:
fair_c = min(λ·s_c, D_c) with Σ fair_c = W, and attainment a_c = W_c / fair_c.

    maximise lexicographically   ( min(min_c min(a_c, 1), 1 − ε),   Σ_r merit_r · work_r · x_r )

with ε = 0.01: plans whose every category is within 1% of its fair share count
as equally fair, and value decides among them.  Inside a neighbourhood model the
max-min term becomes linear constraints with a penalised shortfall (see
``solver.model.add_fairness``): for every c ∈ C,

    W_c + short_c ≥ (1 − ε) · fair_c,   fair_c = D_c for categories at demand,
                                       fair_c = s_c · (W − Σ_capped D) / Σ_uncapped s  otherwise,

and the objective is  value − M · Σ_c short_c  with M larger than any value change.

The first plan is a deficit round robin: the next request comes from the category
furthest below its share (smallest W_c / s_c), in merit order within the category;
categories without a share only get what is left at the end.  With the LP
relaxation at hand, the same round robin runs again in the LP's order within
each category, preferring the options its dual prices make cheapest.
"""

from __future__ import annotations

import heapq

import numpy as np

from solver.greedy import merit_order, place_in_order
from solver.guide import Guide
from solver.metrics import attainments, fairness
from solver.placements import PlacementBook, pinned
from solver.policies.base import Context

EPSILON = 0.01


class FairPolicy:
    name = "fair"

    def first_plan(self, ctx: Context, guide: Guide | None = None, start: PlacementBook | None = None) -> PlacementBook:
        idx = ctx.index
        book = start or pinned(idx)
        done = ctx.work_by_category(book)
        queues: dict[int, list[int]] = {}
        for r in merit_order(idx) if guide is None else guide.order:
            if ctx.alone[r]:
                queues.setdefault(int(idx.category[r]), []).append(r)
        shared = [c for c in sorted(queues) if idx.share[c] > 0]
        work = {c: float(done[c]) for c in queues}
        heap = [(work[c] / float(idx.share[c]), c) for c in shared]
        heapq.heapify(heap)
        cursor = dict.fromkeys(queues, 0)
        while heap:
            _, c = heapq.heappop(heap)
            queue = queues[c]
            while cursor[c] < len(queue):
                r = queue[cursor[c]]
                cursor[c] += 1
                if r in book.placed:
                    continue
                p = book.earliest(r, None if guide is None else guide.cost(r))
                if p is not None:
                    book.place(r, p)
                    work[c] += float(idx.work[r])
                    break
            if cursor[c] < len(queue):
                heapq.heappush(heap, (work[c] / float(idx.share[c]), c))
        leftovers = [r for c in sorted(queues) if idx.share[c] == 0 for r in queues[c]]
        return place_in_order(book, leftovers, guide)

    def score(self, ctx: Context, book: PlacementBook) -> tuple[float, ...]:
        return self.score_of(ctx, ctx.work_by_category(book), ctx.value(book))

    def score_of(self, ctx: Context, work_by_category: np.ndarray, value: float) -> tuple[float, ...]:
        min_att, _ = fairness(attainments(ctx.index, work_by_category, ctx.demand))
        return (min(min_att, 1.0 - EPSILON), value)

    def fairness_floor(self) -> float | None:
        return 1.0 - EPSILON


FAIR = FairPolicy()
