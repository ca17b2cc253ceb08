"""A zero-dimensional energy-balance climate model run as an ensemble over climate sensitivities."""

from __future__ import annotations

import argparse

import numpy as np

from scheduler.examples.workloads import gang

FORCING_2XCO2 = 3.7  # W/m2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--members", type=int, default=2000)
    p.add_argument("--years", type=int, default=150)
    args = p.parse_args()
    rng = np.random.default_rng(2)
    sensitivity = rng.uniform(2.0, 4.5, args.members)  # K per doubling
    lam = FORCING_2XCO2 / sensitivity
    heat_capacity = 8.0  # W yr m-2 K-1, mixed layer
    t = np.zeros(args.members)
    for year in range(args.years):
        forcing = FORCING_2XCO2 * min(year / 70.0, 2.0)  # 1 %/yr CO2 to doubling, then to quadrupling
        t += (forcing - lam * t) / heat_capacity
    lo, mid, hi = np.percentile(t, [5, 50, 95])
    print(f"climate: warming after {args.years} years {mid:.2f} K (5-95 %: {lo:.2f}-{hi:.2f}); gang GPUs {gang()}")


if __name__ == "__main__":
    main()
