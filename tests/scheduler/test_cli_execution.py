"""The commands around execution, run as ``allmende`` subprocesses against a real server on loopback.

Clusters come from the example file (``cluster register --file``), a round is run, approved and published over
the API, and then ``execution status``, ``execution render`` and ``ledger`` are read as a user reads them.  The
``examples`` command and a bad clusters file need no round.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.domain import Role
from tests.scheduler.api.harness import ROOT, T0, InProcessServer, auth

ENV = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
EXAMPLE_CLUSTERS = Path(str(resources.files("scheduler.examples").joinpath("clusters.yaml")))


@dataclass
class World:
    server: InProcessServer
    db_url: str
    operator: str
    registered: str  # what ``cluster register --file`` printed
    round_id: str = ""
    request_id: str = ""

    def __call__(self, *args: str, expect: int = 0, remote: bool = True, cwd: Path = ROOT) -> str:
        cmd = [sys.executable, "-m", "scheduler.cli", *args]
        if remote:
            cmd += ["--server", self.server.address, "--token", self.operator]
        done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)
        assert done.returncode == expect, f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def cluster_ids(self) -> set[str]:
        listed = self.server.stubs().inventory.ListClusters(inv.ListClustersRequest(), metadata=auth(self.operator))
        return {c.cluster_id for c in listed.clusters}


def publish_a_round(w: World) -> None:
    """One embl request on the example clusters, solved, approved and published."""
    stubs, md = w.server.stubs(), auth(w.operator)
    embl = w.server.token(Role.APPLICANT, org="embl")
    spec = req.RequestSpec(title="fold", org="embl", category="research", gpus=4, runtime_slots={"H100": 2},
                           entrypoint="python fold.py", runtime_env={"pip": ["jax"]})
    w.request_id = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="fold", spec=spec),
                                                metadata=auth(embl)).request_id
    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp())), slots=6, slot_minutes=60),
        policy=rnd.POLICY_FAIR, policy_config=common.PolicyConfig(category_shares={"research": 1.0}),
        solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True)), metadata=md)
    list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=md))
    stubs.review.Approve(rev.ApproveRequest(round_id=opened.round_id, reason="fits"), metadata=md)
    stubs.review.Publish(rev.PublishRequest(round_id=opened.round_id, reason="weekly"), metadata=md)
    w.round_id = opened.round_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-exec') / 'allmende.db'}"
    server = InProcessServer(url)
    w = World(server, url, server.token(Role.OPERATOR), "")
    w.registered = w("cluster", "register", "--file", str(EXAMPLE_CLUSTERS))
    publish_a_round(w)
    yield w
    server.close()


def test_every_cluster_of_the_example_file_is_registered_with_its_execution_target(world: World) -> None:
    for cid in ("de-juelich", "fr-idris", "fi-kajaani"):
        assert cid in world.registered
    assert {"de-juelich", "fr-idris", "fi-kajaani"} <= world.cluster_ids()
    got = world.server.stubs().inventory.GetCluster(inv.GetClusterRequest(cluster_id="fi-kajaani"),
                                                    metadata=auth(world.operator))
    assert got.execution.kind == inv.EXECUTION_KIND_RAY and got.pue == pytest.approx(1.03)
    assert [(p.gpu_type, p.count, p.tdp_watts, p.memory_gb) for p in got.gpus] == [("MI250X", 32, 560, 128)]


def test_the_flag_form_still_registers_one_cluster_with_a_kuberay_target(world: World) -> None:
    world("cluster", "register", "k8s-site", "--country", "NL", "--gpu", "H100:8:700:80", "--execution", "kuberay",
          "--execution-context", "prod", "--execution-namespace", "gpu-jobs")
    got = world.server.stubs().inventory.GetCluster(inv.GetClusterRequest(cluster_id="k8s-site"),
                                                    metadata=auth(world.operator))
    assert (got.execution.kind, got.execution.context, got.execution.namespace) == (
        inv.EXECUTION_KIND_KUBERAY, "prod", "gpu-jobs")


GOOD = {"id": "good-site", "country": "DE", "gpu_types": {"H100": {"tdp_watts": 700}}, "gpus": {"H100": 8}}


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        pytest.param({**GOOD, "id": "bad-site", "colour": "red"}, "clusters[1] (bad-site): colour",
                     id="an unknown field"),
        pytest.param({**GOOD, "id": "bad-site", "gpu_types": {"H100": {}}},
                     "clusters[1] (bad-site): gpu_types.H100.tdp_watts", id="a GPU type without board power"),
        pytest.param({**GOOD, "id": "bad-site", "gpus": {"H100": 8, "B200": 4}}, "clusters[1] (bad-site): gpus",
                     id="GPUs of a type the file gives no board power for"),
        pytest.param({**GOOD, "id": "bad-site", "country": "Germany"}, "clusters[1] (bad-site): country",
                     id="a country the server would refuse"),
        pytest.param({**GOOD, "id": "bad-site", "execution": {"kind": "slurm"}},
                     "clusters[1] (bad-site): execution.kind", id="an execution kind we do not run"),
        pytest.param(GOOD, "clusters[1] (good-site): id 'good-site' is listed twice", id="the same id twice"),
    ],
)
def test_a_bad_clusters_file_names_the_cluster_and_field_and_registers_nothing(
    world: World, tmp_path: Path, bad: dict[str, Any], says: str
) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump({"clusters": [GOOD, bad]}), encoding="utf-8")
    before = world.cluster_ids()
    out = " ".join(world("cluster", "register", "--file", str(path), expect=2).split())
    assert says in out
    assert world.cluster_ids() == before and "good-site" not in before


def test_execution_status_shows_the_approved_allocation_in_full(world: World) -> None:
    plan = world.server.stubs().rounds.GetPlan(rnd.GetPlanRequest(round_id=world.round_id),
                                               metadata=auth(world.operator))
    (a,) = plan.assignments
    for out in (world("execution", "status", world.round_id), world("execution", "status")):
        row = next(line for line in out.splitlines() if a.allocation_id in line)
        for text in (world.request_id, "embl", a.cluster_id, "4×H100", "approved"):
            assert text in row
        start = T0.replace(hour=a.start_slot).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert start in row
    assert "NOT_FOUND" in world("execution", "status", "round-nope", expect=1)


def test_execution_render_prints_the_rayjob_the_executor_would_submit(world: World) -> None:
    from tests.scheduler.execution.test_kuberay_manifest import assert_valid

    plan = world.server.stubs().rounds.GetPlan(rnd.GetPlanRequest(round_id=world.round_id),
                                               metadata=auth(world.operator))
    (a,) = plan.assignments
    out = world("execution", "render", a.allocation_id, "--db", world.db_url, remote=False)
    manifest = yaml.safe_load(out)
    assert manifest["kind"] == "RayJob"
    notes = manifest["metadata"]["annotations"]
    assert notes["allmende.eu/submission-id"] == f"{a.allocation_id}-1"
    assert notes["allmende.eu/allocation-id"] == a.allocation_id
    assert manifest["metadata"]["namespace"] == "allmende-embl"
    assert manifest["spec"]["entrypoint"] == "python fold.py"
    assert manifest["spec"]["activeDeadlineSeconds"] == (a.end_slot - a.start_slot) * 3600
    assert_valid(manifest)


def test_render_of_an_unknown_allocation_is_a_clear_error(world: World) -> None:
    out = world("execution", "render", "alloc-nope", "--db", world.db_url, remote=False, expect=2)
    assert "alloc-nope" in out and "not found" in out


def test_the_ledger_shows_planned_against_actual_with_unknown_co2(world: World) -> None:
    out = world("ledger", world.round_id)
    table = out[out.index("planned against actual"):]
    rows = {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("│ ").split("│")]
                                              for line in table.splitlines() if line.startswith("│"))}
    # one allocation planned, none ran yet; the example clusters report no carbon intensity, so planned CO2 is unknown
    assert rows["research"][:2] == ["1", "0"] and rows["total"][:2] == ["1", "0"]
    assert rows["total"][6] == "unknown", "planned CO2 on clusters without carbon data"
    assert rows["total"][7] == "—" and rows["total"][8] == "—", "nothing ran: no actual CO2, no SCI"
    assert "board power" in " ".join(out.split()) and "full utilisation" in " ".join(out.split())


def test_examples_copies_the_files_and_refuses_to_overwrite(world: World, tmp_path: Path) -> None:
    out = world("examples", str(tmp_path / "ex"), remote=False)
    copied = sorted(str(p.relative_to(tmp_path / "ex")) for p in (tmp_path / "ex").rglob("*.yaml"))
    assert copied == ["agent-static.yaml", "agents/de-juelich.yaml", "agents/fi-kajaani.yaml", "agents/fr-idris.yaml",
                      "clusters.yaml", "requests.yaml"]
    assert all(name in out for name in copied)
    assert (tmp_path / "ex" / "clusters.yaml").read_bytes() == EXAMPLE_CLUSTERS.read_bytes()

    (tmp_path / "ex" / "clusters.yaml").write_text("mine", encoding="utf-8")
    refused = " ".join(world("examples", str(tmp_path / "ex"), remote=False, expect=2).split())
    assert "clusters.yaml" in refused and "--force" in refused
    assert (tmp_path / "ex" / "clusters.yaml").read_text(encoding="utf-8") == "mine"
    world("examples", str(tmp_path / "ex"), "--force", remote=False)
    assert (tmp_path / "ex" / "clusters.yaml").read_bytes() == EXAMPLE_CLUSTERS.read_bytes()


def test_examples_default_folder_is_allmende_examples(world: World, tmp_path: Path) -> None:
    world("examples", remote=False, cwd=tmp_path)
    assert (tmp_path / "allmende-examples" / "clusters.yaml").exists()


@pytest.mark.parametrize(
    ("flags", "want"),
    [
        pytest.param([], {"execute": "none", "execution_seconds_per_slot": None, "local_ray_address": None},
                     id="without flags nothing executes"),
        pytest.param(["--execute", "local", "--execution-seconds-per-slot", "2.5", "--local-ray-address",
                      "http://head:8265"],
                     {"execute": "local", "execution_seconds_per_slot": 2.5, "local_ray_address": "http://head:8265"},
                     id="each execution flag sets its setting"),
    ],
)
def test_serve_maps_the_execution_flags_to_settings(flags: list[str], want: dict[str, Any]) -> None:
    from scheduler.cli import build_parser
    from scheduler.cli.serve import SETTINGS
    from scheduler.settings import load

    args = build_parser().parse_args(["serve", *flags])
    settings = load({k: getattr(args, k) for k in SETTINGS}, environ={})
    assert {k: getattr(settings, k) for k in want} == want
