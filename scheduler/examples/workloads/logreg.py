"""Train a logistic-regression classifier by gradient descent on synthetic data and report held-out accuracy."""

from __future__ import annotations

import argparse

import numpy as np

from scheduler.examples.workloads import gang


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--epochs", type=int, default=200)
    args = p.parse_args()
    rng = np.random.default_rng(1)
    w_true = rng.standard_normal(args.features)
    x = rng.standard_normal((args.samples, args.features))
    y = (x @ w_true + 0.5 * rng.standard_normal(args.samples) > 0).astype(float)
    split = int(0.8 * args.samples)
    w = np.zeros(args.features)
    for _ in range(args.epochs):
        pred = 1 / (1 + np.exp(-(x[:split] @ w)))
        w -= 0.5 * x[:split].T @ (pred - y[:split]) / split
    accuracy = float(np.mean(((x[split:] @ w) > 0) == (y[split:] > 0.5)))
    print(f"logreg: held-out accuracy {accuracy:.3f} after {args.epochs} epochs; gang GPUs {gang()}")


if __name__ == "__main__":
    main()
