"""Item 7: stale clusters do not fail silently: `round run` warns and refuses, the rejection says stale."""

from __future__ import annotations

import os
import subprocess

from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from tests.scheduler.adversarial.conftest import World
from tests.scheduler.api.harness import ALLMENDE, ROOT, T0, ManualClock

ENV = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}


def cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    token = world.operator[0][1].split(" ", 1)[1]
    return subprocess.run([*ALLMENDE, *args, "--server", world.server.address, "--token", token],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)


def test_a_round_on_only_stale_clusters_is_refused_unless_asked_and_says_stale(world: World) -> None:
    world.submit("a")
    clock = world.server.clock
    assert isinstance(clock, ManualClock)
    clock.advance(10 * 3 + 1)  # three heartbeat intervals without a word from jsc's agent
    assert world.server.call(world.server.service.sweep_stale()) == ["jsc"]
    opened = world.stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=6)),
        metadata=world.operator)

    refused = cli(world, "round", "run", opened.round_id)
    assert refused.returncode == 1, refused.stderr
    assert "stale" in refused.stderr and "jsc" in refused.stderr and "--allow-no-clusters" in refused.stderr
    state = world.stubs.rounds.GetRound(rnd.GetRoundRequest(round_id=opened.round_id), metadata=world.operator)
    assert state.state == rnd.ROUND_STATE_OPEN, "a refused run changes nothing"

    ran = cli(world, "round", "run", opened.round_id, "--allow-no-clusters")
    assert ran.returncode == 0, ran.stderr
    assert "warning" in ran.stderr and "jsc" in ran.stderr
    plan = world.stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=opened.round_id), metadata=world.operator)
    [rejection] = plan.rejections
    assert rejection.reason == "no_eligible_cluster"
    assert "stale" in rejection.detail and "jsc" in rejection.detail
