"""A request's hours and dates seen through one round's horizon: the slots the solver reads, or why it waits.

An applicant cannot know which round will pick a request up, so it gives hours and instants; the round
turns them into its own slots when it snapshots the request (``start`` is the horizon's start, ``m`` its
``slot_minutes``, ``T`` its number of slots):

- runtime rounds UP to whole slots: ``runtime_slots[g] = ceil(runtime_hours[g] * 60 / m)``;
- the window SHRINKS to the whole slots inside ``[earliest, deadline]``:
  ``earliest_slot = max(0, ceil((earliest - start) / m))`` and
  ``deadline_slot = min(T, floor((deadline - start) / m))`` (no earliest: slot 0; no deadline: ``T``);
- the request is not put in the round, and waits in the pool for a later one, when its window opens at or
  after the horizon's end, when its deadline is not after the horizon's start, or when the whole slots left
  are fewer than its fastest runtime.  :class:`Waiting` says which, in a sentence ``request show`` prints.

A request in the deprecated slot fields is read as before: its slots are this round's, the deadline clipped
to the horizon's end, and it waits only when its earliest slot lies beyond the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scheduler.domain import RequestSpec
from solver.problem import Horizon, Request

ROUNDING_SLACK = 1e-9  # 1.5 h of 30-minute slots is 3 slots, even where 1.5 * 60 / 30 comes out as 3.0000000001


@dataclass(frozen=True)
class Waiting:
    """Why a request stays out of a round: one sentence, beginning ``waits:``."""

    reason: str


def slot_time(horizon: Horizon, slot: int) -> datetime:
    """The instant slot ``slot`` of ``horizon`` begins (slot ``horizon.slots`` is the horizon's end)."""
    return horizon.start + timedelta(minutes=slot * horizon.slot_minutes)


def shown(when: datetime) -> str:
    """An instant as people read it in a sentence: ``2026-12-10 09:00 UTC``."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def runtime_slots(hours: float, slot_minutes: int) -> int:
    return max(1, math.ceil(hours * 60 / slot_minutes - ROUNDING_SLACK))


def through(spec: RequestSpec, id: str, horizon: Horizon) -> Request | Waiting:
    """The solver's request for ``spec`` in this horizon's slots, or why it waits for a later round."""
    if spec.in_slots:
        return _legacy(spec, id, horizon)
    start, end = horizon.start, slot_time(horizon, horizon.slots)
    if spec.deadline is not None and spec.deadline <= start:
        return Waiting(f"waits: its deadline {shown(spec.deadline)} is not after this round's horizon starts "
                       f"{shown(start)}; no round that starts later can fit it: amend or withdraw it")
    if spec.earliest is not None and spec.earliest >= end:
        return Waiting(f"waits: its window opens {shown(spec.earliest)}, after this round's horizon ends {shown(end)}")
    slot = timedelta(minutes=horizon.slot_minutes)
    first = 0 if spec.earliest is None else max(0, math.ceil((spec.earliest - start) / slot))
    last = horizon.slots if spec.deadline is None else min(horizon.slots, math.floor((spec.deadline - start) / slot))
    runtime = {g: runtime_slots(h, horizon.slot_minutes) for g, h in sorted(spec.runtime_hours.items())}
    fastest = min(runtime.values())
    if last - first < fastest:
        g = min(runtime, key=lambda k: (runtime[k], k))
        later = ("a later round may hold more of it" if spec.deadline is None or spec.deadline > end
                 else "no round that starts later can fit it: amend or withdraw it")
        return Waiting(f"waits: {max(0, last - first)} whole slot(s) of this round's horizon lie in its window "
                       f"({shown(slot_time(horizon, first))} to {shown(slot_time(horizon, max(first, last)))}), "
                       f"fewer than the {fastest} its fastest runtime needs ({spec.runtime_hours[g]:g} h on {g}); "
                       f"{later}")
    shared = {name: getattr(spec, name) for name in spec.SHARED_FIELDS}
    return Request(id=id, runtime_slots=runtime, earliest_slot=first,
                   deadline_slot=last, **shared)


def _legacy(spec: RequestSpec, id: str, horizon: Horizon) -> Request | Waiting:
    if spec.earliest_slot >= horizon.slots:
        return Waiting(f"waits: its earliest slot {spec.earliest_slot} is beyond this round's {horizon.slots} slots")
    req = spec.slot_request(id)
    if req.deadline_slot is not None and req.deadline_slot > horizon.slots:
        req = req.model_copy(update={"deadline_slot": horizon.slots})
    return req
