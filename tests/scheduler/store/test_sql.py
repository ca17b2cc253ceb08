"""What only the SQL stores promise: migrations, the database's own guards, and group commit under load."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scheduler.domain import RequestRecord, Role
from scheduler.errors import Conflict
from scheduler.store import PageRequest, open_store, upgrade
from scheduler.store.engine import make_engine
from scheduler.store.migrate import current, head
from scheduler.store.schema import metadata
from scheduler.store.sql import SqlStore
from tests.fixtures.postgres import PostgresServer
from tests.scheduler.store.builders import change, spec
from tests.scheduler.store.conftest import SQL_BACKENDS, fresh_url


@pytest.fixture(params=SQL_BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database("empty")


def dump(url: str) -> str:
    """Every row of every table, as text."""
    engine = make_engine(url, writer=False, pool_size=1)
    try:
        with engine.connect() as c:
            return "\n".join(str(row) for table in metadata.sorted_tables for row in c.execute(sa.select(table)))
    finally:
        engine.dispose()


def test_migrations_build_the_schema_from_nothing_and_match_the_code(empty_url: str) -> None:
    assert current(empty_url) is None
    upgrade(empty_url)
    upgrade(empty_url)  # a second start is a no-op
    assert current(empty_url) == head() == "0002"
    engine = make_engine(empty_url, writer=True, pool_size=1)
    try:
        with engine.connect() as c:
            context = MigrationContext.configure(c, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_the_database_itself_refuses_to_rewrite_the_audit_log(sql_url: str) -> None:
    store = open_store(sql_url, migrate=False)
    store.write(lambda t: t.append_audit("round/r-1", change()))
    store.close()
    engine = make_engine(sql_url, writer=True, pool_size=1)
    try:
        for statement in ("UPDATE audit SET reason = 'nothing happened'", "DELETE FROM audit"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
                c.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert "because test" in dump(sql_url)


def test_the_database_never_holds_a_bearer_secret(sql_url: str) -> None:
    store = open_store(sql_url, migrate=False)
    issued = [store.write(lambda t: t.create_token(Role.OPERATOR, by=change())) for _ in range(3)]
    store.close()
    text = dump(sql_url)
    for token in issued:
        assert token.record.secret_hash in text
        assert token.bearer.rpartition(".")[2] not in text


def test_concurrent_submissions_are_each_stored_once(sql_url: str) -> None:
    """8 clients send 20 keys twice each; clients 0 and 4 send other content for the same keys.

    Whoever is first for a key wins: every send with the winner's content gets the winner's request
    back, every other send gets Conflict, and each key is stored exactly once.
    """
    store = open_store(sql_url, migrate=False)

    def client(n: int) -> list[tuple[str, int, RequestRecord | None]]:
        out: list[tuple[str, int, RequestRecord | None]] = []
        for i in range(40):
            key, gpus = f"k-{i % 20}", 8 if n % 4 == 0 else 4
            try:
                out.append(
                    (key, gpus, store.submit_request(spec("org-a", key, gpus=gpus), id=f"r-{n}-{i}", by=change()))
                )
            except Conflict:
                out.append((key, gpus, None))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = [r for rs in pool.map(client, range(8)) for r in rs]
    stored = store.read(lambda r: r.list_requests(page=PageRequest(limit=1000))).items
    store.close()
    assert sorted(r.idempotency_key or "" for r in stored) == sorted(f"k-{i}" for i in range(20))
    winner = {r.idempotency_key: r for r in stored}
    for key, gpus, got in results:
        assert got == (winner[key] if gpus == winner[key].gpus else None)


def test_one_failing_unit_of_work_does_not_sink_its_batch(sql_url: str) -> None:
    """Queue a batch behind a blocked writer: submissions, a reused id and a failing write."""
    store = open_store(sql_url, migrate=False)
    assert isinstance(store, SqlStore)
    gate = threading.Event()
    blocker = threading.Thread(target=store.write, args=(lambda t: gate.wait(10),))
    blocker.start()

    def fail(t: object) -> None:
        t.append_audit("round/r-1", change("doomed"))  # type: ignore[attr-defined]
        raise Conflict("no")

    async def batch() -> list[object]:
        calls: list[Awaitable[object]] = [
            store.submit_request_async(spec(), id=f"req-{i}", by=change()) for i in range(5)
        ]
        calls.append(store.submit_request_async(spec(), id="req-0", by=change()))
        calls.append(store.write_async(fail))
        calls.append(store.write_async(lambda t: t.append_audit("round/r-1", change("kept"))))
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(batch())
    blocker.join()
    assert [type(r).__name__ for r in results] == ["RequestRecord"] * 5 + ["Conflict", "Conflict", "AuditEntry"]
    assert len(store.read(lambda r: r.list_requests()).items) == 5
    assert [e.action for e in store.read(lambda r: r.list_audit()).items] == ["test"] * 5 + ["kept"]
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.write(lambda t: None)


def test_a_batch_wakes_its_event_loop_once_and_a_cancelled_caller_loses_only_its_answer(sql_url: str) -> None:
    """Tasks queued behind a blocked writer: one cancels while waiting; its write still lands, the
    others get their answers, and the whole batch is handed back with one wake-up of the loop."""
    store = open_store(sql_url, migrate=False)
    assert isinstance(store, SqlStore)
    gate = threading.Event()
    blocker = threading.Thread(target=store.write, args=(lambda t: gate.wait(10),))
    blocker.start()

    async def batch() -> tuple[list[object], int]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        threadsafe = loop.call_soon_threadsafe

        def counted(*args: object) -> object:
            nonlocal wakeups
            wakeups += 1
            return threadsafe(*args)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        tasks = [asyncio.ensure_future(store.submit_request_async(spec(), id=f"req-{i}", by=change()))
                 for i in range(6)]
        await asyncio.sleep(0.05)
        tasks[2].cancel()
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return results, wakeups

    results, wakeups = asyncio.run(batch())
    blocker.join()
    assert [type(r).__name__ for r in results] == ["RequestRecord"] * 2 + ["CancelledError"] + ["RequestRecord"] * 3
    assert wakeups == 1
    assert len(store.read(lambda r: r.list_requests()).items) == 6
    assert store.submit_request(spec(), id="req-after", by=change()).id == "req-after"
    store.close()


def test_a_batch_larger_than_one_statement_is_stored_whole(sql_url: str) -> None:
    """700 submissions in one batch (SQLite binds at most 999 values per statement, so the fast path
    splits both its SELECT and its INSERTs), 150 of them replays of earlier keys in the same batch:
    550 rows, each replay answered with its original."""
    store = open_store(sql_url, migrate=False)
    assert isinstance(store, SqlStore)
    gate = threading.Event()
    blocker = threading.Thread(target=store.write, args=(lambda t: gate.wait(10),))
    blocker.start()

    async def batch() -> list[RequestRecord]:
        calls = [store.submit_request_async(spec("org-a", f"k-{i % 550}"), id=f"req-{i}", by=change())
                 for i in range(700)]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(batch())
    blocker.join()
    stored = store.read(lambda r: r.list_requests(page=PageRequest(limit=1000))).items
    store.close()
    assert sorted(r.id for r in stored) == sorted(f"req-{i}" for i in range(550))
    assert [r.id for r in results] == [f"req-{i % 550}" for i in range(700)]


def test_sqlite_runs_wal_with_full_fsync_and_read_only_readers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    writer, reader = make_engine(url, writer=True, pool_size=1), make_engine(url, writer=False, pool_size=1)
    with writer.connect() as w, reader.connect() as r:
        assert w.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert w.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert r.exec_driver_sql("PRAGMA query_only").scalar() == 1
        assert w.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    writer.dispose()
    reader.dispose()
    relaxed = make_engine(url + "?synchronous=normal", writer=True, pool_size=1)
    with relaxed.connect() as w:
        assert w.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    relaxed.dispose()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite://", id="in-memory sqlite cannot be shared"),
        pytest.param("mysql://x@y/z", id="unsupported database"),
        pytest.param("sqlite:///x.db?synchronous=sometimes", id="unknown synchronous level"),
    ],
)
def test_bad_urls_are_refused_up_front(url: str) -> None:
    with pytest.raises(ValueError):
        make_engine(url, writer=True)


def test_the_fake_and_sql_stores_share_the_async_api(store_url: str) -> None:
    store = open_store(store_url, migrate=False)

    async def go() -> list[RequestRecord]:
        made = await asyncio.gather(*(store.submit_request_async(spec(), id=f"r-{i}", by=change()) for i in range(10)))
        await store.write_async(lambda t: t.append_audit("round/x", change()))
        listed = await store.read_async(lambda r: r.list_requests())
        assert listed.items == sorted(made, key=lambda r: listed.items.index(r))
        return list(made)

    assert len(asyncio.run(go())) == 10
    store.close()


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres")
@pytest.mark.slow
def test_the_store_reconnects_after_a_postgres_restart(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A batch caught by the restart fails (its callers retry, idempotently); the next ones work."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    store = open_store(fresh_url(request, "postgres", tmp_path), migrate=False)
    store.submit_request(spec("org-a", "k0"), id="req-0", by=change())
    assert store.read(lambda r: r.get_request("req-0")).id == "req-0"
    server.stop()
    server.start()
    with contextlib.suppress(sa.exc.DBAPIError):
        store.submit_request(spec("org-a", "k1"), id="req-1", by=change())
    store.submit_request(spec("org-a", "k1"), id="req-1b", by=change())
    assert [r.idempotency_key for r in store.read(lambda r: r.list_requests()).items] == ["k0", "k1"]
    store.close()


def test_servers_starting_together_migrate_once(empty_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: upgrade(empty_url), range(4)))
    assert current(empty_url) == head()
