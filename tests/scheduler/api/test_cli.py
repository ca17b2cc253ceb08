"""The CLI end to end against ``allmende serve``: every command, as an operator, applicants, an agent and the public."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.scheduler.api.harness import ALLMENDE, ROOT, SubprocessServer

pytestmark = pytest.mark.slow

REQ_ID = re.compile(r"req-[0-9a-f]+-[0-9a-f]+")
ROUND_ID = re.compile(r"round-[0-9a-f]+-[0-9a-f]+")
ENV = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}


class Cli:
    def __init__(self, server: SubprocessServer, db_url: str) -> None:
        self.server = server
        self.db_url = db_url

    def __call__(self, *args: str, token: str | None = None, expect: int = 0) -> str:
        cmd = [*ALLMENDE, *args]
        if args[0] not in ("token", "serve"):
            cmd += ["--server", self.server.address]
            if token:
                cmd += ["--token", token]
        done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
        assert done.returncode == expect, f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def token(self, role: str, **scope: str) -> str:
        extra = [a for k, v in scope.items() for a in (f"--{k}", v)]
        out = self("token", "create", "--role", role, "--db", self.db_url, "--create-db", *extra)
        return next(line for line in out.splitlines() if line.startswith("alm_")).strip()


def write(path: Path, data: object) -> str:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{root / 'allmende.db'}"
    server = SubprocessServer(url, extra_env={"ALLMENDE_SOLVER_EXECUTOR": "process", "ALLMENDE_TOKEN_CACHE_S": "1"})
    runner = Cli(server, url)
    runner.token("analyst")  # creates and migrates the database before the server opens it
    server.start()
    yield runner
    assert server.stop() == 0, server.stderr()


def test_every_command_against_allmende_serve(cli: Cli, tmp_path: Path) -> None:
    operator = cli.token("operator", name="ops-alice")
    analyst = cli.token("analyst")
    agent = cli.token("cluster-agent", cluster="jsc")
    embl, pisa, startup = (cli.token("applicant", org=o) for o in ("embl", "uni-pisa", "startup-x"))

    # inventory
    cli("cluster", "register", "jsc", "--country", "DE", "--operator", "JSC", "--gpu", "H100:8:700:80",
        "--power-cap-kw", "40", token=agent)
    cli("cluster", "register", "leo", "--country", "IT", "--operator", "CINECA", "--gpu", "A100:4:400", token=operator)
    out = cli("cluster", "report", "jsc", "--gpus", "H100=8", "--withdraw",
              "H100:2:2025-03-03T05:00:00Z/2025-03-03T06:00:00Z", "--carbon", "300,250,200",
              "--carbon-start", "2025-03-03T00:00:00Z", "--heartbeats", "2", "--every", "0.05", token=agent)
    assert "3 report(s) accepted" in out
    cli("cluster", "report", "leo", token=operator)  # a bare heartbeat
    assert "stale" not in cli("cluster", "list", token=analyst)
    assert "8×H100" in cli("cluster", "show", "jsc", token=embl)
    assert "PERMISSION_DENIED" in cli("cluster", "report", "leo", token=agent, expect=1)

    # requests: a file per organisation, submitted twice (idempotent)
    fold = write(tmp_path / "fold.yaml", {"title": "protein folding", "org": "embl", "category": "research",
                                          "gpus": 8, "runtime_slots": {"H100": 3}, "entrypoint": "python fold.py",
                                          "runtime_env": {"pip": ["jax"]}})
    lab = write(tmp_path / "lab.yaml", {"requests": [
        {"id": "course-lab", "title": "course lab", "org": "uni-pisa", "category": "education", "gpus": 4,
         "runtime_slots": {"A100": 2}, "countries": ["IT"], "entrypoint": "python lab.py"},
        {"id": "spare", "title": "spare", "org": "uni-pisa", "category": "education", "gpus": 1,
         "runtime_slots": {"A100": 1}, "entrypoint": "python spare.py"}]})
    rag = write(tmp_path / "rag.yaml", {"title": "rag tuning", "org": "startup-x", "category": "industry",
                                        "gpus": 8, "runtime_slots": {"H100": 4}, "deadline_slot": 6,
                                        "entrypoint": "python rag.py"})
    fold_id = REQ_ID.findall(cli("request", "submit", fold, token=embl))[0]
    assert REQ_ID.findall(cli("request", "submit", fold, token=embl)) == [fold_id]
    lab_id, spare_id = REQ_ID.findall(cli("request", "submit", lab, token=pisa))
    rag_id = REQ_ID.findall(cli("request", "submit", rag, token=startup))[0]
    assert "PERMISSION_DENIED" in cli("request", "submit", fold, token=pisa, expect=1)
    out = cli("request", "submit", write(tmp_path / "bad.yaml", {"title": "x", "org": "embl", "category": "r",
                                                                 "gpus": 0, "runtime_slots": {"H100": 1},
                                                                 "entrypoint": "e"}), token=embl, expect=2)
    assert "spec.gpus" in out and "nothing was submitted" in out  # checked before it is sent

    assert set(REQ_ID.findall(cli("request", "list", token=operator))) == {fold_id, lab_id, spare_id, rag_id}
    assert set(REQ_ID.findall(cli("request", "list", token=pisa))) == {lab_id, spare_id}
    assert "jax" in cli("request", "show", fold_id, token=embl)
    assert "NOT_FOUND" in cli("request", "show", fold_id, token=pisa, expect=1)  # as an unknown id
    amended = write(tmp_path / "fold2.yaml", {**yaml.safe_load(Path(fold).read_text()), "title": "protein folding v2"})
    assert "protein folding v2" in cli("request", "amend", fold_id, amended, "--reason", "typo", token=embl)
    assert "withdrawn" in cli("request", "withdraw", spare_id, "--reason", "not needed", token=pisa)

    # a round: open, run with progress, inspect, explain
    out = cli("round", "open", "--start", "2025-03-03T00:00:00Z", "--slots", "6", "--share", "research=0.5",
              "--share", "industry=0.25", "--share", "education=0.25", "--time-limit", "3", token=operator)
    round_id = ROUND_ID.findall(out)[0]
    out = cli("round", "run", round_id, token=operator)
    assert "proposed" in out and lab_id in out and "rejected" in out
    assert round_id in cli("round", "list", token=analyst)
    assert "allocations" in cli("round", "show", round_id, token=analyst)
    out = cli("round", "explain", round_id, fold_id, token=embl)
    assert "rejected" in out
    assert "assigned to leo" in cli("round", "explain", round_id, lab_id, token=operator)

    # review: pin, reject one, approve the rest, publish
    out = cli("review", "pin", round_id, rag_id, "--cluster", "jsc", "--gpu-type", "H100", "--start", "2",
              "--reason", "later", token=operator, expect=1)
    assert "FAILED_PRECONDITION" in out and "rule 5" in out  # slot 5 is in the maintenance window
    out = cli("review", "pin", round_id, rag_id, "--cluster", "jsc", "--gpu-type", "H100", "--start", "1",
              "--reason", "after the first job", token=operator)
    assert "pinned" in out
    assert "PERMISSION_DENIED" in cli("review", "approve", round_id, "--reason", "x", token=analyst, expect=1)
    cli("review", "reject", round_id, lab_id, "--reason", "course cancelled", token=operator)
    assert "approved" in cli("review", "approve", round_id, "--reason", "fits the call", token=operator)
    assert "published" in cli("publish", round_id, "--reason", "weekly ledger", token=operator)

    # the public ledger needs no token
    assert round_id in cli("ledger")
    out = cli("ledger", round_id)
    assert rag_id in out and "rag tuning" in out and "rejected_in_review: 1" in out

    # audit and replay
    out = cli("audit", "--subject", f"round/{round_id}", token=operator)
    for action in ("open", "run", "pin", "approve", "publish"):
        assert f" {action} " in out
    assert "ops-alice" in out and "weekly ledger" in out
    assert "PERMISSION_DENIED" in cli("audit", token=embl, expect=1)
    assert "identical" in cli("replay", round_id, token=analyst)


def test_tokens_are_listed_without_secrets_and_a_revoked_one_is_refused(cli: Cli) -> None:
    out = cli("token", "create", "--role", "applicant", "--org", "org-gone", "--name", "bob at org-gone",
              "--db", cli.db_url)
    token_id = re.search(r"token (tok-[0-9a-f-]+) \(applicant\)", out).group(1)  # type: ignore[union-attr]
    bearer = next(line for line in out.splitlines() if line.startswith("alm_")).strip()
    cli("request", "list", token=bearer)

    listed = cli("token", "list", "--db", cli.db_url)
    row = next(line for line in listed.splitlines() if token_id in line)
    assert "bob at org-gone" in row and "applicant" in row and "live" in row
    assert bearer not in listed and bearer.split("_")[-1] not in listed

    cli("token", "revoke", token_id, "--reason", "left the project", "--db", cli.db_url)
    row = next(line for line in cli("token", "list", "--db", cli.db_url).splitlines() if token_id in line)
    assert "revoked" in row
    time.sleep(1.5)  # the server's token cache (ALLMENDE_TOKEN_CACHE_S=1)
    refused = cli("request", "list", token=bearer, expect=1)
    assert "UNAUTHENTICATED" in refused
    audit = cli("audit", "--subject", f"token/{token_id}", token=cli.token("operator"))
    assert "revoke_token" in audit and "left the project" in audit

    assert "not found" in cli("token", "revoke", "tok-nope", "--reason", "x", "--db", cli.db_url, expect=2)
