"""Large-neighbourhood search: re-solve one cluster × time window exactly with CP-SAT.

A neighbourhood is a cluster c and a window [a, b).  Its jobs that lie wholly
inside the window are lifted out of the ledger; what is left of the ledger
(free GPUs and power per slot, budgets) becomes the fixed background.  The
candidates are those jobs plus the most valuable unassigned requests that have
an option on c whose window overlaps [a, b).  ``solver.model`` builds the
interval model; this module picks neighbourhoods, applies the answer and keeps it
only if the policy's score does not drop, so the plan is valid at every moment.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solver.bound import Relaxation
from solver.ledger import Ledger, Placement
from solver.model import Candidate, NeighbourhoodModel
from solver.params import SolveParams
from solver.policies import Context, Policy

MAX_CANDIDATES = 240
MAX_NEW = 160


@dataclass(frozen=True)
class Region:
    cluster: int
    start: int
    end: int


def regions(ctx: Context, width: int) -> list[Region]:
    idx = ctx.index
    stride = max(1, width // 2)
    starts = list(range(0, max(1, idx.slots - width + stride), stride))
    return [Region(c, a, min(idx.slots, a + width)) for c in range(len(idx.cluster_ids)) for a in starts]


def improve(
    ctx: Context,
    policy: Policy,
    ledger: Ledger,
    relaxation: Relaxation,
    params: SolveParams,
    deadline: float,
    clock: Callable[[], float],
) -> str:
    """Improve ``ledger`` in place until ``deadline``; returns the plan's status."""
    idx = ctx.index
    width = min(idx.slots, 96)
    todo = regions(ctx, width)
    rng = random.Random(params.seed)
    rng.shuffle(todo)
    by_cluster = _options_by_cluster(ctx)
    worth = np.array([relaxation.reduced_value(ctx, r) for r in range(idx.n)])
    score = policy.score(ctx, ledger)
    stale = 0
    i = 0
    while todo and stale < len(todo):
        left = deadline - clock()
        if left < 0.2:
            break
        region = todo[i % len(todo)]
        i += 1
        new_score = _step(ctx, policy, ledger, region, by_cluster, worth, relaxation.energy_price, params,
                          min(left, 5.0), i, score)
        if new_score is not None and new_score > score:
            score, stale = new_score, 0
        else:
            stale += 1
    return "FEASIBLE"


def _options_by_cluster(ctx: Context) -> list[list[int]]:
    """Requests that fit alone and have an option on each cluster."""
    idx = ctx.index
    out: list[list[int]] = [[] for _ in idx.cluster_ids]
    for r in range(idx.n):
        if ctx.alone[r]:
            for c in sorted({o.cluster for o in idx.options[r]}):
                out[c].append(r)
    return out


def _step(
    ctx: Context,
    policy: Policy,
    ledger: Ledger,
    region: Region,
    by_cluster: list[list[int]],
    worth: np.ndarray,
    energy_price: float,
    params: SolveParams,
    seconds: float,
    iteration: int,
    score: tuple[float, ...],
) -> tuple[float, ...] | None:
    idx = ctx.index
    inside = [
        r for r, p in ledger.placed.items()
        if idx.options[r][p.option].cluster == region.cluster
        and p.start >= region.start
        and p.start + idx.options[r][p.option].runtime <= region.end
    ]
    outside = [
        r for r in by_cluster[region.cluster]
        if r not in ledger.placed and idx.earliest[r] < region.end and idx.deadline[r] > region.start
    ]
    outside.sort(key=lambda r: (-worth[r], idx.req_ids[r]))
    outside = outside[: max(0, min(MAX_NEW, MAX_CANDIDATES - len(inside)))]
    if not outside:
        return None
    old = {r: ledger.remove(r) for r in sorted(inside)}
    candidates = [Candidate(r, old.get(r)) for r in sorted(inside)] + [Candidate(r, None) for r in outside]
    model = NeighbourhoodModel(ctx, ledger, region.cluster, region.start, region.end, candidates,
                               policy.fairness_floor(), energy_price)
    chosen = model.solve(params, seconds, seed=params.seed + iteration)
    if chosen is None or not _place_all(ledger, chosen):
        _restore(ledger, old)
        return None
    new_score = policy.score(ctx, ledger)
    if new_score >= score:
        return new_score
    for r in chosen:
        ledger.remove(r)
    _restore(ledger, old)
    return None


def _place_all(ledger: Ledger, chosen: dict[int, Placement]) -> bool:
    """Place the model's answer, checking every rule again; undo everything on any failure."""
    done: list[int] = []
    for r, p in chosen.items():
        if not ledger.fits_at(r, p.option, p.start):
            for q in done:
                ledger.remove(q)
            return False
        ledger.place(r, p)
        done.append(r)
    return True


def _restore(ledger: Ledger, old: dict[int, Placement]) -> None:
    for r, p in old.items():
        ledger.place(r, p)

