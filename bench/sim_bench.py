"""``make bench-sim``: the simulation benchmark, printed as one Markdown table per part.

1. Rounds: 26 weekly rounds (168 hourly slots each) of Philly-calibrated demand, about 80,000 requests
   in all, on 12 generated European sites sized so that demand asks 1.5× what they offer.  Each round
   is solved with a wall-clock limit (printed); the baseline is the same rounds with the policy's greedy
   first plan only (no neighbourhood search).  Target: at most 10 minutes on 2 cores.
2. Sweep: 16 points (SME share × energy cap) on a one-week version of that world, each solved on a fixed
   neighbourhood budget, run serially and then as Ray tasks on 2 local workers.  The baseline is the
   serial run; the digests of every point must match.  Ray's start-up, and a warm-up task per worker that
   imports the solver, are timed apart.  Target: ≥ 1.8×.

``python -m bench.sim_bench --quick`` runs a tiny configuration end to end in about a minute.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

from simulations.metrics import Summary, summarise
from simulations.runner import run
from simulations.scenario import Scenario, validate
from simulations.sweep import Grid, points, run_ray, run_serial

ROUNDS_TARGET_S, SPEEDUP_TARGET = 600.0, 1.8

WORLD: dict[str, Any] = {
    "name": "bench-sim",
    "seed": 0,
    "start": "2026-01-05T00:00:00Z",
    "weeks": 26,
    "round_slots": 168,
    "sites": {"generated": {"count": 12, "demand_ratio": 1.5}},
    "policy": {
        "category_shares": {"university": 0.45, "sme": 0.2, "public_sector": 0.15, "civil_society": 0.1,
                            "industry": 0.1},
        "org_cap_share": 0.15,
        "energy_share": 0.65,
    },
    "demand": {"arrivals_per_day": 440.0, "orgs": 200},  # 440 × 182 days ≈ 80,000 requests
    "solver": {"policy": "fair", "time_limit_s": 15.0, "neighbourhoods": None, "neighbourhood_dtime": 0.2},
}
FULL = {"rounds": {}, "sweep": {"weeks": 1, "solver.neighbourhoods": 4}}
QUICK = {
    "rounds": {"weeks": 1, "round_slots": 24, "sites.generated.count": 3, "demand.arrivals_per_day": 40.0,
               "demand.max_runtime_slots": 12, "solver.time_limit_s": 2.0},
    "sweep": {"weeks": 1, "round_slots": 84, "sites.generated.count": 3, "demand.arrivals_per_day": 30.0,
              "demand.max_runtime_slots": 12, "solver.neighbourhoods": 3},
}
SWEEP = {"policy.category_shares.sme": [0.15, 0.2, 0.25, 0.3], "policy.energy_share": [0.39, 0.5, 0.65, 0.8]}
QUICK_SWEEP = {"policy.category_shares.sme": [0.2, 0.3], "policy.energy_share": [0.5, 0.8]}


def scenario(overrides: dict[str, Any]) -> Scenario:
    from simulations.scenario import apply_overrides

    return validate(apply_overrides(WORLD, overrides), "bench world")


def timed_run(s: Scenario) -> tuple[float, Summary, int]:
    t0 = time.perf_counter()
    result = run(s, on_round=lambda done, total, r: print(f"  round {done}/{total}: {r.offered} offered, "
                                                          f"{r.assigned} assigned, {r.solver_seconds:.1f} s solve",
                                                          flush=True))
    wall = time.perf_counter() - t0
    return wall, summarise(result, s.sci), len(result.outcomes)


def bench_rounds(overrides: dict[str, Any]) -> None:
    full = scenario(overrides)
    greedy = scenario(overrides | {"solver.neighbourhoods": 0, "solver.time_limit_s": 3600.0})
    print(f"rounds: {full.rounds} × {full.round_slots} slots, solver wall-clock limit {full.solver.time_limit_s:g} s "
          f"per round, fair policy, 1 worker", flush=True)
    wall, summ, n = timed_run(full)
    print("baseline: greedy first plan only", flush=True)
    g_wall, g_summ, _ = timed_run(greedy)
    print(f"\n| {full.rounds} rounds, {n:,} requests | solver ({full.solver.time_limit_s:g} s/round) "
          f"| baseline (greedy only) | target |")
    print("|---|---:|---:|---:|")
    print(f"| wall time | {wall:.0f} s | {g_wall:.0f} s | ≤ {ROUNDS_TARGET_S:.0f} s |")
    print(f"| per round | {wall / full.rounds:.1f} s | {g_wall / full.rounds:.1f} s | |")
    for field, label, fmt in [("acceptance", "acceptance", "{:.1%}"), ("gpu_hours", "GPU-hours", "{:,.0f}"),
                              ("mean_min_attainment", "mean min attainment", "{:.3f}"),
                              ("utilisation", "utilisation", "{:.1%}"), ("co2_t", "tCO2", "{:,.1f}")]:
        print(f"| {label} | {fmt.format(getattr(summ, field))} | {fmt.format(getattr(g_summ, field))} | |")


def _warm_up() -> int:
    import simulations.sweep  # noqa: F401  (numpy, OR-Tools, pydantic and the solver)

    time.sleep(1.0)  # hold the CPU so that the other warm-up lands on the other worker
    return os.getpid()


def bench_sweep(overrides: dict[str, Any], parameters: dict[str, list[Any]], workers: int) -> None:
    import ray

    grid = Grid(name="bench-sweep", base="(in code)", parameters=parameters, overrides=overrides)
    todo = points(grid, WORLD)
    print(f"\nsweep: {len(todo)} points × {todo[0].scenario.rounds} round(s), "
          f"{todo[0].scenario.solver.neighbourhoods} neighbourhoods per round", flush=True)
    serial = run_serial(todo, lambda d, t: print(f"  serial {d}/{t}", flush=True))
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    warm = ray.remote(num_cpus=1)(_warm_up)
    ray.get([warm.remote() for _ in range(workers)])  # each worker imports the solver once, before timing
    startup = time.perf_counter() - t0
    try:
        parallel = run_ray(todo, workers=workers, on_point=lambda d, t: print(f"  ray {d}/{t}", flush=True))
    finally:
        ray.shutdown()
    same = [a.summary.digest == b.summary.digest for a, b in zip(serial.points, parallel.points, strict=True)]
    speedup = serial.wall_seconds / parallel.wall_seconds
    print(f"\n| {len(todo)}-point sweep | serial (baseline) | Ray, {workers} workers | target |")
    print("|---|---:|---:|---:|")
    ray_wall = f"{parallel.wall_seconds:.1f} s (+{startup:.1f} s start-up and warm-up)"
    print(f"| wall time | {serial.wall_seconds:.1f} s | {ray_wall} | |")
    print(f"| speed-up | 1.00× | {speedup:.2f}× | ≥ {SPEEDUP_TARGET}× |")
    print(f"| identical results | | {sum(same)}/{len(same)} points | all |")
    if not all(same):
        raise SystemExit("Ray and serial sweeps differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny configuration, to check the bench runs")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    print(f"# simulation bench{' (--quick)' if args.quick else ''}: {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}", flush=True)
    bench_rounds(config["rounds"])
    bench_sweep(config["sweep"], QUICK_SWEEP if args.quick else SWEEP, args.workers)


if __name__ == "__main__":
    main()
