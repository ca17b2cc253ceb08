"""Value: merit-weighted work, nothing else.

    maximise   Σ_r  merit_r · work_r · x_r
    where      x_r ∈ {0, 1} is 1 when request r is assigned (to any option obeying rules 2–9)
               work_r = gpus_r · min_g runtime_{r,g} · slot_hours

The first plan admits requests in merit order (merit is also value per GPU-hour
on the fastest type).  Once the LP relaxation is solved, a second greedy admits
them in the LP's order and prefers the options its dual prices make cheapest,
which matters when energy or power, not GPUs, is what runs out.
"""

from __future__ import annotations

import numpy as np

from solver.greedy import merit_order, place_in_order
from solver.guide import Guide
from solver.placements import PlacementBook, pinned
from solver.policies.base import Context


class ValuePolicy:
    name = "value"

    def first_plan(self, ctx: Context, guide: Guide | None = None, start: PlacementBook | None = None) -> PlacementBook:
        order = merit_order(ctx.index) if guide is None else guide.order
        return place_in_order(start or pinned(ctx.index), order, guide)

    def score(self, ctx: Context, book: PlacementBook) -> tuple[float, ...]:
        return self.score_of(ctx, ctx.work_by_category(book), ctx.value(book))

    def score_of(self, ctx: Context, work_by_category: np.ndarray, value: float) -> tuple[float, ...]:
        return (value,)

    def fairness_floor(self) -> float | None:
        return None


VALUE = ValuePolicy()
