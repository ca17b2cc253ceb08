"""Funding scenarios as data: one YAML file sets the world, the policy, the demand and the solver budget.

A scenario is validated once, by these frozen pydantic models, and every error names its field
(``policy.org_cap_share: Input should be less than or equal to 1 (got 1.5)``).  Round ``k`` covers the
slots ``[k·R, (k+1)·R)`` counted from ``start`` (UTC unless it names a zone), with ``R = round_slots``;
calendar dates in the file (site build-out, retirements, maintenance) become slots in the world builder.

Overrides (``allmende simulate --set``, sweep grids, a scenario's ``variants``) are dotted paths into
the same data, applied *before* validation, so a swept value is checked exactly like a written one.
Setting one entry of ``policy.category_shares`` rescales the others so that the shares still sum to 1.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulations.clusters import GPU_TYPES, GRID
from simulations.workload import DemandModel
from solver.policies import DEFAULT, PolicyName
from solver.problem import SHARE_TOLERANCE, Id
from solver.sci import SciSpec

Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class ScenarioError(ValueError):
    """A scenario or grid file that cannot be used; the message names the file and the field."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Site(Frozen):
    """One named site, for example a new AI factory, with the dates it comes online and retires."""

    id: Id
    country: Country
    gpus: dict[str, Annotated[int, Field(gt=0)]]
    power_cap_kw: Annotated[float, Field(gt=0)] | None = None
    pue: Annotated[float, Field(ge=1.0, le=5.0)] = 1.2
    online: date | None = None
    retire: date | None = None

    @model_validator(mode="after")
    def _known(self) -> Site:
        unknown = sorted(set(self.gpus) - set(GPU_TYPES))
        if unknown:
            raise ValueError(f"gpus: unknown GPU type(s) {unknown}; known: {sorted(GPU_TYPES)}")
        if self.country not in GRID:
            raise ValueError(f"country: no grid profile for {self.country!r}; known: {sorted(GRID)}")
        if self.online and self.retire and self.retire <= self.online:
            raise ValueError(f"retire ({self.retire}) must be after online ({self.online})")
        return self


class GeneratedSites(Frozen):
    """European sites from ``clusters.european_clusters``, scaled by one factor (whole nodes, 64–2048 GPUs).

    ``demand_ratio`` sizes them so that the work the demand model asks in one round is that many times
    the GPU-hours they offer at the start; ``scale`` multiplies the drawn sizes instead.
    """

    count: Annotated[int, Field(ge=1, le=200)] = 12
    demand_ratio: Annotated[float, Field(gt=0)] | None = 1.5
    scale: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_sizing(self) -> GeneratedSites:
        if (self.demand_ratio is None) == (self.scale is None):
            raise ValueError("set exactly one of demand_ratio and scale")
        return self


class Maintenance(Frozen):
    """``gpus`` of one type withdrawn for ``hours`` (all of them, if sizing left the site fewer)."""

    site: Id
    gpu_type: Id
    gpus: Annotated[int, Field(gt=0)]
    start: datetime
    hours: Annotated[int, Field(gt=0)]


class Sites(Frozen):
    generated: GeneratedSites | None = GeneratedSites()
    extra: list[Site] = []
    retire: dict[Id, date] = {}
    maintenance: list[Maintenance] = []

    @model_validator(mode="after")
    def _some(self) -> Sites:
        if self.generated is None and not self.extra:
            raise ValueError("needs generated sites, extra sites, or both")
        return self  # duplicate ids are caught where generated ones are known (world.build_world)


class CountryCarbon(Frozen):
    scale: Annotated[float, Field(ge=0.0)] = 1.0  # × the country's daily and seasonal profile in clusters.GRID


class Carbon(Frozen):
    """Grid carbon seen by the plan; ``aware: false`` hides it from the solver, never from the metrics."""

    aware: bool = True
    countries: dict[Country, CountryCarbon] = {}
    decline_per_year: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

    @model_validator(mode="after")
    def _known(self) -> Carbon:
        unknown = sorted(set(self.countries) - set(GRID))
        if unknown:
            raise ValueError(f"countries: no grid profile for {unknown}; known: {sorted(GRID)}")
        return self


