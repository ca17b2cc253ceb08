"""Trace replay: Philly jobs become requests with seeded synthetic organisations, or the replay skips."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from simulations.cli import cmd_simulate
from simulations.runner import run
from simulations.trace import PhillyReplay, locate
from tests.simulations.tiny import tiny

TRACE = locate("philly")
needs_trace = pytest.mark.skipif(TRACE is None, reason="../shared/traces/philly_normalized.csv is absent")


def test_a_missing_trace_is_reported_as_none(tmp_path: Path) -> None:
    assert locate("philly", repo=tmp_path / "repo") is None


def test_simulate_skips_cleanly_without_the_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    import simulations.trace

    monkeypatch.setattr(simulations.trace, "REPO", tmp_path / "repo")
    scenario = Path(__file__).resolve().parents[2] / "simulations" / "scenarios" / "status-quo.yaml"
    args = argparse.Namespace(scenario=str(scenario), out=tmp_path / "out", trace="philly", overrides=[])
    assert cmd_simulate(args) == 0
    assert "skipped" in capsys.readouterr().err and not (tmp_path / "out").exists()


@needs_trace
def test_philly_jobs_replay_in_submit_order_with_seeded_orgs() -> None:
    assert TRACE is not None
    s = tiny({"weeks": 3, "round_slots": 168})
    replay = PhillyReplay(s, TRACE)
    again = PhillyReplay(s, TRACE)
    assert replay.org == again.org and replay.arrival.tolist() == sorted(replay.arrival.tolist())
    assert 100 < replay.span_days < 120
    assert set(Counter(replay.category)) <= set(s.demand.categories)
    result = run(s, replay)
    assert len(result.outcomes) == replay.arrival.size > 0
    assert all(o.id.startswith("philly-") and o.gpus >= 1 for o in result.outcomes)
    assert sum(o.status == "served" for o in result.outcomes) > 0
