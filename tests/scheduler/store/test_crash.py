"""Crash safety at the store level: what was acknowledged survives ``kill -9``, exactly once.

A child process submits from four threads and prints every acknowledged id; we SIGKILL it mid-flight
three times over the same database.  After each kill the store must hold every acknowledged id,
and retrying the sends that were never acknowledged (as a client would, with the same idempotency
key) must neither duplicate nor lose anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.domain import RequestRecord
from scheduler.store import PageRequest, Repository, RequestQuery, open_store
from tests.scheduler.store.builders import change, spec
from tests.scheduler.store.conftest import SQL_BACKENDS, fresh_url

ROOT = Path(__file__).resolve().parents[3]
KILLS = 3
ACKS_BEFORE_KILL = 150


def everything(store: Repository) -> list[RequestRecord]:
    out: list[RequestRecord] = []
    cursor = None
    while True:
        page = store.read(
            lambda r, c=cursor: r.list_requests(RequestQuery(org="org-crash"), PageRequest(limit=1000, cursor=c))
        )
        out += page.items
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def run_and_kill(url: str, run: str) -> tuple[set[str], dict[str, str]]:
    """Start the client, SIGKILL it after enough acks; return (sent keys, acked key -> id)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.scheduler.store.crash_client", url, run],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    sent: set[str] = set()
    acked: dict[str, str] = {}
    deadline = time.monotonic() + 60
    assert child.stdout is not None
    try:
        for line in child.stdout:
            word, key, *rest = line.split()
            if word == "sent":
                sent.add(key)
            else:
                acked[key] = rest[0]
            if len(acked) >= ACKS_BEFORE_KILL or time.monotonic() > deadline:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert len(acked) >= ACKS_BEFORE_KILL, "the client did not get going"
    return sent, acked


@pytest.mark.slow
@pytest.mark.parametrize("backend", SQL_BACKENDS)
def test_acknowledged_submissions_survive_sigkill_exactly_once(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    url = fresh_url(request, backend, tmp_path)
    all_acked: dict[str, str] = {}
    for run in range(KILLS):
        sent, acked = run_and_kill(url, f"run{run}")
        all_acked |= acked
        store = open_store(url)
        stored = everything(store)
        by_key = {r.idempotency_key: r.id for r in stored}
        assert len(by_key) == len(stored), "a key is stored twice"
        missing = {k: i for k, i in all_acked.items() if by_key.get(k) != i}
        assert not missing, f"acknowledged but lost after kill -9: {missing}"
        for key in sorted(sent - set(acked)):  # the client retries what it never heard back about
            retried = store.submit_request(spec("org-crash", key), id=f"retry-{key}", by=change())
            assert by_key.get(key, retried.id) == retried.id
        store.close()
    store = open_store(url)
    keys = [r.idempotency_key for r in everything(store)]
    store.close()
    assert len(keys) == len(set(keys))
