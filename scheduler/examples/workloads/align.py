"""Smith-Waterman local alignment of random DNA reads against a reference, vectorised along anti-diagonals."""

from __future__ import annotations

import argparse

import numpy as np

from scheduler.examples.workloads import gang


def best_score(a: np.ndarray, b: np.ndarray, match: int = 2, mismatch: int = -1, gap: int = -2) -> int:
    h = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int32)
    for i in range(1, len(a) + 1):
        diag = h[i - 1, :-1] + np.where(a[i - 1] == b, match, mismatch)
        row = np.maximum(0, np.maximum(diag, h[i - 1, 1:] + gap))
        for j in range(1, len(b) + 1):  # the left gap is sequential within a row
            row[j - 1] = max(row[j - 1], h[i, j - 1] + gap)
            h[i, j] = row[j - 1]
    return int(h.max())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reads", type=int, default=6)
    p.add_argument("--length", type=int, default=120)
    args = p.parse_args()
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 4, 400)
    scores = [best_score(rng.integers(0, 4, args.length), reference) for _ in range(args.reads)]
    print(f"align: {args.reads} reads, best local scores {scores}; gang GPUs {gang()}")


if __name__ == "__main__":
    main()
