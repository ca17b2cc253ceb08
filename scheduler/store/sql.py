"""The SQL repository: one writer thread that group-commits, and a pool of snapshot readers.

Group commit.  Callers on any thread (or asyncio task) queue their unit of work and wait on a
future.  The writer takes everything queued, up to ``max_batch``, and runs it in one transaction:

1. consecutive ``submit_request`` calls together, in three statements (:mod:`.fastpath`);
2. every other unit of work in a savepoint of its own, so its error undoes only its writes;
3. one COMMIT (one fsync), and only then are the futures resolved.

While one batch commits, the next one queues, so the batch grows with the load and the cost of the
fsync is shared.  If the COMMIT fails, every caller in the batch gets the error: nothing was
acknowledged, so nothing is lost.  A batch of one runs without savepoints and rolls back on error.
The writer keeps one connection across batches and replaces it after any failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypeVar

import sqlalchemy as sa

from scheduler.domain import Change, RequestRecord, RequestSpec
from scheduler.store.base import Reader, Transaction
from scheduler.store.engine import WriterLock, make_engine, writer_lock
from scheduler.store.fastpath import FastPath, Prepared
from scheduler.store.sqltx import SqlTx

T = TypeVar("T")


@dataclass
class _Op:
    fn: Callable[[Transaction], Any]
    future: Any = None  # a Future for a thread; an asyncio future for a task, resolved on ``loop``
    loop: asyncio.AbstractEventLoop | None = None


class SqlStore:
    """A :class:`~scheduler.store.base.Repository` on SQLite or PostgreSQL (schema migrated beforehand)."""

    def __init__(self, url: str, *, readers: int = 4, max_batch: int = 512) -> None:
        self.url = url
        self._writer_engine = make_engine(url, writer=True, pool_size=1)
        self._writer_lock = writer_lock(url)
        self._reader_engine = make_engine(url, writer=False, pool_size=readers)
        self._max_batch = max_batch
        self._writer_connection: sa.Connection | None = None
        self._fast = FastPath(self._writer_engine.dialect)
        self._queue: queue.SimpleQueue[_Op | Prepared | None] = queue.SimpleQueue()
        self._closing = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="allmende-store-writer", daemon=True)
        self._thread.start()

    # -- Repository -----------------------------------------------------------------------------
    def read(self, fn: Callable[[Reader], T]) -> T:
        try:
            return self._read(fn)
        except sa.exc.DBAPIError as e:
            if not e.connection_invalidated:  # the server restarted under a pooled connection: once more
                raise
            return self._read(fn)

    def _read(self, fn: Callable[[Reader], T]) -> T:
        with self._reader_engine.connect() as connection, connection.begin():
            return fn(SqlTx(connection, writing=False))

    async def read_async(self, fn: Callable[[Reader], T]) -> T:
        return await asyncio.to_thread(self.read, fn)

    def write(self, fn: Callable[[Transaction], T]) -> T:
        result: T = self._wait(_Op(fn))
        return result

    async def write_async(self, fn: Callable[[Transaction], T]) -> T:
        result: T = await self._wait_async(_Op(fn))
        return result

    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        record: RequestRecord = self._wait(self._fast.prepare(spec, id, by))
        return record

    async def submit_request_async(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        record: RequestRecord = await self._wait_async(self._fast.prepare(spec, id, by))
        return record

    def close(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()
        self._writer_engine.dispose()
        if isinstance(self._writer_lock, WriterLock):
            self._writer_lock.close()
        self._reader_engine.dispose()

    # -- the writer -----------------------------------------------------------------------------
    def _wait(self, op: _Op | Prepared) -> Any:
        op.future = Future()
        self._enqueue(op)
        return op.future.result()

    def _wait_async(self, op: _Op | Prepared) -> asyncio.Future[Any]:
        """An asyncio future, not a wrapped thread Future: the writer settles a whole batch's
        futures on their loop with one wake-up, rather than one per caller."""
        op.loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = op.loop.create_future()
        op.future = future
        self._enqueue(op)
        return future

    def _enqueue(self, op: _Op | Prepared) -> None:
        with self._closing:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._queue.put(op)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    stop = True
                    break
                batch.append(op)
            self._commit(batch)
        self._drop_connection()

    def _commit(self, batch: list[_Op | Prepared]) -> None:
        try:
            connection = self._connection()
            try:
                outcomes = self._transaction(connection, batch, fast=True)
            except _Redo:
                outcomes = self._transaction(connection, batch, fast=False)
        except BaseException as e:  # the COMMIT (or the connection) failed: nobody is acknowledged
            self._drop_connection()
            _settle(batch, [(False, e)] * len(batch))
            if not isinstance(e, Exception):
                raise
            return
        _settle(batch, outcomes)

    def _transaction(self, connection: sa.Connection, batch: list[_Op | Prepared], *, fast: bool) -> list[Outcome]:
        with self._writer_lock:
            return self._locked_transaction(connection, batch, fast=fast)

    def _locked_transaction(self, connection: sa.Connection, batch: list[_Op | Prepared], *,
                            fast: bool) -> list[Outcome]:
        transaction = connection.begin()
        try:
            outcomes = self._apply(connection, batch, fast=fast)
        except BaseException:
            transaction.rollback()
            raise
        if len(batch) == 1 and not outcomes[0][0]:  # no savepoint was taken: undo the failed work
            transaction.rollback()
        else:
            transaction.commit()
        return outcomes

    def _apply(self, connection: sa.Connection, batch: list[_Op | Prepared], *, fast: bool) -> list[Outcome]:
        """Run the batch inside the open transaction; one outcome (ok, result or error) per item."""
        tx = SqlTx(connection, writing=True)
        outcomes: list[Outcome] = []
        for index, (is_submit, run) in enumerate(groupby(batch, key=lambda op: isinstance(op, Prepared))):
            ops = list(run)
            if is_submit and fast:
                submits = [op for op in ops if isinstance(op, Prepared)]  # all of them: grouped by that
                # First in the transaction, a failed fast path can roll everything back and redo it
                # the general way; later, it must not undo the work before it, so it takes a savepoint.
                if self._fast.run(connection.connection.driver_connection, submits, savepoint=index > 0):
                    outcomes += [op.outcome for op in submits]
                    continue
                if index == 0:
                    raise _Redo
            if len(batch) == 1:
                outcomes.append(_call(ops[0].fn, tx))
            else:
                outcomes += [_in_savepoint(connection, op.fn, tx) for op in ops]
        return outcomes

    def _connection(self) -> sa.Connection:
        """The writer's own connection, kept across batches (no pool checkout or ping per commit)."""
        if self._writer_connection is None:
            self._writer_connection = self._writer_engine.connect()
        return self._writer_connection

    def _drop_connection(self) -> None:
        if self._writer_connection is not None:
            with contextlib.suppress(Exception):
                self._writer_connection.invalidate()
                self._writer_connection.close()
            self._writer_connection = None


class _Redo(Exception):
    """The fast path met a constraint: roll the batch back and run it again the general way."""


Outcome = tuple[bool, Any]


def _settle(batch: list[_Op | Prepared], outcomes: list[Outcome]) -> None:
    """Hand each caller its outcome: threads directly, tasks with one callback per event loop."""
    waiting: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
    for op, outcome in zip(batch, outcomes, strict=True):
        if op.loop is None:
            _resolve(op.future, outcome)
        else:
            waiting.setdefault(op.loop, []).append((op.future, outcome))
    for loop, replies in waiting.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_all, replies)


def _resolve_all(replies: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, outcome in replies:
        _resolve(future, outcome)


def _resolve(future: Any, outcome: Outcome) -> None:
    if future.done():  # a cancelled caller; the work itself stands
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _call(fn: Callable[[Any], Any], tx: Any) -> Outcome:
    try:
        return True, fn(tx)
    except Exception as e:
        return False, e


def _in_savepoint(connection: sa.Connection, fn: Callable[[Any], Any], tx: Any) -> Outcome:
    savepoint = connection.begin_nested()
    ok, value = _call(fn, tx)
    if ok:
        savepoint.commit()
    else:
        savepoint.rollback()
    return ok, value
