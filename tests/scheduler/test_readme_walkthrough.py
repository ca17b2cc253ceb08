"""The README's service walkthrough, run as written: every command of its shell block against a real service.

The block under "### The service" is taken from README.md as it stands and run by bash with ``set -euo
pipefail`` in an empty folder, with ``allmende`` on PATH and the server on a free loopback port
(``ALLMENDE_PORT`` and ``ALLMENDE_SERVER``, so that it never meets another test's server).  A command that
fails stops the script and fails the test; the key outputs of each step must appear.  The service, its
agents and the Ray head it starts are stopped at the end (SIGTERM to the script's process group: the service
stops its own head).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.execution.local_head import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TRAILER = '\necho "WALKTHROUGH round=$ROUND running=$(jobs -rp | wc -l)"\n'


def walkthrough(readme: str) -> str:
    """The first ``sh`` block after the heading "### The service"."""
    section = readme[readme.index("### The service"):]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the service section has no sh block"
    return block.group(1)


def run(script: str, cwd: Path, port: int, timeout: float) -> tuple[int, str]:
    """Run ``script`` under bash -euo pipefail; returns its exit code and output, and stops what it left running."""
    log = cwd / "walkthrough.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
    env |= {"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "ALLMENDE_PORT": str(port),
            "ALLMENDE_SERVER": f"127.0.0.1:{port}", "PYTHONPATH": str(ROOT),
            "COLUMNS": "250"}  # a wide terminal, so that the key outputs are not folded over lines
    with log.open("w") as out:
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            stop_group(proc.pid)
    return code, log.read_text()


def stop_group(pgid: int, grace: float = 90.0) -> None:
    """SIGTERM to the script's process group (the service stops its Ray head on it), SIGKILL after ``grace``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(pgid, signal.SIGKILL)


def test_a_broken_command_in_the_block_fails_the_run(tmp_path: Path) -> None:
    script = walkthrough("### The service\n```sh\nallmende examples ex\nallmende request sumbit ex/requests.yaml\n"
                         "echo never reached\n```\n")
    code, out = run(script, tmp_path, free_port(), timeout=120)
    assert code == 2 and "invalid choice: 'sumbit'" in out and "never reached" not in out


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_the_readme_service_walkthrough_runs_as_written(tmp_path: Path) -> None:
    if not (BIN / "ray").exists():
        pytest.skip("ray is not installed in this environment (pip install 'allmende[ray]'): the walkthrough "
                    "serves with --execute local")
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (apt-get install jq): the walkthrough reads the round id with it")
    code, out = run(walkthrough((ROOT / "README.md").read_text(encoding="utf-8")) + TRAILER, tmp_path, free_port(),
                    timeout=300)
    assert code == 0, out[-6000:]
    done = re.search(r"WALKTHROUGH round=(round-\S+) running=\s*(\d+)", out)
    assert done is not None, out[-6000:]
    assert int(done.group(2)) == 4, "the service and three agents still run at the end"
    text = " ".join(out.split())
    for key in (
        "de-juelich", "fr-idris", "fi-kajaani",  # three clusters registered
        "nordlicht-ai", "H100 7.5 h", "2027-01-04 06:00 → 2027-01-04 20:00 UTC",  # requests in hours and dates
        "proposed", "time (UTC)", "2027-01-04",  # the plan, its slots beside its times
        "approved", "published",
        "planned against actual",  # the public ledger
    ):
        assert key in text, f"{key!r} missing from the walkthrough's output:\n{out[-6000:]}"
