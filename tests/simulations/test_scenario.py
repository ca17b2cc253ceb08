"""Scenario files: every shipped one validates (variants and the sweep grid included), and a bad one
is refused with an error that names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulations.demand import GeneratedDemand, stream
from simulations.scenario import ScenarioError, apply_overrides, load, variants
from simulations.sweep import load_grid, points
from simulations.world import build_world
from tests.simulations.tiny import TINY, tiny

SHIPPED = Path(__file__).resolve().parents[2] / "simulations" / "scenarios"
SCENARIOS = sorted(p for p in SHIPPED.glob("*.yaml") if not p.name.startswith("sweep"))
GRIDS = sorted(SHIPPED.glob("sweep*.yaml"))


def test_the_questions_of_the_issue_each_have_a_scenario() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"status-quo", "sme-30", "energy-cap-minus-40", "new-ai-factory-2027q3", "carbon-aware-vs-blind",
            "no-org-cap"} <= names
    assert GRIDS


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_builds_its_world(path: Path) -> None:
    for scenario in variants(load(path)).values():
        assert scenario.rounds == 26 and scenario.description
        world = build_world(scenario, GeneratedDemand(scenario).work_per_round(), stream(scenario.seed, "sites"))
        assert world.clusters(0) and world.clusters(scenario.rounds - 1)


@pytest.mark.parametrize("path", GRIDS, ids=lambda p: p.stem)
def test_shipped_grid_expands_into_valid_points(path: Path) -> None:
    grid, base = load_grid(path)
    todo = points(grid, base)
    assert len(todo) == 16
    shares = {p.scenario.policy.category_shares["sme"] for p in todo}
    assert shares == set(grid.parameters["policy.category_shares.sme"])
    assert all(abs(sum(p.scenario.policy.category_shares.values()) - 1) < 1e-9 for p in todo)


def test_variants_share_everything_but_their_overrides() -> None:
    runs = variants(load(SHIPPED / "carbon-aware-vs-blind.yaml"))
    assert list(runs) == ["aware", "blind"]
    assert runs["aware"].carbon.aware and not runs["blind"].carbon.aware
    assert runs["aware"].demand == runs["blind"].demand and runs["aware"].seed == runs["blind"].seed


def test_setting_one_category_share_rescales_the_others() -> None:
    data = apply_overrides(TINY, {"policy.category_shares.sme": 0.5})
    shares = data["policy"]["category_shares"]
    assert shares["sme"] == 0.5
    assert shares["university"] == pytest.approx(0.4 * 0.5 / 0.7)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert TINY["policy"]["category_shares"]["sme"] == 0.3  # the original is untouched


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("org cap above one", {"policy.org_cap_share": 1.5},
     "policy.org_cap_share: Input should be less than or equal to 1 (got 1.5)"),
    ("misspelt section", {"polcy": {}}, "polcy: Extra inputs are not permitted"),
    ("negative arrival rate", {"demand.arrivals_per_day": -1}, "demand.arrivals_per_day: Input should be greater"),
    ("shares that do not sum to one", {"policy.category_shares": {"sme": 0.5, "university": 0.4}},
     "policy.category_shares: must sum to 1, got 0.9"),
    ("rounds that do not tile the weeks", {"round_slots": 100}, "round_slots: 1 weeks"),
    ("site in an unknown country", {"sites.extra": [{"id": "x", "country": "XX", "gpus": {"H100": 8}}]},
     "sites.extra[0].country: no grid profile for 'XX'"),
    ("site with an unknown GPU type", {"sites.extra": [{"id": "x", "country": "DE", "gpus": {"B200": 8}}]},
     "sites.extra[0].gpus: unknown GPU type(s) ['B200']"),
    ("two energy caps", {"policy.energy_budget_mwh": 5.0},
     "policy: set at most one of energy_share and energy_budget_mwh"),
    ("carbon-blind run with a carbon budget", {"carbon.aware": False, "policy.carbon_budget_t": 1.0},
     "carbon.aware: a carbon-blind run cannot enforce policy.carbon_budget_t"),
    ("start that is not a time", {"start": "next tuesday"}, "start: Input should be a valid datetime"),
]


@pytest.mark.parametrize("overrides, names", [pytest.param(o, n, id=i) for i, o, n in BAD])
def test_bad_scenario_names_the_field(tmp_path: Path, overrides: dict[str, Any], names: str) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(apply_overrides(TINY, overrides)))
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(path) in str(err.value) and names in str(err.value)


def test_a_site_the_scenario_does_not_have_is_named_when_the_world_is_built() -> None:
    s = tiny({"sites.maintenance": [{"site": "nowhere-01", "gpu_type": "H100", "gpus": 8,
                                     "start": "2026-01-06T00:00:00Z", "hours": 4}]})
    with pytest.raises(ScenarioError, match=r"sites\.maintenance\[0\]\.site: no site 'nowhere-01'"):
        build_world(s, GeneratedDemand(s).work_per_round(), stream(s.seed, "sites"))


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load(path)
