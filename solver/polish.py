"""Among plans of equal objective, prefer low-carbon slots and sites.

Moving one job to another feasible start, cluster or type keeps the set of
assigned requests, hence their work, value and every category's attainment: the
policy's objective is unchanged.  So each job in turn is lifted out and put back
at its lowest-carbon feasible placement (ties keep the current one), with the
placement book enforcing every hard rule.
"""

from __future__ import annotations

import numpy as np

from solver.placements import Placement, PlacementBook
from solver.policies import Context


def lower_carbon(ctx: Context, book: PlacementBook) -> int:
    """Re-place every job at its lowest-carbon feasible placement; returns how many moved."""
    idx = ctx.index
    if not np.any(idx.intensity_cum[:, -1] > 0):
        return 0
    moved = 0
    for r in sorted(book.movable(), key=lambda q: idx.req_ids[q]):
        current = book.remove(r)
        best = current
        best_co2 = idx.co2_g(idx.options[r][current.option], current.start)
        for group in book.groups(r):
            fits, starts = book.feasible(r, group)
            for row in np.flatnonzero(fits.any(axis=1)) if fits.size else []:
                k = int(group.option_ids[row])
                ok = starts[fits[row]]
                co2 = idx.co2_by_start(idx.options[r][k], ok)
                j = int(np.argmin(co2))
                if co2[j] < best_co2 - 1e-9:
                    best, best_co2 = Placement(k, int(ok[j])), float(co2[j])
        book.place(r, best)
        moved += best != current
    return moved
