"""Where a run's requests come from: the calibrated generator, or a replayed trace (``simulations.trace``).

Both sources hand the runner requests in *absolute* slots (counted from the scenario's start); the
runner cuts each round's window out of them.  Randomness comes from named streams,
``SeedSequence(seed, spawn_key=(stream, round))``, so a round's arrivals do not depend on how many
numbers another round or another stream drew, and two scenarios that share a seed share their demand
wherever their worlds agree (common random numbers, which keeps sweep comparisons sharp).

The generator clips each deadline to the horizon it is given.  A round's arrivals are drawn over that
round's window, so their deadlines are redrawn here from the same slack distribution,
``earliest + ⌈fastest runtime × U(slack)⌉``, on a stream of their own, and may then reach into later
rounds, or past the end of the run: that is what lets an unserved request carry over.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from simulations.scenario import Scenario
from simulations.workload import DAYS_PER_MONTH, generate_requests, sample_jobs
from solver.problem import Cluster, GpuType, Horizon, Request

STREAMS = {"sites": 1, "arrivals": 2, "deadlines": 3, "pilot": 4, "trace": 5}
PILOT_JOBS = 4_000


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """The named random stream of a run, optionally split further by keys such as the round."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAMS[name], *keys)))


class DemandSource(Protocol):
    def work_per_round(self) -> float:
        """Expected GPU-hours of work asked per round, to size generated sites."""
        ...

    def arrivals(
        self, k: int, horizon: Horizon, clusters: list[Cluster], gpu_types: dict[str, GpuType]
    ) -> list[Request]:
        """Requests whose earliest slot falls in round ``k``, in absolute slots."""
        ...


class GeneratedDemand:
    """Philly-calibrated requests from ``workload.generate_requests``, round by round."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def work_per_round(self) -> float:
        s, m = self.scenario, self.scenario.demand
        gangs, hours = sample_jobs(m, PILOT_JOBS, stream(s.seed, "pilot"))
        slots = np.clip(np.ceil(hours / s.slot_hours), 1, min(m.max_runtime_slots, s.round_slots))
        per_request = float(np.mean(gangs * slots)) * s.slot_hours
        return per_request * m.arrivals_per_day * s.round_slots * s.slot_hours / 24.0

    def arrivals(
        self, k: int, horizon: Horizon, clusters: list[Cluster], gpu_types: dict[str, GpuType]
    ) -> list[Request]:
        s = self.scenario
        months = (horizon.start - s.start).total_seconds() / 86400.0 / DAYS_PER_MONTH
        model = s.demand.model_copy(
            update={"arrivals_per_day": s.demand.arrivals_per_day * (1.0 + s.demand.growth_per_month) ** months}
        )
        rng = stream(s.seed, "arrivals", k)
        drawn = generate_requests(model, clusters, gpu_types, horizon, rng, id_prefix=f"w{k:03d}")
        slack = stream(s.seed, "deadlines", k).uniform(*s.demand.slack, size=len(drawn))
        return [shifted(r, k * s.round_slots, float(u)) for r, u in zip(drawn, slack, strict=True)]


def shifted(r: Request, offset: int, slack: float) -> Request:
    """``r`` moved to absolute slots, its deadline redrawn as ``earliest + ⌈fastest × slack⌉``."""
    earliest = r.earliest_slot + offset
    deadline = earliest + math.ceil(r.fastest_runtime * slack)
    return r.model_copy(update={"earliest_slot": earliest, "deadline_slot": deadline})
