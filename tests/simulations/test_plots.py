"""Every figure of the simulation report shows all of its data: nothing plotted lies outside its axes.

The figures are drawn from a small hand-made run whose energy use goes above its cap (as in the report that
hid both the use and the cap), and each is checked before it becomes a PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from simulations import plots
from simulations.metrics import summarise
from simulations.records import Outcome, RoundOutcome, RunResult
from simulations.sweep import PointResult
from tests.simulations.tiny import tiny

START = datetime(2026, 1, 5, tzinfo=UTC)
CLUSTERS = ["de-a", "fr-b"]


def round_outcome(i: int, energy_mwh: float, cap_mwh: float | None) -> RoundOutcome:
    return RoundOutcome(
        round=i, start=START + timedelta(days=7 * i), new=10, carried=2, offered=12, assigned=9, expired=1,
        offered_by_category={"university": 7, "sme": 5}, assigned_by_category={"university": 5, "sme": 4},
        attainment={"university": 0.8 + 0.1 * i, "sme": 1.2}, min_attainment=0.8, gpu_hours=900.0,
        capacity_gpu_hours=1200.0, energy_mwh=energy_mwh, energy_budget_mwh=cap_mwh, co2_t=20.0,
        carbon_budget_t=None, utilisation={c: 0.7 for c in CLUSTERS}, first_day=7 * i,
        daily_used_gpu_h={c: [80.0] * 7 for c in CLUSTERS}, daily_offered_gpu_h={c: [100.0] * 7 for c in CLUSTERS},
        solver_seconds=1.0)


def outcome(n: int) -> Outcome:
    served = n % 3 != 0
    return Outcome(id=f"r{n}", org=f"org{n % 4}", category="university" if n % 2 else "sme", gpus=4,
                   arrival_slot=n, deadline_slot=n + 100, work_gpu_h=40.0, first_round=0, rounds_offered=1,
                   status="served" if served else "expired", served_round=0 if served else -1,
                   cluster=CLUSTERS[n % 2] if served else "", start_slot=n + 5 * n if served else -1,
                   end_slot=n + 5 * n + 10 if served else -1, gpu_hours=40.0 * n if served else 0.0)


def run(energy: list[float], cap: float | None, name: str = "fair") -> RunResult:
    return RunResult(scenario=name, seed=0, start=START, slot_minutes=60, round_slots=168, clusters=CLUSTERS,
                     installed_gpu_hours=10_000.0, rounds=[round_outcome(i, e, cap) for i, e in enumerate(energy)],
                     outcomes=[outcome(n) for n in range(1, 30)])


OVER_CAP = run([60.0, 105.2, 104.8], 100.0)  # the report's case: about 105 MWh used against a 100 MWh cap
UNDER_CAP = run([20.0, 30.0, 25.0], 100.0, "greedy")  # the cap far above the use
NO_CAP = run([20.0, 30.0, 25.0], None, "uncapped")


def points() -> list[PointResult]:
    return [PointResult(index=i, params={"demand_ratio": d, "policy": p}, seed=0, summary=summarise(r, tiny().sci),
                        rounds=r.rounds)
            for i, (d, p, r) in enumerate([(1.0, "fair", OVER_CAP), (2.0, "fair", UNDER_CAP),
                                           (1.0, "greedy", NO_CAP), (2.0, "greedy", OVER_CAP)])]


FIGURES = [
    pytest.param(lambda: plots.energy_against_cap({"fair": OVER_CAP}), id="energy above its cap"),
    pytest.param(lambda: plots.energy_against_cap({"fair": OVER_CAP, "greedy": UNDER_CAP, "none": NO_CAP}),
                 id="energy of three runs, one far under its cap and one without"),
    pytest.param(lambda: plots.attainment_over_time({"fair": OVER_CAP, "greedy": UNDER_CAP}),
                 id="attainment over time"),
    pytest.param(lambda: plots.lorenz_curves({"fair": OVER_CAP}), id="lorenz curves"),
    pytest.param(lambda: plots.utilisation_heatmap(OVER_CAP), id="utilisation heatmap"),
    pytest.param(lambda: plots.waiting_times({"fair": OVER_CAP, "greedy": UNDER_CAP}), id="waiting times"),
    pytest.param(lambda: plots.acceptance_against_parameters(points(), ["demand_ratio", "policy"]),
                 id="acceptance against parameters"),
]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures as they are about to become PNGs, kept open for inspection."""
    import matplotlib.pyplot as plt

    figures: list[Any] = []

    def keep(fig: Any) -> bytes:
        fig.canvas.draw()  # the limits as the PNG has them, after layout and autoscaling
        figures.append(fig)
        return b""

    monkeypatch.setattr(plots, "_png", keep)
    yield figures
    for fig in figures:
        plt.close(fig)


@pytest.mark.parametrize("draw", FIGURES)
def test_every_figure_shows_all_of_its_data(draw: Callable[[], bytes], drawn: list[Any]) -> None:
    draw()
    (fig,) = drawn
    checked = 0
    for ax in (a for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"):
        for what, points in data(ax):
            outside = [p for p in points if not inside(ax, p)]
            assert not outside, f"{ax.get_title()}: {what} has {outside[:3]} outside x {ax.get_xlim()}, " \
                                f"y {ax.get_ylim()}"
            checked += len(points)
    assert checked, "the figure drew no data to check"


def test_the_cap_line_and_the_use_above_it_both_show(drawn: list[Any]) -> None:
    plots.energy_against_cap({"fair": OVER_CAP})
    (fig,) = drawn
    low, high = fig.axes[0].get_ylim()
    assert low == 0 and high > 105.2


def data(ax: Any) -> list[tuple[str, list[tuple[float, float]]]]:
    """Every plotted point of ``ax``: lines' vertices, patches' outlines and images' corners."""
    out = []
    for line in ax.get_lines():
        points = finite(line.get_xydata())
        if line.get_transform() != ax.transData:  # axhline: x spans the axes by construction, only y is data
            points = [(sum(ax.get_xlim()) / 2, y) for _, y in points]
        out.append((f"line {line.get_label()!r}", points))
    out += [(f"patch {p.get_label()!r}", finite(p.get_xy())) for p in ax.patches]
    for image in ax.images:
        left, right, bottom, top = image.get_extent()
        out.append(("image", [(left, bottom), (right, top)]))
    return out


def finite(xy: Any) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in np.asarray(xy, dtype=float) if np.isfinite(x) and np.isfinite(y)]


def inside(ax: Any, point: tuple[float, float]) -> bool:
    x, y = point
    if ax.get_yscale() == "log" and y <= 0:  # a histogram's baseline, which a log axis cannot show
        return True
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    eps = 1e-9 * max(1.0, abs(x1 - x0), abs(y1 - y0))
    return x0 - eps <= x <= x1 + eps and y0 - eps <= y <= y1 + eps
