"""Queue-admission baselines: take requests in a fixed order, give each its earliest fit.

They obey every hard rule (the placement book checks them all), so they are both the
yardstick in benchmarks and the source of the solver's first plan.

- ``merit``: highest merit first (ties: earliest arrival, then id), as a
  peer-review queue would admit them.
- ``fifo``: arrival order (earliest slot, then id), as a plain batch queue would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from solver.guide import Guide
from solver.index import FloatArray, Index
from solver.placements import PlacementBook, pinned

Order = Callable[[Index], list[int]]


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
