"""The committed generated code is exactly what the pinned grpcio-tools makes of the .proto files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scheduler.api import codegen


def test_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    # In a child process: grpc_tools' bundled protobuf and OR-Tools' cannot share one process.
    subprocess.run([sys.executable, "-m", "scheduler.api.codegen", str(tmp_path)], check=True, cwd=codegen.ROOT,
                   capture_output=True, timeout=120)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(codegen.GEN_DIR): p.read_bytes()
        for p in codegen.GEN_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(map(str, fresh)) == sorted(map(str, committed)), "run: python -m scheduler.api.codegen"
    stale = [str(name) for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"regenerate with `python -m scheduler.api.codegen`: {stale}"


def test_every_service_in_the_issue_is_in_the_contract() -> None:
    from scheduler.api.server import SERVICE_NAMES

    assert set(SERVICE_NAMES) == {
        "allmende.v1.InventoryService", "allmende.v1.RequestService", "allmende.v1.RoundService",
        "allmende.v1.ReviewService", "allmende.v1.LedgerService", "allmende.v1.ExecutionService",
    }
