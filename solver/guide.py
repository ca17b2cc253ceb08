"""A guide for the greedies: an order of admission and, per request, a cost for each of its options.

The search builds one from the LP relaxation (its order and dual prices) and the energy
exchange one from energy per unit of value; every policy's first plan and the baselines'
placement follow it.  It knows nothing of policies or the search, so both can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.index import FloatArray


@dataclass(frozen=True)
class Guide:
    """Which requests to admit first and which of their options to prefer."""

    order: list[int]
    option_cost: Sequence[FloatArray] | None = None

    def cost(self, r: int) -> FloatArray | None:
        return None if self.option_cost is None else self.option_cost[r]


def option_costs(prices: Sequence[FloatArray], value: FloatArray) -> list[FloatArray]:
    """Dual prices in steps of 2% of the request's value: small differences should not outrank packing."""
    out = []
    for p, v in zip(prices, value, strict=True):
        step = max(float(v), 1e-9) * 0.02
        out.append(np.where(np.isfinite(p), np.floor(p / step), np.inf))
    return out


