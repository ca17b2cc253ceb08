"""What a run leaves behind: one outcome per request and one per round, and the run that holds them.

Plain frozen dataclasses, because a 26-round run holds ~80,000 outcomes and they cross process
boundaries in sweeps.  Slots are absolute (counted from the scenario's start); waiting time is
``start_slot − arrival_slot``, where the arrival slot is the request's earliest usable slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["served", "expired", "open"]


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    org: str
    category: str
    gpus: int
    arrival_slot: int
    deadline_slot: int
    work_gpu_h: float  # on the request's fastest type
    first_round: int
    rounds_offered: int  # rounds whose problem listed it
    status: Status
    last_reason: str = ""  # the solver's reason the last time it was rejected
    served_round: int = -1
    cluster: str = ""
    gpu_type: str = ""
    start_slot: int = -1
    end_slot: int = -1
    gpu_hours: float = 0.0
    energy_kwh: float = 0.0
    co2_kg: float = 0.0  # priced on the true grid profile, also in carbon-blind runs


@dataclass(frozen=True)
class RoundOutcome:
    round: int
    start: datetime
    new: int
    carried: int
    offered: int
    assigned: int
    expired: int  # requests that left the backlog after this round because their deadline passed
    offered_by_category: dict[str, int]
    assigned_by_category: dict[str, int]
    attainment: dict[str, float]  # the solver's attainment per category with a share and demand
    min_attainment: float
    gpu_hours: float
    capacity_gpu_hours: float
    energy_mwh: float
    energy_budget_mwh: float | None
    co2_t: float
    carbon_budget_t: float | None
    utilisation: dict[str, float]
    first_day: int  # absolute day index of the round's first slot, for the daily lists below
    daily_used_gpu_h: dict[str, list[float]]  # cluster -> GPU-hours used on each day of the round
    daily_offered_gpu_h: dict[str, list[float]]  # cluster -> GPU-hours available on each day
    solver_seconds: float  # wall time: a report, left out of every comparison


@dataclass(frozen=True)
class RunResult:
    scenario: str
    seed: int
    start: datetime
    slot_minutes: int
    round_slots: int
    clusters: list[str]
    installed_gpu_hours: float  # every GPU of every site over the hours it exists, maintenance included
    rounds: list[RoundOutcome]
    outcomes: list[Outcome]
    params: dict[str, object] = field(default_factory=dict)  # sweep parameters, when part of a sweep

    def digest(self) -> str:
        """SHA-256 of every outcome and round figure except wall times: equal digests, equal runs."""
        h = hashlib.sha256()
        for o in self.outcomes:
            h.update(repr(astuple(o)).encode())
        for r in self.rounds:
            h.update(repr((r.round, r.offered, r.assigned, r.expired, sorted(r.attainment.items()), r.energy_mwh,
                           r.co2_t, sorted(r.utilisation.items()))).encode())
        return h.hexdigest()
