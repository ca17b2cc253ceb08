"""What an executed allocation actually used, set beside what the plan said it would.

The plan prices every job at its GPUs' board power (TDP) at full utilisation, times the cluster's
PUE (``solver/index.py``): an upper estimate chosen so that the energy budget is never overrun.  The
actual figures use what the run really took:

- GPU-hours: gang size × the run's wall-clock hours, from the backend's start and end times;
- energy: the GPUs' measured mean power where the cluster agent reports it (DCGM or Kepler), else
  board power × ``utilisation`` (a setting); times PUE in both cases, like the plan;
- CO2: the energy spread evenly over the run, each piece at the carbon intensity of the forecast step
  it falls in (the same forecast the round planned with).  A cluster that reports no carbon data has
  unknown CO2 (``None``), never 0;
- SCI per GPU-hour (ISO/IEC 21031, :mod:`solver.sci`): operational plus embodied emissions over the
  GPU-hours, unknown where CO2 is.

Pure: the executor calls :func:`usage` when a job ends, the ledger :func:`total` to sum figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.domain import CarbonForecast, ClusterRecord, Usage
from solver.sci import SciSpec, sci


def usage(cluster: ClusterRecord, gpu_type: str, gpus: int, started_at: datetime, ended_at: datetime, *,
          utilisation: float, embodied: SciSpec | None = None) -> Usage:
    """The actual figures of a run of ``gpus`` GPUs of ``gpu_type`` on ``cluster`` over ``[started_at, ended_at)``."""
    ended_at = max(ended_at, started_at)
    hours = (ended_at - started_at).total_seconds() / 3600.0
    measured = cluster.gpu_power_w.get(gpu_type)
    watts = measured if measured is not None else cluster.gpu_types[gpu_type].tdp_watts * utilisation
    power_kw = gpus * watts * cluster.pue / 1000.0
    co2 = None if cluster.carbon is None else emissions_kg(power_kw, cluster.carbon, started_at, ended_at)
    gpu_hours = gpus * hours
    embodied_kg = (embodied or SciSpec()).kg_per_gpu_hour * gpu_hours
    return Usage(
        started_at=started_at,
        ended_at=ended_at,
        gpu_hours=gpu_hours,
        energy_kwh=power_kw * hours,
        energy_source="measured" if measured is not None else "estimated",
        co2_kg=co2,
        sci_g_per_gpu_hour=None if co2 is None or gpu_hours == 0 else sci(co2, embodied_kg, gpu_hours),
    )


def emissions_kg(power_kw: float, carbon: CarbonForecast, start: datetime, end: datetime) -> float:
    """kgCO2e of a constant draw of ``power_kw`` over ``[start, end)``, step by step of the forecast.

    Before the forecast the first value holds, after it the last, as in :meth:`CarbonForecast.over`.
    """
    step = timedelta(minutes=carbon.step_minutes)
    grams = 0.0
    t = start
    while t < end:
        i = math.floor((t - carbon.start) / step)
        boundary = carbon.start + (i + 1) * step
        piece_end = min(end, boundary)
        intensity = carbon.values[min(max(i, 0), len(carbon.values) - 1)]
        grams += power_kw * (piece_end - t).total_seconds() / 3600.0 * intensity
        t = piece_end
    return grams / 1000.0


@dataclass(frozen=True)
class Figures:
    """Summed GPU-hours, energy and CO2; ``co2_unknown`` counts the items whose CO2 nobody knows."""

    items: int = 0
    gpu_hours: float = 0.0
    energy_kwh: float = 0.0
    co2_kg: float = 0.0
    co2_unknown: int = 0

    @property
    def co2_known(self) -> float | None:
        """The CO2 total, or ``None`` when no item's CO2 is known."""
        return None if self.items and self.co2_unknown == self.items else self.co2_kg


def total(items: Iterable[tuple[float, float, float | None]]) -> Figures:
    """Sum ``(gpu_hours, energy_kwh, co2_kg or None)`` triples."""
    n = unknown = 0
    hours = energy = co2 = 0.0
    for h, e, c in items:
        n += 1
        hours += h
        energy += e
        if c is None:
            unknown += 1
        else:
            co2 += c
    return Figures(items=n, gpu_hours=hours, energy_kwh=energy, co2_kg=co2, co2_unknown=unknown)
