"""Ports of the servers a test or benchmark starts: a free one, and waiting until one listens."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from scheduler.execution.local_head import free_port

__all__ = ["free_port", "listening", "wait_for"]


def listening(port: int) -> int:
    """Sockets listening on ``port`` (from /proc/net): one per worker of ``allmende serve --workers``."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            count += int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A"
    return count


def wait_for(check: Callable[[], bool], timeout: float = 30, every: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise TimeoutError("condition not met in time")
        time.sleep(every)
