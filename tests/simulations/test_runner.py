"""Rolling rounds: the carry-over rule told as a story, and the same seed giving the same run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from simulations.metrics import summarise
from simulations.records import Outcome, RunResult
from simulations.runner import run
from simulations.scenario import Scenario, validate
from solver.problem import Cluster, GpuType, Horizon, Request
from tests.simulations.tiny import tiny

ROUND = 24


class Script:
    """A demand source that hands out a fixed list of requests, each in the round of its earliest slot."""

    def __init__(self, requests: list[Request]) -> None:
        self.requests = requests

    def work_per_round(self) -> float:
        return 0.0

    def arrivals(self, k: int, horizon: Horizon, clusters: list[Cluster], gpu_types: dict[str, GpuType]
                 ) -> list[Request]:
        return [r for r in self.requests if k * ROUND <= r.earliest_slot < (k + 1) * ROUND]


def req(id: str, earliest: int, runtime: int, deadline: int, merit: float) -> Request:
    return Request(id=id, org=f"org-{id}", category="university", gpus=8, runtime_slots={"H100": runtime},
                   earliest_slot=earliest, deadline_slot=deadline, merit=merit)


def one_site_week() -> Scenario:
    """One 8-GPU site on a zero-carbon grid (so no carbon polish moves a start), day-long rounds."""
    return validate({
        "name": "carry-over", "start": "2026-01-05T00:00:00Z", "weeks": 1, "round_slots": ROUND,
        "sites": {"generated": None, "extra": [{"id": "fr-1", "country": "FR", "gpus": {"H100": 8}, "pue": 1.0}]},
        "carbon": {"countries": {"FR": {"scale": 0.0}}},
        "solver": {"policy": "value", "neighbourhoods": 0},
    })


@dataclass(frozen=True)
class Story:
    result: RunResult
    by_id: dict[str, Outcome]


@pytest.fixture(scope="module")
def story() -> Story:
    script = Script([
        req("blocker", 0, 24, 24, merit=0.9),  # fills round 0 and must run then
        req("patient", 0, 24, 48, merit=0.5),  # loses round 0, can still finish in round 1
        req("doomed", 0, 24, 30, merit=0.1),  # loses round 0, and by slot 24 it can no longer finish by 30
        req("late", 44, 10, 80, merit=0.5),  # arrives 4 slots before round 1 ends: too late to fit, waits
        req("unfinished", 150, 24, 400, merit=0.5),  # arrives in the last round, too late for it
    ])
    result = run(one_site_week(), script)
    return Story(result, {o.id: o for o in result.outcomes})


def test_the_request_that_wins_the_first_round_runs_then(story: Story) -> None:
    blocker = story.by_id["blocker"]
    assert (blocker.status, blocker.served_round, blocker.start_slot, blocker.rounds_offered) == ("served", 0, 0, 1)


def test_an_unserved_request_carries_over_and_waits_a_whole_round(story: Story) -> None:
    patient = story.by_id["patient"]
    assert (patient.status, patient.first_round, patient.served_round) == ("served", 0, 1)
    assert (patient.start_slot, patient.rounds_offered) == (24, 2)


def test_a_request_expires_once_its_deadline_leaves_no_room(story: Story) -> None:
    doomed = story.by_id["doomed"]
    assert (doomed.status, doomed.rounds_offered) == ("expired", 1)
    assert doomed.last_reason in {"capacity", "lower_merit"}
    assert story.result.rounds[0].expired == 1


def test_a_request_too_late_for_its_round_is_offered_in_the_next(story: Story) -> None:
    late = story.by_id["late"]
    assert (late.status, late.first_round, late.served_round, late.rounds_offered) == ("served", 1, 2, 1)
    assert 48 <= late.start_slot <= 70 and late.end_slot == late.start_slot + 10
    rounds = story.result.rounds
    assert (rounds[1].new, rounds[1].offered, rounds[2].carried) == (1, 1, 1)


def test_a_request_still_waiting_when_the_run_ends_is_open(story: Story) -> None:
    unfinished = story.by_id["unfinished"]
    assert (unfinished.status, unfinished.rounds_offered) == ("open", 0)
    summary = summarise(story.result, one_site_week().sci)
    assert (summary.served, summary.expired, summary.open) == (3, 1, 1)
    assert summary.acceptance == pytest.approx(3 / 4)
    assert summary.wait_max_h == pytest.approx(24.0)


@pytest.fixture(scope="module")
def twice() -> tuple[RunResult, RunResult, RunResult]:
    s = tiny()
    return run(s), run(s), run(tiny({"seed": 1}))


def test_same_seed_gives_the_same_metrics(twice: tuple[RunResult, RunResult, RunResult]) -> None:
    a, b, other = twice
    s = tiny()
    assert summarise(a, s.sci) == summarise(b, s.sci)
    assert a.digest() != other.digest()


def test_every_request_ends_exactly_once_and_inside_its_window(twice: tuple[RunResult, RunResult, RunResult]) -> None:
    result = twice[0]
    ids = [o.id for o in result.outcomes]
    assert len(ids) == len(set(ids)) > 0
    assert Counter(o.status for o in result.outcomes)["served"] > 0
    for o in result.outcomes:
        if o.status == "served":
            assert o.arrival_slot <= o.start_slot < o.end_slot <= o.deadline_slot
    for r in result.rounds:
        for c, used in r.daily_used_gpu_h.items():
            assert all(u <= cap + 1e-9 for u, cap in zip(used, r.daily_offered_gpu_h[c], strict=True))


def test_a_carbon_blind_run_is_still_charged_its_true_carbon() -> None:
    blind = run(tiny({"carbon.aware": False, "weeks": 1, "round_slots": 168}))
    assert sum(o.co2_kg for o in blind.outcomes) > 0
