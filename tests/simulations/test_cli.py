"""``allmende simulate`` and ``allmende sweep`` end to end on tiny inputs: exit codes, tables, report."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scheduler.cli import main
from tests.simulations.tiny import TINY


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY | {"variants": {"capped": {}, "uncapped": {"policy.org_cap_share": None}}}))
    return path


def test_simulate_writes_tables_and_one_self_contained_report(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["simulate", str(scenario_file), "--out", str(out), "--set", "round_slots=168"]) == 0
    for table in ("summary", "rounds", "requests", "utilisation"):
        assert (out / f"{table}.csv").stat().st_size > 0
        assert (out / f"{table}.parquet").exists()
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6  # attainment, Lorenz, energy, waits, two heatmaps
    assert "capped vs uncapped" in html and "src=\"http" not in html
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("run,seed,requests,served")


def test_simulate_refuses_a_bad_scenario_and_names_the_field(scenario_file: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(scenario_file), "--out", str(tmp_path / "x"), "--set", "policy.org_cap_share=3"])
    assert code == 2
    assert "policy.org_cap_share: Input should be less than or equal to 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_sweep_serially_writes_one_row_per_point_and_the_acceptance_plot(scenario_file: Path, tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"name": "g", "base": scenario_file.name,
                                    "parameters": {"policy.energy_share": [0.5, 0.9]},
                                    "overrides": {"round_slots": 168, "variants": {}}}))
    out = tmp_path / "sweep"
    assert main(["sweep", str(grid), "--serial", "--out", str(out)]) == 0
    assert len((out / "sweep.csv").read_text().splitlines()) == 3
    assert (out / "plots" / "acceptance.png").stat().st_size > 0
    assert "data:image/png;base64," in (out / "report.html").read_text()
