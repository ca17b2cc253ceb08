"""Item 8: the smaller edges a newcomer found with the CLI and with ids of other organisations."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import grpc
import pytest
import yaml

from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.domain import Role
from tests.scheduler.adversarial.conftest import World
from tests.scheduler.api.harness import ALLMENDE, ROOT, auth

pytestmark = pytest.mark.slow  # each test starts the CLI in a subprocess

ENV = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
REQUEST = {"title": "Protein folding", "category": "research", "gpus": 2, "runtime_slots": {"H100": 3},
           "entrypoint": "python fold.py"}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ALLMENDE, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def remote(world: World, bearer: list[tuple[str, str]], *args: str) -> subprocess.CompletedProcess[str]:
    return run(*args, "--server", world.server.address, "--token", bearer[0][1].split(" ", 1)[1])


def test_token_create_elsewhere_refuses_to_make_a_new_database_and_names_the_file(tmp_path: Path) -> None:
    refused = run("token", "create", "--role", "operator", cwd=tmp_path)
    assert refused.returncode == 2 and str(tmp_path / "allmende.db") in refused.stderr
    assert not (tmp_path / "allmende.db").exists()
    made = run("token", "create", "--role", "operator", "--create-db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"database: {tmp_path / 'allmende.db'}" in made.stderr


@pytest.mark.parametrize("scope", [
    pytest.param(["--role", "operator", "--org", "embl"], id="an operator token with an organisation"),
    pytest.param(["--role", "analyst", "--cluster", "jsc"], id="an analyst token with a cluster"),
])
def test_a_token_scope_the_role_ignores_is_refused(scope: list[str], tmp_path: Path) -> None:
    done = run("token", "create", *scope, "--create-db", "--db", f"sqlite:///{tmp_path / 'a.db'}")
    assert done.returncode == 2 and "only" in done.stderr and "alm_" not in done.stdout


def test_an_applicant_sees_the_round_without_the_plan_and_exits_0(world: World) -> None:
    world.submit("a")
    round_id = world.proposed_round(research=1.0)
    shown = remote(world, world.applicant, "round", "show", round_id)
    assert shown.returncode == 0, shown.stderr
    assert round_id in shown.stdout and "round explain" in shown.stderr


def test_a_file_with_one_bad_request_submits_none(world: World, tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump({"requests": [REQUEST, {**REQUEST, "gpus": 0}]}), encoding="utf-8")
    done = remote(world, world.applicant, "request", "submit", str(path))
    assert done.returncode == 2 and "request 1" in done.stderr and "nothing was submitted" in done.stderr
    assert world.stubs.requests.ListRequests(req.ListRequestsRequest(), metadata=world.operator).requests == []


def test_the_organisation_defaults_to_the_applicants_token(world: World, tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(REQUEST), encoding="utf-8")
    done = remote(world, world.applicant, "request", "submit", str(path))
    assert done.returncode == 0, done.stderr
    [stored] = world.stubs.requests.ListRequests(req.ListRequestsRequest(), metadata=world.operator).requests
    assert stored.spec.org == "embl"


def test_another_organisations_request_reads_as_an_unknown_id(world: World) -> None:
    theirs = world.submit("theirs").request_id
    stranger = auth(world.server.token(Role.APPLICANT, org="other"))

    def refusal(request_id: str) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as err:
            world.stubs.requests.GetRequest(req.GetRequestRequest(request_id=request_id), metadata=stranger)
        return err.value.code(), (err.value.details() or "").replace(request_id, "ID")

    assert refusal(theirs) == refusal("req-0000000000-000000") == (grpc.StatusCode.NOT_FOUND, "request 'ID' not found")
