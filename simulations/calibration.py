"""Fitted shape of the Microsoft Philly trace (Jeon et al., ATC'19), kept as constants so nothing reads the trace.

Source: ``philly_normalized.csv`` (82,247 jobs over ~109 days; see ``shared/traces/README.md``).
``simulations.fit_philly`` recomputes every number below, and ``tests/test_workload.py`` checks that
they still match the trace.

- Gang size: the empirical distribution of ``num_gpus`` (93 % of Philly jobs use one GPU).
- Duration: empirical quantiles in hours at ``DURATION_PROBS``, per gang-size bucket, because larger gangs
  run markedly longer (median 0.3 h for one GPU, ~6.6 h for 5–8 GPUs); samples interpolate the table
  linearly in log-hours.  The overall log-normal moments are kept for reference only.
- Arrivals: jobs per day over the trace span, and hour-of-day and day-of-week factors (mean 1).  The
  normalised trace only gives offsets from its first job, so hour 0 and day 0 are the trace's own
  origin, not local midnight or a Monday; use the shapes as shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

# Gang-size buckets (inclusive GPU bounds) that each get a duration table; buckets past 8 GPUs are
# merged because Philly has only 289 such jobs.
GANG_BUCKETS: tuple[tuple[int, int], ...] = ((1, 1), (2, 2), (3, 4), (5, 8), (9, 128))
DURATION_PROBS: tuple[float, ...] = (
    0.0, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
    0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 1.0,
)  # fmt: skip


@dataclass(frozen=True)
class Calibration:
    jobs: int
    span_days: float
    gpu_hours: float
    gang_sizes: tuple[int, ...]
    gang_probs: tuple[float, ...]
    duration_quantiles_h: tuple[tuple[float, ...], ...]  # one row per GANG_BUCKETS entry
    duration_log_mean: float  # ln(hours), all jobs
    duration_log_std: float
    size_duration_spearman: float  # rank correlation; ties at one GPU and short 2-GPU runs keep it near 0
    log_size_log_duration_corr: float
    arrivals_per_day: float
    hour_of_day: tuple[float, ...]  # 24 factors, mean 1
    day_of_week: tuple[float, ...]  # 7 factors, mean 1

    def bucket(self, gpus: int) -> int:
        """Row of ``duration_quantiles_h`` for a Philly gang size."""
        for i, (lo, hi) in enumerate(GANG_BUCKETS):
            if lo <= gpus <= hi:
                return i
        return len(GANG_BUCKETS) - 1


PHILLY = Calibration(
    jobs=82247,
    span_days=108.9,
    gpu_hours=978080.0,
    gang_sizes=(1, 2, 4, 8, 12, 16, 24, 32, 64, 128),
    gang_probs=(
        0.93167, 0.022104, 0.022736, 0.019976, 8.5109e-05, 0.0024195, 8.5109e-05, 0.00081462, 7.2951e-05,
        3.6475e-05,
    ),
    duration_quantiles_h=(
        (
            0.00027778, 0.0083333, 0.012222, 0.014444, 0.017222, 0.019167, 0.021111, 0.033889, 0.059722,
            0.10694, 0.16667, 0.2375, 0.31028, 0.40167, 0.48, 0.57056, 0.6845, 0.75444, 1.0428, 1.4839,
            2.3644, 5.3158, 15.422, 37.611, 904.46,
        ),
        (
            0.00055556, 0.0013889, 0.0019444, 0.0025, 0.0030556, 0.0036111, 0.0041667, 0.0044444, 0.0047222,
            0.005, 0.0052778, 0.0055556, 0.0058333, 0.0063889, 0.0069444, 0.0077778, 0.0091667, 0.021111,
            0.041444, 6.1821, 20.206, 54.739, 80.253, 145.37, 717.45,
        ),
        (
            0.00083333, 0.0099139, 0.014368, 0.020833, 0.038278, 0.049819, 0.11244, 0.21465, 0.47103,
            1.2382, 2.0744, 3.6352, 4.836, 7.292, 10.08, 15.791, 21.85, 24.832, 29.523, 42.069, 51.232,
            76.102, 138.71, 252.05, 764.08,
        ),
        (
            0.00027778, 0.0092833, 0.02, 0.034722, 0.060056, 0.12886, 0.21794, 0.52111, 1.1143, 2.0185,
            3.4395, 4.6252, 6.5786, 10.165, 18.059, 29.428, 39.089, 48.125, 56.403, 67.292, 97.773, 146.01,
            206.5, 294.58, 1285.6,
        ),
        (
            0.00027778, 0.0010444, 0.0031111, 0.0098333, 0.020056, 0.061056, 0.095833, 0.15722, 0.24711,
            0.42544, 0.87961, 2.3671, 5.8714, 12.588, 14.93, 16.382, 20.364, 28.949, 44.164, 50.439, 68.881,
            123.12, 147.81, 256.29, 475.18,
        ),
    ),
    duration_log_mean=-1.398,
    duration_log_std=2.156,
    size_duration_spearman=-0.0411,
    log_size_log_duration_corr=0.206,
    arrivals_per_day=755.27,
    hour_of_day=(
        0.8381, 0.9557, 0.7184, 0.6504, 0.616, 0.7844, 0.8033, 0.6647, 0.7599, 0.9326, 0.8993, 1.067, 1.075,
        1.14, 1.039, 1.135, 1.223, 0.7596, 0.8804, 1.493, 1.96, 1.418, 1.345, 0.843,
    ),
    day_of_week=(0.8919, 0.9731, 1.443, 1.289, 0.8971, 0.7169, 0.7894),
)
