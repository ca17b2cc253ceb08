"""Queue-admission baselines: take requests in a fixed order, give each its earliest fit.

They obey every hard rule (the placement book checks them all), so they are both the
yardstick in benchmarks and the source of the solver's first plan.

- ``merit``: highest merit first (ties: earliest arrival, then id), as a
  peer-review queue would admit them.
- ``fifo``: arrival order (earliest slot, then id), as a plain batch queue would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from solver.index import FloatArray, Index
from solver.placements import PlacementBook, pinned

if TYPE_CHECKING:
    from solver.policies.base import Context, Policy

Order = Callable[[Index], list[int]]


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


def merit_order(index: Index) -> list[int]:
    return sorted(range(index.n), key=lambda r: (-index.merit[r], index.earliest[r], index.req_ids[r]))


def fifo_order(index: Index) -> list[int]:
    return sorted(range(index.n), key=lambda r: (index.earliest[r], index.req_ids[r]))


BASELINES: dict[str, Order] = {"merit": merit_order, "fifo": fifo_order}


def place_in_order(book: PlacementBook, order: Iterable[int], guide: Guide | None = None) -> PlacementBook:
    """Earliest-finishing fit for each request in turn; those that fit nowhere stay unplaced."""
    for r in order:
        if r in book.placed:
            continue
        p = book.earliest(r, None if guide is None else guide.cost(r))
        if p is not None:
            book.place(r, p)
    return book


def baseline(index: Index, name: str) -> PlacementBook:
    return place_in_order(pinned(index), BASELINES[name](index))


def economise(book: PlacementBook, cost: Callable[[int], FloatArray]) -> int:
    """Move each job to a feasible option of lower ``cost`` (e.g. energy), freeing budget for others.

    The set of assigned requests does not change, so neither do value and fairness.
    Returns the number of jobs moved.
    """
    moved = 0
    for r in sorted(book.movable(), key=lambda q: book.index.req_ids[q]):
        c = cost(r)
        current = book.remove(r)
        better = book.earliest(r, c)
        if better is not None and c[better.option] < c[current.option]:
            book.place(r, better)
            moved += 1
        else:
            book.place(r, current)
    return moved


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
