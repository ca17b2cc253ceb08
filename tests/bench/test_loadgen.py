"""The benchmark's C load generator counts what the server did: each call its own key, failures as failures."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bench.service_bench import KEY_PLACEHOLDER, SPEC
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.domain import Role
from tests.scheduler.api.harness import ROOT, InProcessServer

SOURCE = ROOT / "bench" / "loadgen" / "loadgen.c"


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("cc") is None or not Path("/usr/include/nghttp2/nghttp2.h").exists():
        pytest.skip("needs a C compiler and libnghttp2's headers (apt-get install libnghttp2-dev)")
    binary = tmp_path_factory.mktemp("loadgen") / "loadgen"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(SOURCE), "-lnghttp2"],
                   check=True)
    return binary


def run(loadgen: Path, tmp_path: Path, address: str, token: str, clients: int) -> tuple[dict[str, str], int]:
    body = req.SubmitRequestRequest(idempotency_key=KEY_PLACEHOLDER, spec=req.RequestSpec(title="t", **SPEC))
    frame = b"\0" + struct.pack(">I", body.ByteSize()) + body.SerializeToString()
    (tmp_path / "frame").write_bytes(frame)
    host, port = address.rsplit(":", 1)
    out = subprocess.run([str(loadgen), host, port, "/allmende.v1.RequestService/SubmitRequest", token,
                          str(clients), "2", "0", "0.5", str(tmp_path / "frame"),
                          str(frame.index(KEY_PLACEHOLDER.encode())), "test"],
                         capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    head = dict(line.split(" ", 1) for line in out if not line[:1].isdigit())
    return head, sum(1 for line in out if line[:1].isdigit())


def test_every_answered_call_is_one_stored_request_with_its_own_key(loadgen: Path, tmp_path: Path) -> None:
    server = InProcessServer(url=f"sqlite:///{tmp_path / 'load.db'}")
    try:
        head, latencies = run(loadgen, tmp_path, server.address, server.token(Role.APPLICANT, org="bench-org"), 4)
        stubs, operator = server.stubs(), [("authorization", f"Bearer {server.token(Role.OPERATOR)}")]
        keys: list[str] = []
        cursor = ""
        while True:
            page = stubs.requests.ListRequests(req.ListRequestsRequest(page={"page_size": 500, "page_token": cursor}),
                                               metadata=operator)
            keys += [r.idempotency_key for r in page.requests]
            cursor = page.next_page_token
            if not cursor:
                break
    finally:
        server.close()
    assert head["errors"] == "0" and int(head["ok"]) == latencies > 0
    assert len(keys) == len(set(keys)) == latencies
    assert all(k.startswith("test    -000") for k in keys)


def test_refused_calls_are_counted_as_errors_with_their_status(loadgen: Path, tmp_path: Path) -> None:
    server = InProcessServer()
    try:
        head, latencies = run(loadgen, tmp_path, server.address, "alm_not-a-token", 2)
    finally:
        server.close()
    assert head["ok"] == "0" and latencies == 0 and int(head["errors"]) > 0
    assert head["error"].startswith("16 ")  # UNAUTHENTICATED
