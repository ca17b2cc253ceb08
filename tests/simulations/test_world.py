"""Build-out: sites come online, retire and go into maintenance on calendar dates, cut to each round."""

from __future__ import annotations

import numpy as np

from simulations.scenario import validate
from simulations.world import World, build_world
from solver.problem import available


def world_of(**sites: object) -> World:
    s = validate({
        "name": "build-out", "start": "2027-06-28T00:00:00Z", "weeks": 2, "round_slots": 168,
        "sites": {"generated": None, **sites},
    })
    return build_world(s, 0.0, np.random.default_rng(0))


FACTORY = {"id": "ai-factory", "country": "FI", "gpus": {"H200": 16, "H100": 8}, "online": "2027-07-01",
           "retire": "2027-07-09"}
OLD = {"id": "old", "country": "DE", "gpus": {"A100": 8}}


def test_a_site_is_offered_only_for_the_slots_it_exists() -> None:
    world = world_of(extra=[FACTORY, OLD])
    first, second = world.clusters(0), world.clusters(1)
    factory = next(c for c in first if c.id == "ai-factory")
    # online on Thursday 1 July: Monday to Wednesday (72 hourly slots) withdrawn, then all 16 H200 on offer
    h200 = available(factory, "H200", 168)
    assert h200[:72] == [0] * 72 and h200[72:] == [16] * 96
    # retired on Friday 9 July, day 4 of the second round: offered for its first 96 slots only
    retiring = next(c for c in second if c.id == "ai-factory")
    assert available(retiring, "H100", 168) == [8] * 96 + [0] * 72


def test_a_site_online_after_a_round_is_not_in_it_and_retirements_can_be_set_by_id() -> None:
    world = world_of(extra=[FACTORY | {"online": "2027-07-06", "retire": None}, OLD], retire={"old": "2027-07-05"})
    assert [c.id for c in world.clusters(0)] == ["old"]
    assert [c.id for c in world.clusters(1)] == ["ai-factory"]


def test_maintenance_withdraws_gpus_on_its_hours_and_carbon_follows_the_grid() -> None:
    world = world_of(extra=[OLD], maintenance=[
        {"site": "old", "gpu_type": "A100", "gpus": 64, "start": "2027-07-04T20:00:00Z", "hours": 10}])
    first, second = world.clusters(0)[0], world.clusters(1)[0]
    # Sunday 20:00 is slot 164: four hours in the first round, six in the second; 64 asked, 8 exist
    assert available(first, "A100", 168)[160:] == [8] * 4 + [0] * 4
    assert available(second, "A100", 168)[:8] == [0] * 6 + [8] * 2
    assert isinstance(first.carbon_intensity, list) and len(first.carbon_intensity) == 168
    assert min(first.carbon_intensity) > 0
