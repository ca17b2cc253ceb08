"""Large-neighbourhood search: re-solve one cluster × time window exactly with CP-SAT.

A neighbourhood is a cluster c and a window [a, b).  Its jobs that lie wholly
inside the window are lifted out of the placement book; what is left of it
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
from solver.exchange import binding, energy_exchange
from solver.model import Candidate, NeighbourhoodModel
from solver.params import SolveParams
from solver.placements import Placement, PlacementBook
from solver.policies import Context, Policy

MAX_CANDIDATES = 240
MAX_NEW = 160
KINDS = 4
WINDOW = 96  # slots of a windowed neighbourhood
EXCHANGE_FRACTIONS = (0.02, 0.05, 0.1)  # of the energy budget, freed by one exchange
WHOLE_LIMIT = 600  # up to this many requests, the first neighbourhood is the whole problem


@dataclass(frozen=True)
class Region:
    clusters: tuple[int, ...]
    start: int
    end: int


def regions(ctx: Context, kind: int, rng: random.Random) -> list[Region]:
    """Kind 0: one cluster × a window of up to 96 slots; 1: one cluster × the horizon;
    2: two clusters of the same country (or neighbours in id order) × a window;
    3: random groups of three clusters × a window, so jobs can move between countries."""
    idx = ctx.index
    n = len(idx.cluster_ids)
    width = idx.slots if kind == 1 else min(idx.slots, WINDOW)
    stride = max(1, width // 2)
    starts = list(range(0, max(1, idx.slots - width + stride), stride))
    if kind == 2 and n > 1:
        same = idx.countries
        groups: list[tuple[int, ...]] = [(c, d) for c in range(n) for d in range(c + 1, n) if same[c] == same[d]]
        groups = groups or [(c, (c + 1) % n) for c in range(n)]
    elif kind == 3 and n > 2:
        shuffled = list(range(n))
        rng.shuffle(shuffled)
        groups = [tuple(sorted(shuffled[i : i + 3])) for i in range(0, n - 2, 3)]
    else:
        groups = [(c,) for c in range(n)]
    return [Region(g, a, min(idx.slots, a + width)) for g in groups for a in starts]


def improve(
    ctx: Context,
    policy: Policy,
    book: PlacementBook,
    relaxation: Relaxation,
    params: SolveParams,
    deadline: float,
    clock: Callable[[], float],
    on_step: Callable[[], None] = lambda: None,
) -> str:
    """Improve ``book`` in place until ``deadline``; returns the plan's status; ``on_step`` after each move.

    A problem of up to WHOLE_LIMIT requests is first solved whole, with the plan as
    hint, for most of the time.  Then rounds cycle through the three kinds of region; after a round that found
    nothing, candidates are drawn with growing random jitter on their LP worth, and
    three fruitless rounds in a row end the search early.  Each round starts with
    energy exchanges (``solver.exchange``) while the energy budget binds.
    """
    idx = ctx.index
    rng = random.Random(params.seed)
    by_cluster = _options_by_cluster(ctx)
    worth = np.array([relaxation.reduced_value(ctx, r) for r in range(idx.n)])
    score = policy.score(ctx, book)
    fruitless, steps, rnd = 0, 0, 0
    exchange_s = 0.0  # the longest energy exchange so far
    if int(ctx.alone.sum()) <= WHOLE_LIMIT:
        whole = Region(tuple(range(len(idx.cluster_ids))), 0, idx.slots)
        left = deadline - clock()
        new_score = _step(ctx, policy, book, whole, by_cluster, worth, 0.0, params,
                          max(0.1, 0.6 * left), 0, score, WHOLE_LIMIT, WHOLE_LIMIT)
        score = new_score if new_score is not None and new_score > score else score
        steps += 1
        on_step()
    while fruitless < 3:
        todo = regions(ctx, rnd % KINDS, rng)
        rng.shuffle(todo)
        jitter = 0.0 if fruitless == 0 else min(1.0, 0.25 * fruitless)
        improved = False
        if binding(ctx, book):
            for fraction in EXCHANGE_FRACTIONS:
                if deadline - clock() < 1.0 + 1.5 * exchange_s:  # an exchange refills the whole plan: seconds at X
                    break
                began = clock()
                if energy_exchange(ctx, policy, book, fraction):
                    score, improved = policy.score(ctx, book), True
                exchange_s = max(exchange_s, clock() - began)
                on_step()
        for region in todo:
            left = deadline - clock()
            if left < 0.2 or (params.max_neighbourhoods is not None and steps >= params.max_neighbourhoods):
                return "FEASIBLE"
            steps += 1
            noisy = worth * (1 + jitter * np.array([rng.random() for _ in range(idx.n)])) if jitter else worth
            price = relaxation.energy_price if steps % 2 else 0.0
            new_score = _step(ctx, policy, book, region, by_cluster, noisy, price, params,
                              min(left, 5.0), steps, score, MAX_CANDIDATES, MAX_NEW)
            if new_score is not None and new_score > score:
                score, improved = new_score, True
            on_step()
        fruitless = 0 if improved else fruitless + 1
        rnd += 1
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
    book: PlacementBook,
    region: Region,
    by_cluster: list[list[int]],
    worth: np.ndarray,
    energy_price: float,
    params: SolveParams,
    seconds: float,
    iteration: int,
    score: tuple[float, ...],
    limit: int,
    max_new: int,
) -> tuple[float, ...] | None:
    idx = ctx.index
    inside = [
        r for r, p in book.placed.items()
        if r not in book.fixed
        and idx.options[r][p.option].cluster in region.clusters
        and p.start >= region.start
        and p.start + idx.options[r][p.option].runtime <= region.end
    ]
    outside = [
        r for r in sorted({q for c in region.clusters for q in by_cluster[c]})
        if r not in book.placed and idx.earliest[r] < region.end and idx.deadline[r] > region.start
    ]
    outside.sort(key=lambda r: (-worth[r], idx.req_ids[r]))
    outside = outside[: max(0, min(max_new, limit - len(inside)))]
    if not outside:
        return None
    old = {r: book.remove(r) for r in sorted(inside)}
    candidates = [Candidate(r, old.get(r)) for r in sorted(inside)] + [Candidate(r, None) for r in outside]
    model = NeighbourhoodModel(ctx, book, region.clusters, region.start, region.end, candidates,
                               policy.fairness_floor(), energy_price)
    chosen = model.solve(params, seconds, seed=params.seed + iteration)
    if chosen is None or not _place_all(book, chosen):
        _restore(book, old)
        return None
    new_score = policy.score(ctx, book)
    if new_score >= score:
        return new_score
    for r in chosen:
        book.remove(r)
    _restore(book, old)
    return None


def _place_all(book: PlacementBook, chosen: dict[int, Placement]) -> bool:
    """Place the model's answer, checking every rule again; undo everything on any failure."""
    done: list[int] = []
    for r, p in chosen.items():
        if not book.fits_at(r, p.option, p.start):
            for q in done:
                book.remove(q)
            return False
        book.place(r, p)
        done.append(r)
    return True


def _restore(book: PlacementBook, old: dict[int, Placement]) -> None:
    for r, p in old.items():
        book.place(r, p)

