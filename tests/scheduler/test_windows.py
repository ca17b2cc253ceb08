"""Hours and dates through a round's horizon: runtime rounds up, the window shrinks, or the request waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.domain import RequestSpec
from scheduler.windows import Waiting, through
from solver.problem import Horizon

START = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday; the horizon is 48 half-hour slots, to 2026-12-08 00:00
HORIZON = Horizon(start=START, slot_minutes=30, slots=48)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def spec(**fields: Any) -> RequestSpec:
    values: dict[str, Any] = {"org": "embl", "title": "fold", "category": "research", "gpus": 4,
                              "runtime_hours": {"H100": 2.0}, "entrypoint": "python fold.py"}
    return RequestSpec.model_validate(values | fields)


@pytest.mark.parametrize(
    ("fields", "want"),
    [
        pytest.param({}, ({"H100": 4}, 0, 48), id="no window: the whole horizon"),
        pytest.param({"runtime_hours": {"H100": 1.2, "A100": 1.5}}, ({"A100": 3, "H100": 3}, 0, 48),
                     id="runtime rounds up to whole slots, 1.5 h exactly three"),
        pytest.param({"earliest": at(9.25), "deadline": at(14.75)}, ({"H100": 4}, 19, 29),
                     id="the window shrinks to the whole slots inside it"),
        pytest.param({"earliest": at(-30), "deadline": at(30)}, ({"H100": 4}, 0, 48),
                     id="a window wider than the horizon is clipped to it"),
        pytest.param({"earliest": at(9), "deadline": at(11)}, ({"H100": 4}, 18, 22),
                     id="a window of exactly the runtime"),
        pytest.param({"runtime_hours": {}, "runtime_slots": {"H100": 3}, "earliest_slot": 2, "deadline_slot": 90},
                     ({"H100": 3}, 2, 48), id="deprecated slots are this round's, the deadline clipped"),
    ],
)
def test_a_request_enters_the_round_in_its_slots(fields: dict[str, Any], want: tuple[dict[str, int], int, int]) -> None:
    got = through(spec(**fields), "req-1", HORIZON)
    assert not isinstance(got, Waiting), got
    assert (got.runtime_slots, got.earliest_slot, got.deadline_slot) == want


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        pytest.param({"earliest": at(24 * 3 + 9)},
                     "waits: its window opens 2026-12-10 09:00 UTC, after this round's horizon ends "
                     "2026-12-08 00:00 UTC",
                     id="window opens after the horizon"),
        pytest.param({"deadline": at(-1)}, "waits: its deadline 2026-12-06 23:00 UTC is not after this round's "
                     "horizon starts 2026-12-07 00:00 UTC; no round that starts later can fit it",
                     id="deadline already passed"),
        pytest.param({"earliest": at(9.1), "deadline": at(11.2)},
                     "waits: 3 whole slot(s) of this round's horizon lie in its window (2026-12-07 09:30 UTC to "
                     "2026-12-07 11:00 UTC), fewer than the 4 its fastest runtime needs (2 h on H100); no round that "
                     "starts later",
                     id="window shrinks below the runtime"),
        pytest.param({"earliest": at(23)}, "fewer than the 4 its fastest runtime needs (2 h on H100); a later round "
                     "may hold more of it", id="window runs past the horizon's end"),
        pytest.param({"runtime_hours": {}, "runtime_slots": {"H100": 3}, "earliest_slot": 48},
                     "waits: its earliest slot 48 is beyond this round's 48 slots", id="deprecated earliest slot"),
    ],
)
def test_a_request_outside_the_round_waits_and_says_why(fields: dict[str, Any], why: str) -> None:
    got = through(spec(**fields), "req-1", HORIZON)
    assert isinstance(got, Waiting)
    assert why in got.reason


def test_an_aware_time_in_another_zone_means_the_same_instant() -> None:
    paris = datetime(2026, 12, 7, 10, 0, tzinfo=datetime.fromisoformat("2026-12-07T10:00+01:00").tzinfo)
    got = through(spec(earliest=paris), "req-1", HORIZON)
    assert not isinstance(got, Waiting) and got.earliest_slot == 18
