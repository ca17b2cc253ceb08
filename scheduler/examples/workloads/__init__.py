"""Short real workloads for the demo's Ray jobs: each runs a few seconds on CPU and prints what it found.

Every workload reports the GPUs Ray gave its driver (``CUDA_VISIBLE_DEVICES``), which is how the
demo shows that the gang's size is enforced by Ray itself.  Run one with
``python -m scheduler.examples.workloads.NAME --help``.
"""

from __future__ import annotations

import os


def gang() -> str:
    """The GPUs Ray assigned to this job's driver, as Ray exports them."""
    return os.environ.get("CUDA_VISIBLE_DEVICES", "none")
