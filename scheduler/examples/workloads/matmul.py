"""Dense matrix multiplication throughput: the kernel that dominates model training, measured in GFLOP/s."""

from __future__ import annotations

import argparse
import time

import numpy as np

from scheduler.examples.workloads import gang


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=8)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.size, args.size), dtype=np.float32)
    b = rng.standard_normal((args.size, args.size), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        a = (a @ b) / np.float32(args.size)
    seconds = time.perf_counter() - t0
    gflops = 2 * args.size**3 * args.repeats / seconds / 1e9
    print(f"matmul {args.size}x{args.size} x{args.repeats}: {gflops:.1f} GFLOP/s on CPU; gang GPUs {gang()}")


if __name__ == "__main__":
    main()
