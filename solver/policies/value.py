"""Value: merit-weighted work, nothing else.

    maximise   Σ_r  merit_r · work_r · x_r
    where      x_r ∈ {0, 1} is 1 when request r is assigned (to any option obeying rules 2–9)
               work_r = gpus_r · min_g runtime_{r,g} · slot_hours

The first plan admits requests in merit order (merit is also value per GPU-hour
on the fastest type, so this is the density order of the LP relaxation).
"""

from __future__ import annotations

from solver.greedy import merit_order, place_in_order
from solver.ledger import Ledger
from solver.policies.base import Context


class ValuePolicy:
    name = "value"

    def first_plan(self, ctx: Context) -> Ledger:
        return place_in_order(Ledger(ctx.index), merit_order(ctx.index))

    def score(self, ctx: Context, ledger: Ledger) -> tuple[float, ...]:
        return (ctx.value(ledger),)

    def fairness_floor(self) -> float | None:
        return None


VALUE = ValuePolicy()
