"""The placement book: what a partial plan has used (free GPUs and power per slot, budgets left).

The placement book is the one place that answers "where can request r still start?"
under every hard rule (capacity, power cap, energy and carbon budgets,
organisation cap), so the greedy baselines, the neighbourhood search and the
explanations agree on what fits.

A plan starts from :func:`pinned`: the problem's pins placed and ``fixed``.  A fixed
request cannot be removed, so no phase of the search can move a pin; the phases that
re-place jobs walk :meth:`PlacementBook.movable`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver.index import EPS, FloatArray, Index, IntArray


@dataclass(frozen=True)
class Placement:
    option: int  # index into Index.options[r]
    start: int


@dataclass(frozen=True)
class TypeGroup:
    """The options of one request that share a GPU type, hence a runtime and a power draw."""

    option_ids: IntArray
    pools: IntArray
    clusters: IntArray
    runtime: int
    power_w: float
    energy_kwh: FloatArray
    gpu_hours: float


def type_groups(index: Index, r: int) -> list[TypeGroup]:
    by_type: dict[str, list[int]] = {}
    for k, o in enumerate(index.options[r]):
        by_type.setdefault(index.pool_type[o.pool], []).append(k)
    groups = []
    for ks in by_type.values():
        opts = [index.options[r][k] for k in ks]
        groups.append(
            TypeGroup(
                option_ids=np.array(ks, dtype=np.int64),
                pools=np.array([o.pool for o in opts], dtype=np.int64),
                clusters=np.array([o.cluster for o in opts], dtype=np.int64),
                runtime=opts[0].runtime,
                power_w=opts[0].power_w,
                energy_kwh=np.array([o.energy_kwh for o in opts], dtype=np.float64),
                gpu_hours=opts[0].gpu_hours,
            )
        )
    return groups


class PlacementBook:
    """The placements of a partial plan and what they leave: free GPUs, power, budgets, organisation caps."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.free: IntArray = index.pool_cap.copy()
        self.power: FloatArray = np.repeat(index.power_cap_w[:, None], index.slots, axis=1)
        self.energy_left = float(index.energy_budget_kwh)
        self.carbon_left = float(index.carbon_budget_g)
        self.org_left: FloatArray = np.full(len(index.orgs), index.org_cap_gpu_hours, dtype=np.float64)
        self.placed: dict[int, Placement] = {}
        self.fixed: frozenset[int] = frozenset()
        self._groups: dict[int, list[TypeGroup]] = index.type_groups  # shared by every book of the index

    def copy(self) -> PlacementBook:
        other = PlacementBook.__new__(PlacementBook)
        other.index = self.index
        other.fixed = self.fixed
        other.free, other.power, other.org_left = self.free.copy(), self.power.copy(), self.org_left.copy()
        other.energy_left, other.carbon_left = self.energy_left, self.carbon_left
        other.placed = dict(self.placed)
        other._groups = self._groups
        return other

    def groups(self, r: int) -> list[TypeGroup]:
        g = self._groups.get(r)
        if g is None:
            g = self._groups[r] = type_groups(self.index, r)
        return g

    def feasible(self, r: int, group: TypeGroup) -> tuple[np.ndarray, IntArray]:
        """Boolean matrix (options of the group × starts) of feasible starts, and the starts."""
        idx = self.index
        e, d = int(idx.earliest[r]), int(idx.deadline[r])
        rt = group.runtime
        n_starts = d - e - rt + 1
        starts = np.arange(e, e + max(n_starts, 0), dtype=np.int64)
        if n_starts <= 0 or group.gpu_hours > self.org_left[idx.org[r]] + EPS:
            return np.zeros((len(group.pools), 0), dtype=bool), starts
        ok = (self.free[group.pools, e:d] >= idx.gpus[r]) & (self.power[group.clusters, e:d] >= group.power_w - EPS)
        bad = np.zeros((ok.shape[0], ok.shape[1] + 1), dtype=np.int64)
        np.cumsum(~ok, axis=1, out=bad[:, 1:])
        fits = (bad[:, rt:] - bad[:, : n_starts]) == 0
        fits &= (group.energy_kwh <= self.energy_left + EPS)[:, None]
        if np.isfinite(self.carbon_left) and fits.any():
            for row, k in enumerate(group.option_ids):
                if fits[row].any():
                    co2 = idx.co2_by_start(idx.options[r][int(k)], starts)
                    fits[row] &= co2 <= self.carbon_left + EPS
        return fits, starts

    def fits(self, r: int) -> bool:
        """Does r have some option and start that obeys every rule beside this plan?"""
        return any(self.feasible(r, group)[0].any() for group in self.groups(r))

    def earliest(self, r: int, cost: FloatArray | None = None) -> Placement | None:
        """Cheapest option by ``cost`` (per option, e.g. LP dual prices), then earliest finish, then lower carbon."""
        best: tuple[float, int, float, int] | None = None
        best_place: Placement | None = None
        for group in self.groups(r):
            fits, starts = self.feasible(r, group)
            if fits.size == 0:
                continue
            any_fit = fits.any(axis=1)
            if not any_fit.any():
                continue
            first = fits.argmax(axis=1)
            for row in np.flatnonzero(any_fit):
                s = int(starts[first[row]])
                k = int(group.option_ids[row])
                price = 0.0 if cost is None else float(cost[k])
                key = (price, s + group.runtime, self.index.co2_g(self.index.options[r][k], s), k)
                if best is None or key < best:
                    best, best_place = key, Placement(k, s)
        return best_place

    def fits_at(self, r: int, k: int, s: int) -> bool:
        idx = self.index
        o = idx.options[r][k]
        e = s + o.runtime
        if s < idx.earliest[r] or e > idx.deadline[r]:
            return False
        if o.gpu_hours > self.org_left[idx.org[r]] + EPS or o.energy_kwh > self.energy_left + EPS:
            return False
        if idx.co2_g(o, s) > self.carbon_left + EPS:
            return False
        return bool(
            (self.free[o.pool, s:e] >= idx.gpus[r]).all() and (self.power[o.cluster, s:e] >= o.power_w - EPS).all()
        )

    def place(self, r: int, p: Placement) -> None:
        self._apply(r, p, +1)
        self.placed[r] = p

    def movable(self) -> list[int]:
        """The placed requests the search may move or drop: all but the pins."""
        return [r for r in self.placed if r not in self.fixed]

    def remove(self, r: int) -> Placement:
        if r in self.fixed:
            raise ValueError(f"request {self.index.req_ids[r]} is pinned")
        p = self.placed.pop(r)
        self._apply(r, p, -1)
        return p

    def _apply(self, r: int, p: Placement, sign: int) -> None:
        idx = self.index
        o = idx.options[r][p.option]
        e = p.start + o.runtime
        self.free[o.pool, p.start : e] -= sign * int(idx.gpus[r])
        self.power[o.cluster, p.start : e] -= sign * o.power_w
        self.energy_left -= sign * o.energy_kwh
        if np.isfinite(self.carbon_left):
            self.carbon_left -= sign * idx.co2_g(o, p.start)
        self.org_left[idx.org[r]] -= sign * o.gpu_hours


class PinsDoNotFit(ValueError):
    """The pins together break a hard rule; the message names the first pin that does not fit."""


def pinned(index: Index) -> PlacementBook:
    """An empty plan but for the problem's pins, which it keeps."""
    book = PlacementBook(index)
    for r, (k, start) in sorted(index.pins.items(), key=lambda item: index.req_ids[item[0]]):
        if not book.fits_at(r, k, start):
            o = index.options[r][k]
            raise PinsDoNotFit(
                f"pin of {index.req_ids[r]} on {index.cluster_ids[o.cluster]}/{index.pool_type[o.pool]} at slot "
                f"{start} does not fit beside the pins before it (capacity, power cap, budgets or organisation cap)"
            )
        book.place(r, Placement(k, start))
    book.fixed = frozenset(index.pins)
    return book
