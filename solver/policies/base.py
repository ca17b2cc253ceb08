"""The one signature every policy has, and the per-problem facts they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from solver.guide import Guide
from solver.index import Index
from solver.metrics import attainments, demand_by_category, fairness
from solver.placements import PlacementBook


@dataclass(frozen=True)
class Context:
    """Facts about one problem that every policy and every step of the search reuse."""

    index: Index
    alone: np.ndarray  # request fits on its own (rules 2–9 in an empty plan)
    demand: np.ndarray  # work per category of requests that fit alone

    @classmethod
    def build(cls, index: Index, alone: np.ndarray) -> Context:
        return cls(index, alone, demand_by_category(index, alone))

    def work_by_category(self, book: PlacementBook) -> np.ndarray:
        idx = self.index
        placed = np.fromiter(book.placed, dtype=np.int64, count=len(book.placed))
        return np.bincount(idx.category[placed], weights=idx.work[placed], minlength=len(idx.categories))

    def value(self, book: PlacementBook) -> float:
        placed = np.fromiter(book.placed, dtype=np.int64, count=len(book.placed))
        return float((self.index.merit[placed] * self.index.work[placed]).sum())

    def fairness(self, book: PlacementBook) -> tuple[float, float]:
        return fairness(attainments(self.index, self.work_by_category(book), self.demand))


class Policy(Protocol):
    name: str

    def first_plan(self, ctx: Context, guide: Guide | None = None, start: PlacementBook | None = None) -> PlacementBook:
        """A complete valid plan, fast: the greedy this policy trusts, in ``guide``'s order if given,
        adding to ``start`` (which it changes) if given."""
        ...

    def score(self, ctx: Context, book: PlacementBook) -> tuple[float, ...]:
        """Lexicographic, higher is better; the search keeps a move only if this does not drop."""
        ...

    def score_of(self, ctx: Context, work_by_category: np.ndarray, value: float) -> tuple[float, ...]:
        """The same score from a plan's work per category and value, for cheap what-ifs."""
        ...

    def fairness_floor(self) -> float | None:
        """Attainment every category should keep inside a neighbourhood model, or None to ignore fairness."""
        ...
