"""Queue-admission baselines: take requests in a fixed order, give each its earliest fit.

They obey every hard rule (the ledger checks them all), so they are both the
yardstick in benchmarks and the source of the solver's first plan.

- ``merit``: highest merit first (ties: earliest arrival, then id), as a
  peer-review queue would admit them.
- ``fifo``: arrival order (earliest slot, then id), as a plain batch queue would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from solver.index import Index
from solver.ledger import Ledger

Order = Callable[[Index], list[int]]


def merit_order(index: Index) -> list[int]:
    return sorted(range(index.n), key=lambda r: (-index.merit[r], index.earliest[r], index.req_ids[r]))


def fifo_order(index: Index) -> list[int]:
    return sorted(range(index.n), key=lambda r: (index.earliest[r], index.req_ids[r]))


BASELINES: dict[str, Order] = {"merit": merit_order, "fifo": fifo_order}


def place_in_order(ledger: Ledger, order: Iterable[int]) -> Ledger:
    """Earliest-finishing fit for each request in turn; those that fit nowhere stay unplaced."""
    for r in order:
        if r in ledger.placed:
            continue
        p = ledger.earliest(r)
        if p is not None:
            ledger.place(r, p)
    return ledger


def baseline(index: Index, name: str) -> Ledger:
    return place_in_order(Ledger(index), BASELINES[name](index))
