"""The rendered chart passes checkov's Kubernetes checks; the few skipped ones say why in helm/allmende/checkov.yaml.

checkov pins ``packaging<24`` and pytest needs ``packaging>=24``, so checkov lives in a venv of its own
(``make scan-venv`` builds ``.venv-scan``; ``make test`` does it first).  Without it this test skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helm.chart import CHART, ROOT, render, values

pytest.importorskip("helm_python")


def checkov() -> str | None:
    local = ROOT / ".venv-scan" / "bin" / "checkov"
    return str(local) if local.is_file() else shutil.which("checkov")


@pytest.mark.slow
@pytest.mark.skipif(checkov() is None, reason="checkov is not installed (make scan-venv)")
def test_the_rendered_chart_passes_the_security_scan(tmp_path: Path) -> None:
    for name, overrides in (("default", None), ("production", values())):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(render(overrides)))
    done = subprocess.run([str(checkov()), "--config-file", str(CHART / "checkov.yaml"), "-d", str(tmp_path),
                           "--output", "json", "--skip-download"], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BC_SKIP_MAPPING": "TRUE"})
    report = json.loads(done.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0 and not failed, failed
    assert summary["passed"] > 100, summary  # the scan really looked at the objects
