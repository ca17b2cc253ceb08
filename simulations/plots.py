"""The report's figures, each a PNG as bytes, so that the HTML report can embed them and stand alone.

matplotlib is imported lazily (the ``sim`` extra) and always on the Agg backend: no display needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations.metrics import lorenz, org_gpu_hours
from simulations.records import RunResult
from simulations.sweep import PointResult

STYLES = ["-", "--", ":", "-."]


def _figure(width: float = 8.0, height: float = 3.6, ncols: int = 1, nrows: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width, height), dpi=100, layout="constrained",
                        sharey=ncols * nrows > 1, squeeze=False)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def attainment_over_time(runs: dict[str, RunResult]) -> bytes:
    """Each category's attainment of its fair share, round by round (1 = its full share of what was given)."""
    fig, axs = _figure()
    ax = axs[0][0]
    for n, (name, run) in enumerate(runs.items()):
        cats = sorted({c for r in run.rounds for c in r.attainment})
        for j, c in enumerate(cats):
            ys = [r.attainment.get(c, np.nan) for r in run.rounds]
            label = c if len(runs) == 1 else f"{c} ({name})"
            ax.plot([r.round + 1 for r in run.rounds], ys, STYLES[n % 4], color=f"C{j}", marker=".", label=label)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xlabel="round", ylabel="attainment of fair share", title="Attainment by category over time")
    ax.xaxis.get_major_locator().set_params(integer=True)  # rounds are whole numbers
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def lorenz_curves(runs: dict[str, RunResult]) -> bytes:
    """Lorenz curves of GPU-hours across organisations: the further below the diagonal, the more unequal."""
    fig, axs = _figure(5.0, 4.5)
    ax = axs[0][0]
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, label="equal shares")
    for n, (name, run) in enumerate(runs.items()):
        xs, ys = lorenz(list(org_gpu_hours(run.outcomes).values()))
        ax.plot(xs, ys, STYLES[n % 4], color=f"C{n}", label=name)
    ax.set(xlabel="share of organisations (fewest GPU-hours first)", ylabel="share of GPU-hours",
           title="Lorenz curves of organisation shares")
    ax.legend(fontsize=7)
    return _png(fig)


def energy_against_cap(runs: dict[str, RunResult]) -> bytes:
    """Energy used per round against the round's energy cap."""
    fig, axs = _figure()
    ax = axs[0][0]
    shown = [0.0]  # every value drawn, so the y-axis is set from the data and the caps, never left to autoscaling
    for n, (name, run) in enumerate(runs.items()):
        xs = [r.round + 1 for r in run.rounds]
        shown += [r.energy_mwh for r in run.rounds]
        shown += [r.energy_budget_mwh for r in run.rounds if r.energy_budget_mwh is not None]
        ax.plot(xs, [r.energy_mwh for r in run.rounds], STYLES[n % 4], color=f"C{n}", marker="o", ms=3,
                label=f"used ({name})")
        caps = [np.nan if r.energy_budget_mwh is None else r.energy_budget_mwh for r in run.rounds]
        if not np.all(np.isnan(caps)):
            ax.step(xs, caps, STYLES[n % 4], where="mid", color=f"C{n}", alpha=0.5, label=f"cap ({name})")
    ax.set(xlabel="round", ylabel="MWh", title="Energy against the cap")
    ax.set_ylim(0, max(shown) * 1.08 or 1.0)  # headroom above the highest point, so the top line shows
    ax.legend(fontsize=7)
    return _png(fig)


def utilisation_heatmap(run: RunResult) -> bytes:
    """Share of offered GPU-hours used, per site and day; blank where a site offered nothing."""
    used: dict[str, dict[int, float]] = {c: {} for c in run.clusters}
    offered: dict[str, dict[int, float]] = {c: {} for c in run.clusters}
    for r in run.rounds:
        for c, daily in r.daily_used_gpu_h.items():
            for i, (u, o) in enumerate(zip(daily, r.daily_offered_gpu_h[c], strict=True)):
                used[c][r.first_day + i] = used[c].get(r.first_day + i, 0.0) + u
                offered[c][r.first_day + i] = offered[c].get(r.first_day + i, 0.0) + o
    days = max((max(d) for d in offered.values() if d), default=0) + 1
    grid = np.full((len(run.clusters), days), np.nan)
    for i, c in enumerate(run.clusters):
        for d, o in offered[c].items():
            if o > 0:
                grid[i, d] = used[c][d] / o
    fig, axs = _figure(8.0, 1.2 + 0.28 * len(run.clusters))
    ax = axs[0][0]
    im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(run.clusters)), run.clusters, fontsize=7)
    ax.set(xlabel="day", title=f"Utilisation by site and day ({run.scenario})")
    fig.colorbar(im, ax=ax, label="used / offered")
    return _png(fig)


def waiting_times(runs: dict[str, RunResult]) -> bytes:
    """Distribution of waiting time (start − earliest slot) of served requests."""
    fig, axs = _figure()
    ax = axs[0][0]
    for n, (name, run) in enumerate(runs.items()):
        slot_h = run.slot_minutes / 60.0
        wait = [(o.start_slot - o.arrival_slot) * slot_h for o in run.outcomes if o.status == "served"]
        if wait:
            ax.hist(wait, bins=40, histtype="step", color=f"C{n}", label=name)
    ax.set(xlabel="hours from earliest slot to start", ylabel="requests", title="Waiting time of served requests")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    return _png(fig)


def acceptance_against_parameters(points: Sequence[PointResult], names: Sequence[str]) -> bytes:
    """Acceptance (overall and per category) against the first swept parameter; one line per other setting."""
    cats = sorted({c for p in points for c in p.summary.acceptance_by_category})
    panels = ["overall", *cats[:5]]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(3.8 * ncols, 3.4 * nrows, ncols=ncols, nrows=nrows)
    flat = axes.ravel()
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    x_name, rest = names[0], list(names[1:])
    groups: dict[tuple[Any, ...], list[PointResult]] = {}
    for p in points:
        groups.setdefault(tuple(p.params[n] for n in rest), []).append(p)
    for ax, panel in zip(flat, panels, strict=False):
        for g, (key, members) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
            by_x: dict[Any, list[float]] = {}
            for p in members:
                value = p.summary.acceptance if panel == "overall" else p.summary.acceptance_by_category.get(panel, 0)
                by_x.setdefault(p.params[x_name], []).append(value)
            xs = sorted(by_x)
            label = ", ".join(f"{n}={v}" for n, v in zip(rest, key, strict=True)) or "all"
            ax.plot(xs, [float(np.mean(by_x[x])) for x in xs], marker="o", color=f"C{g % 10}", label=label)
        ax.set(title=f"acceptance: {panel}", xlabel=x_name)
    for row in axes:
        row[0].set_ylabel("served / (served + expired)")
    flat[0].legend(fontsize=6)
    return _png(fig)
