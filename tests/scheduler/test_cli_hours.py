"""Requests in hours and dates, from a file to a round's plan, through ``allmende``'s own ``main`` on a real server.

One cluster, three requests in a file: one in hours whose window lies in the round, one whose window opens after
the round's horizon, and one in the deprecated slot fields.  The round takes the first and the third; ``request
show`` says why the second waits; the plan shows slots and times side by side.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.cli import main, tables
from scheduler.domain import Role
from tests.scheduler.api.harness import T0, InProcessServer, auth

REQUESTS = {"requests": [
    {"id": "fold", "title": "fold proteins", "org": "embl", "category": "research", "gpus": 4,
     "runtime_hours": {"H100": 2.5}, "earliest": T0 + timedelta(hours=1, minutes=20),
     "deadline": T0 + timedelta(hours=5), "entrypoint": "python fold.py"},
    {"id": "later", "title": "next week's run", "org": "embl", "category": "research", "gpus": 4,
     "runtime_hours": {"H100": 1}, "earliest": "2025-03-10T09:00:00+01:00", "entrypoint": "python later.py"},
    {"id": "old-client", "title": "an old client's file", "org": "embl", "category": "research", "gpus": 2,
     "runtime_slots": {"H100": 1}, "deadline_slot": 3, "entrypoint": "python old.py"},
]}


class Cli:
    def __init__(self, server: InProcessServer, token: str, tmp: Path) -> None:
        self.server, self.token, self.tmp = server, token, tmp

    def __call__(self, *command: str, expect: int = 0) -> None:
        assert main([*command, "--server", self.server.address, "--token", self.token]) == expect

    def file(self, name: str, data: Any) -> str:
        path = self.tmp / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return str(path)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    server = InProcessServer()
    operator = server.token(Role.OPERATOR)
    server.stubs().inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="jsc", country="DE", operator="JSC", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]),
        metadata=auth(operator))
    yield Cli(server, operator, tmp_path_factory.mktemp("hours"))
    server.close()


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(tables, "console", Console(file=out, width=250, force_terminal=False, color_system=None))
    monkeypatch.setattr(tables, "err", Console(file=out, width=250, force_terminal=False, color_system=None))
    return out


def test_a_round_takes_requests_in_hours_and_says_why_one_waits(
    cli: Cli, screen: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    cli("request", "submit", cli.file("requests.yaml", REQUESTS))
    submitted = screen.getvalue()
    assert "note: deprecated: runtime_slots, earliest_slot and deadline_slot" in submitted  # the old client's

    cli("request", "list", "-o", "json")
    found = {r["spec"]["title"]: r for r in json.loads(capsys.readouterr().out)}
    fold = found["fold proteins"]
    assert fold["spec"]["runtimeHours"] == {"H100": 2.5}
    assert (fold["spec"]["earliest"], fold["spec"]["deadline"]) == ("2025-03-03T01:20:00Z", "2025-03-03T05:00:00Z")
    assert found["next week's run"]["spec"]["earliest"] == "2025-03-10T08:00:00Z"  # the same instant, in UTC
    assert found["an old client's file"]["spec"]["runtimeSlots"] == {"H100": 1}  # shown as stored

    cli("round", "open", "--start", T0.isoformat(), "--slots", "6", "--share", "research=1", "--time-limit", "2",
        "--reason", "first call")
    round_id = next(w for w in screen.getvalue().split() if w.startswith("round-"))
    cli("round", "run", round_id)

    capsys.readouterr()
    cli("request", "show", found["next week's run"]["requestId"])
    assert ("waits: its window opens 2025-03-10 08:00 UTC, after this round's horizon ends 2025-03-03 06:00 UTC "
            f"(round {round_id})") in " ".join(capsys.readouterr().out.split())
    cli("request", "show", found["next week's run"]["requestId"], "-o", "json")
    assert json.loads(capsys.readouterr().out)["waiting"].startswith("waits: its window opens")

    screen.seek(0)
    screen.truncate()
    cli("round", "show", round_id, "-o", "wide")
    plan = screen.getvalue()
    assert "time (UTC)" in plan
    assert "[2, 5)" in plan and "2025-03-03 02:00 → 2025-03-03 05:00" in plan  # 2.5 h is 3 slots from 01:20 → 02:00
    capsys.readouterr()
    cli("round", "explain", round_id, fold["requestId"])
    assert "slots [2, 5): 2025-03-03 02:00 → 2025-03-03 05:00 UTC" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("earliest", "message"),
    [
        pytest.param("2025-03-03 09:00", "has no time zone", id="a time without a zone"),
        pytest.param("next tuesday", "not an ISO 8601 time", id="not a time at all"),
    ],
)
def test_a_file_with_an_instant_that_is_not_one_submits_nothing(
    cli: Cli, capsys: pytest.CaptureFixture[str], earliest: str, message: str
) -> None:
    bad = {**REQUESTS["requests"][0], "id": "bad", "earliest": earliest}
    before = cli.server.store.read(lambda r: len(r.list_requests().items))
    cli("request", "submit", cli.file("bad.yaml", {"requests": [bad]}), expect=2)
    err = " ".join(capsys.readouterr().err.split())  # as one line, wherever the terminal folded it
    assert "request 0: earliest" in err and message in err
    assert cli.server.store.read(lambda r: len(r.list_requests().items)) == before
