"""Sweeps: a grid expands into validated points, and Ray gives the same results as a serial run."""

from __future__ import annotations

import pytest

from simulations.scenario import ScenarioError
from simulations.sweep import Grid, points, run_ray, run_serial
from support.ray_head import RayHead
from tests.simulations.tiny import TINY

GRID = Grid(name="tiny-grid", base="(in test)",
            parameters={"policy.category_shares.sme": [0.2, 0.4], "policy.energy_share": [0.5, 0.9]},
            overrides={"round_slots": 168})


def test_points_are_the_product_of_the_parameters_in_the_order_written() -> None:
    todo = points(GRID.model_copy(update={"seeds": [0, 1]}), TINY)
    assert [(p.params["policy.category_shares.sme"], p.params["policy.energy_share"], p.params["seed"])
            for p in todo] == [(a, b, s) for a in (0.2, 0.4) for b in (0.5, 0.9) for s in (0, 1)]
    assert todo[3].scenario.policy.category_shares["sme"] == 0.2 and todo[3].scenario.seed == 1
    assert len({p.scenario.name for p in todo}) == len(todo)


def test_a_bad_value_in_a_grid_names_the_point_and_the_field() -> None:
    bad = GRID.model_copy(update={"parameters": {"policy.org_cap_share": [0.2, 2.0]}})
    with pytest.raises(ScenarioError, match=r"policy\.org_cap_share=2\.0.*policy\.org_cap_share: Input should be"):
        points(bad, TINY)


@pytest.mark.ray
@pytest.mark.xdist_group("ray")
@pytest.mark.slow
def test_the_sweep_on_ray_equals_the_serial_run(ray_head: RayHead) -> None:
    todo = points(GRID, TINY)
    on_ray = run_ray(todo, address=ray_head.address)
    serial = run_serial(todo)
    assert on_ray.mode == "ray" and serial.mode == "serial"
    assert [p.params for p in on_ray.points] == [p.params for p in serial.points]
    assert [p.summary for p in on_ray.points] == [p.summary for p in serial.points]
    assert len({p.summary.digest for p in serial.points}) == len(todo)  # the parameters do change the runs
