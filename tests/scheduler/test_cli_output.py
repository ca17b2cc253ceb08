"""``-o table|wide|json|yaml`` on every ``list`` and ``show`` command, read as a script and as a person reads it.

One published round on a real server on loopback: a cluster with a long id, one request, solved, approved and
published.  Each command runs in-process through ``allmende``'s own ``main``; the tables go to an 80-column
console, the JSON and YAML to stdout.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.cli import main, tables
from scheduler.domain import Role
from scheduler.store import PageRequest
from tests.scheduler.api.harness import T0, InProcessServer, auth

LONG_CLUSTER = "de-juelich-jupiter-booster-module-partition-with-a-long-name-0001"  # 65 characters, no space


@dataclass
class World:
    server: InProcessServer
    db_url: str
    operator: str
    token_ids: frozenset[str] = frozenset()
    request_id: str = ""
    round_id: str = ""
    allocation_id: str = ""

    def args(self, *command: str) -> list[str]:
        if command[0] == "token":
            return [*command, "--db", self.db_url]
        return [*command, "--server", self.server.address, "--token", self.operator]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-output') / 'allmende.db'}"
    server = InProcessServer(url)
    w = World(server, url, server.token(Role.OPERATOR))
    stubs, md = server.stubs(), auth(w.operator)
    stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id=LONG_CLUSTER, country="DE", operator="JSC",
        gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]), metadata=md)
    embl = server.token(Role.APPLICANT, org="embl")
    spec = req.RequestSpec(title="fold proteins over a long weekend", org="embl", category="research", gpus=4,
                           runtime_slots={"H100": 2}, entrypoint="python fold.py")
    w.request_id = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="fold", spec=spec),
                                                metadata=auth(embl)).request_id
    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=6, slot_minutes=60),
        policy=rnd.POLICY_FAIR, policy_config=common.PolicyConfig(category_shares={"research": 1.0}),
        solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True)), metadata=md)
    w.round_id = opened.round_id
    list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=w.round_id), metadata=md))
    stubs.review.Approve(rev.ApproveRequest(round_id=w.round_id, reason="fits"), metadata=md)
    stubs.review.Publish(rev.PublishRequest(round_id=w.round_id, reason="weekly"), metadata=md)
    (a,) = stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=w.round_id), metadata=md).assignments
    w.allocation_id = a.allocation_id
    w.token_ids = frozenset(t.id for t in server.store.read(lambda r: r.list_tokens(PageRequest(limit=500)).items))
    stubs.channel.close()
    yield w
    server.close()


Ids = Callable[[Any], set[str]]


def items(data: Any, key: str) -> set[str]:
    return {str(item[key]) for item in data}


# (command, the ids a script reads from its JSON, the ids the table must show whole)
COMMANDS = [
    pytest.param(lambda w: ("cluster", "list"), lambda d: items(d, "clusterId"), lambda w: {LONG_CLUSTER},
                 id="cluster list"),
    pytest.param(lambda w: ("cluster", "show", LONG_CLUSTER), lambda d: {d["clusterId"]}, lambda w: {LONG_CLUSTER},
                 id="cluster show"),
    pytest.param(lambda w: ("request", "list"), lambda d: items(d, "requestId"), lambda w: {w.request_id},
                 id="request list"),
    pytest.param(lambda w: ("request", "show", w.request_id), lambda d: {d["requestId"]}, lambda w: {w.request_id},
                 id="request show"),
    pytest.param(lambda w: ("round", "list"), lambda d: items(d, "roundId"), lambda w: {w.round_id},
                 id="round list"),
    pytest.param(lambda w: ("round", "show", w.round_id),
                 lambda d: {d["round"]["roundId"], *(v for a in d["plan"]["assignments"]
                                                     for v in (a["requestId"], a["clusterId"]))},
                 lambda w: {w.round_id, w.request_id, LONG_CLUSTER}, id="round show, with its plan"),
    pytest.param(lambda w: ("execution", "status"), lambda d: items(d, "allocationId") | items(d, "clusterId"),
                 lambda w: {w.allocation_id, LONG_CLUSTER}, id="execution status"),
    pytest.param(lambda w: ("ledger",), lambda d: items(d, "roundId"), lambda w: {w.round_id},
                 id="ledger of published rounds"),
    pytest.param(lambda w: ("ledger", w.round_id),
                 lambda d: {v for a in d["allocations"] for v in (a["requestId"], a["clusterId"])},
                 lambda w: {w.request_id, LONG_CLUSTER}, id="ledger of one round"),
    pytest.param(lambda w: ("audit", "--subject", w.round_id), lambda d: items(d, "subjectId"),
                 lambda w: {w.round_id}, id="audit of a round"),
    pytest.param(lambda w: ("token", "list"), lambda d: items(d, "id"), lambda w: w.token_ids, id="token list"),
]


def terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    """The tables, as a terminal of ``width`` columns receives them."""
    out = io.StringIO()
    monkeypatch.setattr(tables, "console", Console(file=out, width=width, force_terminal=False, color_system=None))
    return out


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    return terminal(monkeypatch, 80)


@pytest.fixture
def wide_screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    return terminal(monkeypatch, 250)


def run(w: World, command: tuple[str, ...], *options: str) -> None:
    assert main(w.args(*command, *options)) == 0


@pytest.mark.parametrize(("command", "read", "shown"), COMMANDS)
def test_json_parses_and_gives_back_the_ids_and_yaml_is_the_same_data(
    world: World, capsys: pytest.CaptureFixture[str], command: Callable[[World], tuple[str, ...]], read: Ids,
    shown: Callable[[World], set[str]],
) -> None:
    run(world, command(world), "-o", "json")
    data = json.loads(capsys.readouterr().out)
    assert read(data) == shown(world)
    run(world, command(world), "-o", "yaml")
    assert yaml.safe_load(capsys.readouterr().out) == data


@pytest.mark.parametrize(("command", "read", "shown"), COMMANDS)
def test_the_80_column_table_never_cuts_an_id(
    world: World, screen: io.StringIO, command: Callable[[World], tuple[str, ...]], read: Ids,
    shown: Callable[[World], set[str]],
) -> None:
    run(world, command(world))
    out = screen.getvalue()
    assert "…" not in out, out
    assert max(len(line) for line in out.splitlines()) <= 80
    columns = folded_columns(out)
    for wanted in shown(world):
        assert any(wanted in text for text in columns), f"{wanted} cut in\n{out}"


def folded_columns(out: str) -> list[str]:
    """Each table column's text, its lines joined without spaces: an id folded over lines reads whole again."""
    cells: dict[int, list[str]] = {}
    for line in out.splitlines():
        if "│" not in line:
            continue
        for i, fragment in enumerate(line.split("│")):
            cells.setdefault(i, []).append(fragment.strip())
    return ["".join(parts) for parts in cells.values()]


@pytest.mark.parametrize(
    ("command", "wide_only"),
    [
        pytest.param(("cluster", "list"), "heartbeat", id="the clusters' heartbeats need a wide terminal"),
        pytest.param(("execution", "status"), "submission", id="an execution's submission id is wide"),
    ],
)
def test_wide_adds_the_columns_the_table_leaves_out(
    world: World, wide_screen: io.StringIO, command: tuple[str, ...], wide_only: str
) -> None:
    run(world, command)
    assert wide_only not in wide_screen.getvalue()
    run(world, command, "-o", "wide")
    assert wide_only in wide_screen.getvalue()


def test_an_unknown_format_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(world.args("cluster", "list", "-o", "csv"))
    assert exit.value.code == 2
    assert "invalid choice: 'csv'" in capsys.readouterr().err


def test_the_token_list_never_carries_a_secret(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    run(world, ("token", "list"), "-o", "json")
    (token, *_) = json.loads(capsys.readouterr().out)
    assert not {"salt", "secret_hash"} & set(token)

