"""The workload generator: seeded, calibrated to Philly, and producing benchmarks where every rule binds."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulations.calibration import PHILLY
from simulations.clusters import GPU_TYPES, carbon_profile, european_clusters, full_draw_kw
from simulations.workload import DemandModel, arrival_rate, bench_problem, demand_ratio, generate_requests, sample_jobs
from solver.problem import Cluster, Horizon, Problem, Request

TRACE = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "philly_normalized.csv"


@pytest.fixture(scope="module", params=["S", "M"])
def bench(request: pytest.FixtureRequest) -> Problem:
    return bench_problem(request.param, seed=7)


def test_same_seed_gives_the_same_problem() -> None:
    assert bench_problem("S", 3).model_dump_json() == bench_problem("S", 3).model_dump_json()
    assert bench_problem("S", 3).model_dump_json() != bench_problem("S", 4).model_dump_json()


def test_bench_validates_and_asks_for_about_twice_the_capacity(bench: Problem) -> None:
    again = Problem.model_validate_json(bench.model_dump_json())
    assert again == bench
    assert 1.5 <= demand_ratio(bench) <= 2.5


def test_bench_gangs_runtimes_and_windows_are_in_bounds(bench: Problem) -> None:
    for r in bench.requests:
        assert 1 <= r.gpus <= 128
        assert all(1 <= rt <= 72 for rt in r.runtime_slots.values())
        assert r.deadline_slot is not None
        assert r.earliest_slot + r.fastest_runtime <= r.deadline_slot <= bench.horizon.slots
    sizes = Counter(r.gpus for r in bench.requests)
    assert sizes[1] > 0 and max(sizes) >= 64, "gangs span single GPUs to large jobs"


def test_bench_names_only_types_and_countries_that_exist(bench: Problem) -> None:
    types = {g for c in bench.clusters for g in c.gpus}
    countries = {c.country for c in bench.clusters}
    assert set(bench.gpu_types) == types
    for r in bench.requests:
        assert set(r.runtime_slots) <= types
        assert r.countries is None or set(r.countries) <= countries


def test_bench_rules_bind(bench: Problem) -> None:
    capped = [c for c in bench.clusters if c.power_cap_kw is not None and c.power_cap_kw < full_draw_kw(c.gpus)]
    assert capped, "some power cap must be below its site's full draw"
    assert any(c.unavailable for c in bench.clusters)
    assert sum(r.countries is not None for r in bench.requests) >= 0.15 * len(bench.requests)
    assert sum(len(r.runtime_slots) >= 2 for r in bench.requests) >= 0.3 * len(bench.requests)

    pue = min(c.pue for c in bench.clusters)
    least_mwh = sum(  # each request on its least-energy type, at the best PUE anywhere
        min(r.gpus * rt * bench.gpu_types[g].tdp_watts for g, rt in r.runtime_slots.items())
        * bench.horizon.slot_hours
        * pue
        / 1e6
        for r in bench.requests
    )
    assert bench.policy.energy_budget_mwh is not None
    assert 0 < bench.policy.energy_budget_mwh < 0.8 * least_mwh

    shares = bench.policy.category_shares
    assert 3 <= len(shares) <= 4 and abs(sum(shares.values()) - 1) < 1e-9
    assert bench.policy.org_cap_share is not None
    work_by_org: dict[str, float] = defaultdict(float)
    for r in bench.requests:
        work_by_org[r.org] += bench.work(r)
    assert max(work_by_org.values()) > bench.policy.org_cap_share * bench.gpu_hour_capacity()


def test_largest_bench_builds_quickly() -> None:
    started = time.perf_counter()
    problem = bench_problem("X", seed=0)
    elapsed = time.perf_counter() - started
    assert len(problem.requests) == 25_000 and len(problem.clusters) == 40
    assert 1.5 <= demand_ratio(problem) <= 2.5
    assert elapsed < 30, f"X took {elapsed:.1f} s (target < 10 s on an idle machine)"


HORIZON = Horizon(start=datetime(2025, 6, 2, tzinfo=UTC), slot_minutes=60, slots=96)


def _clusters(n: int = 6) -> list[Cluster]:
    return european_clusters(n, np.random.default_rng(1), HORIZON.slots, start=HORIZON.start)


@pytest.mark.parametrize(
    ("knobs", "check"),
    [
        pytest.param({"residency_share": 1.0}, lambda rs: all(r.countries for r in rs), id="everyone needs residency"),
        pytest.param({"residency_share": 0.0}, lambda rs: all(r.countries is None for r in rs), id="nobody does"),
        pytest.param({"flexible_share": 0.0}, lambda rs: all(len(r.runtime_slots) == 1 for r in rs), id="rigid"),
        pytest.param(
            {"categories": {"sme": 1.0}, "orgs": 1},
            lambda rs: {r.org for r in rs} == {"sme-001"},
            id="one organisation",
        ),
    ],
)
def test_knobs_steer_requests(knobs: dict[str, Any], check: Callable[[list[Request]], bool]) -> None:
    requests = generate_requests(DemandModel(**knobs), _clusters(), GPU_TYPES, HORIZON, np.random.default_rng(2), n=200)
    assert len(requests) == 200 and check(requests)


def test_poisson_arrivals_follow_the_rate_and_start_at_first_slot() -> None:
    model = DemandModel(arrivals_per_day=240.0)
    requests = generate_requests(
        model, _clusters(), GPU_TYPES, HORIZON, np.random.default_rng(3), id_prefix="round2", first_slot=24
    )
    expected = float(arrival_rate(model, HORIZON, first_slot=24).sum())  # Tue–Thu: busier than 3 × 240
    assert expected > 3 * 240 and abs(len(requests) - expected) < 4 * expected**0.5
    assert all(r.earliest_slot >= 24 and r.id.startswith("round2-") for r in requests)
    Problem(horizon=HORIZON, gpu_types=GPU_TYPES, clusters=_clusters(), requests=requests)


def test_growth_raises_the_arrival_count() -> None:
    flat = generate_requests(DemandModel(), _clusters(), GPU_TYPES, HORIZON, np.random.default_rng(4))
    grown = generate_requests(
        DemandModel(growth_per_month=5.0), _clusters(), GPU_TYPES, HORIZON, np.random.default_rng(4)
    )
    assert len(grown) > len(flat)


def test_large_philly_gangs_run_longer() -> None:
    gangs, hours = sample_jobs(DemandModel(replicas_log2=(0, 0)), 20_000, np.random.default_rng(5))
    assert np.median(hours[gangs >= 4]) > 2 * np.median(hours[gangs == 1])
    assert abs(np.mean(gangs == 1) - PHILLY.gang_probs[0]) < 0.01


@pytest.mark.parametrize(
    "knobs",
    [
        pytest.param({"arrival_rate": 3}, id="unknown knob"),
        pytest.param({"slack": (0.5, 2.0)}, id="slack below 1 leaves no room to finish"),
        pytest.param({"replicas_log2": (3, 1)}, id="reversed range"),
        pytest.param({"categories": {}}, id="no categories"),
    ],
)
def test_demand_model_rejects_bad_knobs(knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DemandModel(**knobs)


def test_sites_are_realistic() -> None:
    clusters = european_clusters(30, np.random.default_rng(9), 48)
    assert all(64 <= sum(c.gpus.values()) <= 2048 and 1 <= len(c.gpus) <= 3 for c in clusters)
    assert all(1.1 <= c.pue <= 1.5 for c in clusters)
    assert len({c.country for c in clusters}) >= 6
    assert GPU_TYPES["H100"].tdp_watts == 700 and GPU_TYPES["A100"].tdp_watts == 400


def test_carbon_dips_at_midday_and_peaks_in_the_evening() -> None:
    day = carbon_profile("ES", datetime(2025, 6, 2), 24)
    assert min(day) == min(day[11:16]) and max(day) == max(day[17:23])
    assert carbon_profile("PL", datetime(2025, 1, 6), 24)[3] > carbon_profile("PL", datetime(2025, 7, 7), 24)[3]
    assert np.mean(carbon_profile("SE", datetime(2025, 3, 3), 24)) < np.mean(
        carbon_profile("DE", datetime(2025, 3, 3), 24)
    )


def test_calibration_constants_match_a_refit_of_the_trace() -> None:
    if not TRACE.exists():
        pytest.skip(f"Philly trace not found at {TRACE}")
    from simulations.fit_philly import fit

    refit = fit(TRACE)
    for f in fields(refit):
        got, want = getattr(PHILLY, f.name), getattr(refit, f.name)
        np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float), rtol=1e-3, err_msg=f.name)
