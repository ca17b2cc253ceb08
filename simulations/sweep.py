"""A grid over scenario parameters, run serially or as Ray tasks, with the same results either way.

A grid file names a base scenario and lists values for dotted parameters, for example::

    base: status-quo.yaml            # relative to the grid file
    parameters:
      policy.category_shares.sme: [0.25, 0.3]
      policy.energy_share: [0.39, 0.65]
    seeds: [0]
    overrides: {weeks: 4}            # applied to every point first

Points are the Cartesian product in the order written, times the seeds.  Every point is validated, and
its world built, in the driver before anything runs, so a bad value fails at once and names its field.
A point is a pure function of its scenario (a neighbourhood budget on a frozen clock, one worker), so
it gives the same summary in a Ray worker as in the driver: ``tests/simulations/test_sweep.py`` checks
that on a real head.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulations.demand import GeneratedDemand, stream
from simulations.metrics import Summary, summarise
from simulations.records import RoundOutcome
from simulations.runner import run
from simulations.scenario import Scenario, ScenarioError, apply_overrides, describe, read_yaml, validate
from simulations.world import build_world

OnPoint = Callable[[int, int], None]


class Grid(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "sweep"
    base: str
    parameters: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(min_length=1)
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = [0]
    overrides: dict[str, Any] = {}


@dataclass(frozen=True)
class Point:
    index: int
    params: dict[str, Any]
    scenario: Scenario


@dataclass(frozen=True)
class PointResult:
    index: int
    params: dict[str, Any]
    seed: int
    summary: Summary
    rounds: list[RoundOutcome]


@dataclass(frozen=True)
class SweepResult:
    name: str
    mode: str  # "serial" or "ray"
    wall_seconds: float
    points: list[PointResult]


def load_grid(path: Path | str) -> tuple[Grid, dict[str, Any]]:
    """The grid and its base scenario's data (not yet validated: points are)."""
    data = read_yaml(path)
    try:
        grid = Grid.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: " + "; ".join(describe(e) for e in exc.errors())) from None
    return grid, read_yaml(Path(path).parent / grid.base)


def points(grid: Grid, base: dict[str, Any]) -> list[Point]:
    names = list(grid.parameters)
    out: list[Point] = []
    for values in itertools.product(*(grid.parameters[n] for n in names)):
        for seed in grid.seeds:
            params = dict(zip(names, values, strict=True)) | {"seed": seed}
            label = ",".join(f"{n}={v}" for n, v in params.items())
            data = apply_overrides(base, grid.overrides | params | {"variants": {}})
            data["name"] = f"{grid.name}-{len(out):03d}"
            scenario = validate(data, f"{grid.name} point {label}")
            try:
                build_world(scenario, GeneratedDemand(scenario).work_per_round(), stream(scenario.seed, "sites"))
            except ScenarioError as exc:
                raise ScenarioError(f"{grid.name} point {label}: {exc}") from None
            out.append(Point(len(out), params, scenario))
    return out


def run_point(point: Point) -> PointResult:
    """One point, start to finish: module-level so that Ray can ship it to a worker."""
    result = run(point.scenario)
    return PointResult(point.index, point.params, point.scenario.seed, summarise(result, point.scenario.sci),
                       result.rounds)


def run_serial(todo: list[Point], on_point: OnPoint | None = None, name: str = "sweep") -> SweepResult:
    t0 = time.perf_counter()
    out = []
    for p in todo:
        out.append(run_point(p))
        if on_point:
            on_point(len(out), len(todo))
    return SweepResult(name, "serial", time.perf_counter() - t0, out)


def run_ray(
    todo: list[Point],
    address: str | None = None,
    workers: int = 2,
    on_point: OnPoint | None = None,
    name: str = "sweep",
) -> SweepResult:
    """Each point as a Ray task: on a fresh local instance with ``workers`` CPUs, or on ``address``."""
    import ray

    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        t0 = time.perf_counter()
        task = ray.remote(num_cpus=1)(run_point)
        pending = [task.remote(p) for p in todo]
        index = {ref: i for i, ref in enumerate(pending)}
        results: dict[int, PointResult] = {}
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                results[index[ref]] = ray.get(ref)
            if on_point:
                on_point(len(results), len(todo))
        return SweepResult(name, "ray", time.perf_counter() - t0, [results[i] for i in range(len(todo))])
    finally:
        if started:
            ray.shutdown()
