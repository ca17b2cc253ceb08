"""Metrics checked by hand on tiny cases."""

from __future__ import annotations

import math

import pytest

from simulations.metrics import acceptance, gini, jain, lorenz, top_share, waiting_hours
from simulations.records import Outcome, Status
from simulations.runner import co2_kg
from solver.sci import SciSpec, sci


def outcome(id: str, status: Status, *, org: str = "a", arrival: int = 0, start: int = -1, gpu_hours: float = 0.0
            ) -> Outcome:
    return Outcome(id=id, org=org, category="sme", gpus=1, arrival_slot=arrival, deadline_slot=100, work_gpu_h=1.0,
                   first_round=0, rounds_offered=1, status=status,
                   start_slot=start, end_slot=start + 1 if start >= 0 else -1, gpu_hours=gpu_hours)


@pytest.mark.parametrize(
    "xs, want_jain, want_gini, want_top",
    [
        # (1+2+3)² / (3 · (1+4+9)) = 36/42; Σ|xi−xj| over ordered pairs = 8, / (2 · 3² · 2) = 2/9
        pytest.param([1.0, 2.0, 3.0], 36 / 42, 2 / 9, 1.0, id="three orgs 1:2:3"),
        pytest.param([5.0, 5.0, 5.0], 1.0, 0.0, 1.0, id="three equal orgs"),
        pytest.param([0.0, 0.0, 9.0], 1 / 3, 2 / 3, 1.0, id="one org takes everything"),
        pytest.param([0.0, 0.0, 0.0], 0.0, 0.0, 0.0, id="nothing given"),
    ],
)
def test_fairness_across_three_orgs(xs: list[float], want_jain: float, want_gini: float, want_top: float) -> None:
    assert jain(xs) == pytest.approx(want_jain)
    assert gini(xs) == pytest.approx(want_gini)
    assert top_share(xs) == pytest.approx(want_top)


def test_top_ten_share_leaves_out_the_eleventh_and_below() -> None:
    xs = [10.0] * 10 + [5.0, 5.0]  # top ten hold 100 of 110
    assert top_share(xs) == pytest.approx(100 / 110)


def test_lorenz_curve_of_three_orgs() -> None:
    xs, ys = lorenz([3.0, 1.0, 2.0])
    assert xs == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert ys == pytest.approx([0, 1 / 6, 3 / 6, 1])


def test_acceptance_counts_expired_but_not_open_requests() -> None:
    out = [outcome("a", "served", start=0), outcome("b", "served", start=0), outcome("c", "expired"),
           outcome("d", "open")]
    assert acceptance(out) == pytest.approx(2 / 3)


def test_waiting_time_of_a_carried_over_request_spans_the_rounds() -> None:
    # arrived at slot 20 of a 24-slot round, carried over, started at slot 30 of the next: 10 slots of 30 min
    carried = outcome("late", "served", arrival=20, start=30)
    expired = outcome("gone", "expired", arrival=0)
    assert waiting_hours([carried, expired], slot_hours=0.5).tolist() == [5.0]


def test_co2_spreads_energy_evenly_over_the_slots_it_runs() -> None:
    # 10 kWh over slots 1 and 2 at 100 and 300 g/kWh: 5·100 + 5·300 = 2,000 g
    assert co2_kg(10.0, [50.0, 100.0, 300.0, 900.0], 1, 3) == pytest.approx(2.0)


def test_sci_adds_embodied_carbon_of_installed_gpus_per_gpu_hour_served() -> None:
    spec = SciSpec(embodied_kg_per_gpu=876.6, lifetime_years=10.0)  # 876.6 kg / 87,660 h = 10 g per GPU-hour
    assert spec.kg_per_gpu_hour == pytest.approx(0.01)
    # 100 GPUs installed for 10 h = 1,000 GPU-h → M = 10 kg; E·I = 5 kg; R = 500 GPU-h served: 15,000 g / 500
    embodied = spec.kg_per_gpu_hour * 1_000.0
    assert sci(5.0, embodied, 500.0) == pytest.approx(30.0)
    assert sci(5.0, embodied, 0.0) == 0.0
    assert not math.isnan(sci(0.0, 0.0, 1.0))
