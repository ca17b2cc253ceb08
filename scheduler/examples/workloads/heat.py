"""Explicit finite differences for 2-D heat diffusion on a plate with one hot edge; reports the centre temperature."""

from __future__ import annotations

import argparse

import numpy as np

from scheduler.examples.workloads import gang


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--grid", type=int, default=200)
    p.add_argument("--steps", type=int, default=2000)
    args = p.parse_args()
    u = np.zeros((args.grid, args.grid))
    u[0, :] = 100.0
    for _ in range(args.steps):
        u[1:-1, 1:-1] += 0.2 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])
    centre = u[args.grid // 2, args.grid // 2]
    print(f"heat: centre {centre:.4f} degrees after {args.steps} steps on {args.grid}^2; gang GPUs {gang()}")


if __name__ == "__main__":
    main()
