"""Engines for the SQL store: SQLite tuned for durable group commit, or PostgreSQL, chosen by URL.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: every COMMIT fsyncs the
WAL, so a write the store acknowledged survives a power cut, not only a ``kill -9``.  With
``synchronous=NORMAL`` WAL would survive a process crash (the OS keeps the written pages) but could
lose the last commits on power loss; group commit makes FULL cheap enough (one fsync per batch), so
correctness wins.  Override for experiments with ``?synchronous=NORMAL`` in the URL.

The writer connection opens every transaction with ``BEGIN IMMEDIATE`` (take the write lock now,
not at the first write, so no deadlock-prone lock upgrade); reader connections are
``query_only`` and see one snapshot per transaction.  ``busy_timeout`` lets another process's
writer (a second server, a CLI migration) finish instead of failing at once.

Several writers of one file (the workers of ``allmende serve --workers N``) also take turns under
a :class:`WriterLock`: SQLite's busy handler waits by sleeping 1, 2, 5, 10 ms and retrying, which
between group-committing processes costs more than the commits themselves; a blocked ``flock``
wakes as soon as the holder lets go.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

BUSY_TIMEOUT_MS = 10_000
SYNC_LEVELS = {"OFF", "NORMAL", "FULL", "EXTRA"}


def make_engine(url: str, *, writer: bool, pool_size: int = 4) -> sa.Engine:
    """An engine for ``url``: the single writer's (``writer=True``) or the readers'."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(parsed, writer=writer, pool_size=pool_size)
    if parsed.get_backend_name() == "postgresql":
        # Readers see one snapshot per transaction.  No ping per checkout (a round trip on every read):
        # a dropped connection invalidates the pool and SqlStore.read retries once.
        isolation = "READ COMMITTED" if writer else "REPEATABLE READ"
        return sa.create_engine(parsed, pool_size=pool_size, max_overflow=4, isolation_level=isolation)
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use sqlite:/// or postgresql+psycopg://")


def _sqlite(url: sa.URL, *, writer: bool, pool_size: int) -> sa.Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise ValueError("an in-memory SQLite database cannot be shared by writer and readers; use memory://")
    sync = str(url.query.get("synchronous", "FULL")).upper()
    if sync not in SYNC_LEVELS:
        raise ValueError(f"synchronous={sync!r}: expected one of {sorted(SYNC_LEVELS)}")
    url = url.difference_update_query(["synchronous"])
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        poolclass=sa.pool.QueuePool,
        pool_size=pool_size,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, so savepoints behave
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sync}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not writer:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class WriterLock:
    """An exclusive ``flock`` on ``<database>-writer.lock``, held by a SQLite writer for a transaction."""

    def __init__(self, database: str) -> None:
        self._fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def writer_lock(url: str) -> WriterLock | contextlib.nullcontext[None]:
    """What a writer holds around each transaction: the file lock on SQLite; PostgreSQL needs none."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return WriterLock(parsed.database or "")
    return contextlib.nullcontext()
