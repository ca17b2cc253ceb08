"""``make demo`` as a newcomer runs it: the whole product, end to end, on a compressed clock."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ALLMENDE = str(Path(sys.executable).with_name("allmende"))

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.xdist_group("ray")]


def test_the_demo_runs_every_allocation_and_writes_its_report(tmp_path: Path) -> None:
    if not Path(sys.executable).with_name("ray").exists():
        pytest.skip("ray is not installed in this environment (pip install 'allmende[ray]')")
    out = tmp_path / "demo"
    done = subprocess.run([ALLMENDE, "demo", "--out", str(out), "--seconds-per-slot", "2", "--time-limit", "5"],
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = done.stdout
    ran = re.search(r"(\d+) of (\d+) allocations succeeded", text)
    assert ran is not None, text[-3000:]
    assert int(ran.group(2)) > 0 and "still open" not in text, "every allocation ended"
    assert int(ran.group(1)) > 0, "jobs ran on Ray"
    total = next(line for line in text.splitlines() if line.startswith("│ total"))
    cells = [c.strip() for c in total.strip("│ ").split("│")]
    assert cells[1] == ran.group(2), "the ledger plans every allocation"
    assert int(cells[2]) >= int(ran.group(1)), "every job that succeeded has its actual figures"
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 4 and "Energy against the cap" in report
    assert f"Report: {out / 'report.html'}" in " ".join(text.split())
    assert "Traceback" not in (out / "server.log").read_text()