class PolicySpec(Frozen):
    """The solver's ``PolicyConfig`` per round; the energy cap is absolute or a share of what sites could deliver."""

    category_shares: dict[Id, Annotated[float, Field(ge=0.0, le=1.0)]] = {}
    org_cap_share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    energy_share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    energy_budget_mwh: Annotated[float, Field(ge=0.0)] | None = None
    carbon_budget_t: Annotated[float, Field(ge=0.0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PolicySpec:
        total = sum(self.category_shares.values())
        if self.category_shares and abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"category_shares: must sum to 1, got {total:.6g}")
        if self.energy_share is not None and self.energy_budget_mwh is not None:
            raise ValueError("set at most one of energy_share and energy_budget_mwh")
        return self


class SolverSpec(Frozen):
    """How each round is solved.  With a budget of ``neighbourhoods`` only the budget stops the search (the
    solver's clock is frozen), so a round is reproducible on any machine and under any load; set it to
    ``null`` to stop on ``time_limit_s`` of wall time instead (faster to reason about, not reproducible)."""

    policy: PolicyName = DEFAULT
    time_limit_s: Annotated[float, Field(gt=0)] = 30.0
    neighbourhoods: Annotated[int, Field(ge=0)] | None = 20
    neighbourhood_dtime: Annotated[float, Field(gt=0)] = 0.2
    lp_bound: bool = False


class Scenario(Frozen):
    name: Id
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    start: datetime
    weeks: Annotated[int, Field(ge=1, le=520)]
    round_slots: Annotated[int, Field(ge=1)] = 168
    slot_minutes: Annotated[int, Field(ge=1, le=1440)] = 60
    sites: Sites = Sites()
    carbon: Carbon = Carbon()
    policy: PolicySpec = PolicySpec()
    demand: DemandModel = DemandModel()
    solver: SolverSpec = SolverSpec()
    sci: SciSpec = SciSpec()
    variants: dict[Id, dict[str, Any]] = {}  # name -> overrides; when present, each variant is one run

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        """A start without a time zone is read as UTC, as the solver's horizon needs an aware time."""
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if (self.weeks * 7 * 1440) % (self.slot_minutes * self.round_slots):
            raise ValueError(
                f"round_slots: {self.weeks} weeks of {self.slot_minutes}-minute slots is not a whole number of "
                f"{self.round_slots}-slot rounds"
            )
        if not self.carbon.aware and self.policy.carbon_budget_t is not None:
            raise ValueError("carbon.aware: a carbon-blind run cannot enforce policy.carbon_budget_t")
        if 1440 % self.slot_minutes:
            raise ValueError(f"slot_minutes: {self.slot_minutes} does not divide a day")
        return self

    @property
    def total_slots(self) -> int:
        return self.weeks * 7 * 1440 // self.slot_minutes

    @property
    def rounds(self) -> int:
        return self.total_slots // self.round_slots

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60.0

    @property
    def slots_per_day(self) -> int:
        return 1440 // self.slot_minutes


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each dotted path set; a category share rescales its siblings."""
    out: dict[str, Any] = yaml.safe_load(yaml.safe_dump(data))
    for path, value in overrides.items():
        keys = path.split(".")
        node = out
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ScenarioError(f"{path}: {key!r} is not a mapping, cannot set {keys[-1]!r} inside it")
            node = child
        if keys[:-1] == ["policy", "category_shares"] and isinstance(value, int | float):
            _set_share(node, keys[-1], float(value), path)
        else:
            node[keys[-1]] = value
    return out


def _set_share(shares: dict[str, Any], category: str, value: float, path: str) -> None:
    others = {k: float(v) for k, v in shares.items() if k != category}
    rest = sum(others.values())
    if not 0.0 <= value <= 1.0 or (rest <= 0 and not math.isclose(value, 1.0)):
        raise ScenarioError(f"{path}: cannot set a share of {value} beside shares summing to {rest}")
    for k, v in others.items():
        shares[k] = v * (1.0 - value) / rest
    shares[category] = value


def validate(data: dict[str, Any], source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: " + "; ".join(describe(e) for e in exc.errors())) from None


def describe(error: Any) -> str:
    """One pydantic error as ``field.path[0].name: message (got value)``.

    A validator's own message that starts with a field name (``country: no grid profile``) has that name
    folded into the path, so that every error reads the same way.
    """
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    msg = str(error["msg"]).removeprefix("Value error, ")
    field, sep, rest = msg.partition(": ")
    if sep and re.fullmatch(r"[a-z_][a-z0-9_.]*", field):
        where, msg = ".".join(x for x in (where, field) if x), rest
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or error["type"] in ("missing", "value_error") else f" (got {got!r})"
    return f"{where or '(top level)'}: {msg}{shown}"


def read_yaml(path: Path | str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top level")
    return data


def load(path: Path | str, overrides: dict[str, Any] | None = None) -> Scenario:
    return validate(apply_overrides(read_yaml(path), overrides or {}), str(path))


def variants(scenario: Scenario) -> dict[str, Scenario]:
    """Name -> scenario for each run the file asks for: its variants, or the scenario itself."""
    if not scenario.variants:
        return {scenario.name: scenario}
    base = scenario.model_dump(mode="json", exclude={"variants"})
    return {
        name: validate(apply_overrides(base, {"name": f"{scenario.name}.{name}"} | over), f"variants.{name}")
        for name, over in sorted(scenario.variants.items())
    }
