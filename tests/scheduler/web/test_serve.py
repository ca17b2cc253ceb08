"""``allmende serve --workers 2`` with the console on: worker 0 alone serves it, on one port, and stops cleanly."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.ports import free_port, listening
from tests.scheduler.api.harness import SubprocessServer

pytestmark = pytest.mark.slow


def test_with_two_workers_the_console_is_served_once_from_the_environment(tmp_path: Path) -> None:
    http_port = free_port()
    server = SubprocessServer(f"sqlite:///{tmp_path / 'workers.db'}", workers=2,
                              extra_env={"ALLMENDE_HTTP_PORT": str(http_port)})
    server.start()
    try:
        assert listening(http_port) == 1, "one console, on worker 0"
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}") as client:
            ledger = client.get("/ledger")
        assert ledger.status_code == 200 and "No round has been published yet" in ledger.text
    finally:
        code = server.stop()
    assert code == 0, server.stderr()
    assert listening(http_port) == 0
