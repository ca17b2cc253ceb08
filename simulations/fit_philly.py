"""Refit the Philly calibration from the trace, so the constants in ``calibration.py`` can be checked and renewed.

``python -m simulations.fit_philly [path]`` prints a ``PHILLY = Calibration(...)`` block to paste into
``simulations/calibration.py``; the test suite compares that block with a fresh fit.  Only this module
reads the trace, and nothing imports it at run time.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np

from simulations.calibration import DURATION_PROBS, GANG_BUCKETS, Calibration

DEFAULT_TRACE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "philly_normalized.csv"


def _sig(x: float, digits: int = 5) -> float:
    """Round to significant digits, so the pasted constants stay readable and exact to the test tolerance."""
    return float(f"{x:.{digits}g}")


def _shape(counts: np.ndarray) -> tuple[float, ...]:
    """Counts per bin as factors with mean 1 (1.3 means 30 % busier than average)."""
    return tuple(_sig(c / counts.mean(), 4) for c in counts)


def fit(path: Path | str = DEFAULT_TRACE) -> Calibration:
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    duration_h = data[:, 0] / 3600.0
    gpus = data[:, 1].astype(np.int64)
    submit_s = data[:, 3]
    span_days = float(submit_s.max() - submit_s.min()) / 86400.0

    sizes, counts = np.unique(gpus, return_counts=True)
    quantiles = []
    for lo, hi in GANG_BUCKETS:
        in_bucket = duration_h[(gpus >= lo) & (gpus <= hi)]
        quantiles.append(tuple(_sig(q) for q in np.quantile(in_bucket, DURATION_PROBS)))

    log_d = np.log(np.maximum(duration_h, 1.0 / 3600.0))
    rank_g = np.argsort(np.argsort(gpus, kind="stable"), kind="stable")
    rank_d = np.argsort(np.argsort(duration_h, kind="stable"), kind="stable")
    offset_h = (submit_s - submit_s.min()) / 3600.0
    return Calibration(
        jobs=len(data),
        span_days=_sig(span_days),
        gpu_hours=_sig(float((duration_h * gpus).sum())),
        gang_sizes=tuple(int(s) for s in sizes),
        gang_probs=tuple(_sig(c / counts.sum()) for c in counts),
        duration_quantiles_h=tuple(quantiles),
        duration_log_mean=_sig(float(log_d.mean()), 4),
        duration_log_std=_sig(float(log_d.std()), 4),
        size_duration_spearman=_sig(float(np.corrcoef(rank_g, rank_d)[0, 1]), 3),
        log_size_log_duration_corr=_sig(float(np.corrcoef(np.log(gpus), log_d)[0, 1]), 3),
        arrivals_per_day=_sig(len(data) / span_days),
        hour_of_day=_shape(np.bincount((offset_h % 24).astype(np.int64), minlength=24)),
        day_of_week=_shape(np.bincount(((offset_h // 24) % 7).astype(np.int64), minlength=7)),
    )


def _wrapped(values: tuple[object, ...], indent: str) -> list[str]:
    """A tuple's items spread over lines that fit the 120-column limit."""
    return textwrap.wrap(", ".join(repr(v) for v in values) + ",", 120 - len(indent), initial_indent=indent,
                         subsequent_indent=indent, break_on_hyphens=False)


def as_python(cal: Calibration) -> str:
    """The calibration as a constant you can paste into ``calibration.py``."""
    lines = ["PHILLY = Calibration("]
    for name, value in vars(cal).items():
        if name == "duration_quantiles_h":
            lines.append(f"    {name}=(")
            for row in value:
                lines += ["        (", *_wrapped(row, " " * 12), "        ),"]
            lines.append("    ),")
        elif isinstance(value, tuple) and len(f"    {name}={value!r},") > 120:
            lines += [f"    {name}=(", *_wrapped(value, " " * 8), "    ),"]
        else:
            lines.append(f"    {name}={value!r},")
    lines.append(")")
    return "\n".join(lines)


if __name__ == "__main__":
    print(as_python(fit(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TRACE)))
