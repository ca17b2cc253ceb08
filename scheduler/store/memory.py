"""The in-memory store: real code that passes the same contract suite as the SQL store.

State is a set of dicts that are never mutated once published.  A write copies them, runs the unit of
work on the copy and publishes the copy only if the work returns, so a failed write leaves nothing
behind and a reader always sees one consistent snapshot without taking a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from scheduler.domain import (
    AllocationRecord,
    AuditEntry,
    Change,
    ClusterRecord,
    RequestRecord,
    RequestSpec,
    RoundRecord,
    TokenRecord,
)
from scheduler.errors import Conflict
from scheduler.store.audit import audit_row
from scheduler.store.base import (
    AllocationQuery,
    AuditQuery,
    ClusterQuery,
    Page,
    PageRequest,
    Reader,
    RequestQuery,
    RoundQuery,
    Transaction,
)
from scheduler.store.cursors import decode_cursor, encode_cursor
from scheduler.store.logic import Record, TxLogic

T = TypeVar("T")


@dataclass
class _Table:
    """Records by id, each with the ``seq`` that orders listings."""

    rows: dict[str, tuple[int, Any]] = field(default_factory=dict)
    last_seq: int = 0

    def copy(self) -> _Table:
        return _Table(dict(self.rows), self.last_seq)


@dataclass
class _State:
    tables: dict[str, _Table] = field(
        default_factory=lambda: {k: _Table() for k in ("request", "cluster", "round", "allocation", "token")}
    )
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    audit: tuple[AuditEntry, ...] = ()

    def copy(self) -> _State:
        return replace(self, tables={k: t.copy() for k, t in self.tables.items()}, idempotency=dict(self.idempotency))


def _page(rows: Iterable[tuple[int, T]], keep: Callable[[T], bool], page: PageRequest | None) -> Page[T]:
    page = page or PageRequest()
    after = decode_cursor(page.cursor)
    items: list[tuple[int, T]] = []
    for seq, item in rows:  # dicts keep insertion order, which is seq order
        if seq > after and keep(item):
            items.append((seq, item))
            if len(items) > page.limit:
                break
    more = len(items) > page.limit
    items = items[: page.limit]
    return Page([i for _, i in items], encode_cursor(items[-1][0]) if more else None)


def _within(value: Any, allowed: frozenset[Any] | None) -> bool:
    return allowed is None or value in allowed


class _Tx(TxLogic):
    """Reader and Transaction over one private copy of the state."""

    def __init__(self, state: _State) -> None:
        self.s = state

    def _load(self, kind: str, id: str) -> Any:
        row = self.s.tables[kind].rows.get(id)
        return None if row is None else row[1]

    def _exists(self, kind: str, id: str) -> bool:
        return id in self.s.tables[kind].rows

    def _insert(self, kind: str, record: Record) -> None:
        table = self.s.tables[kind]
        if record.id in table.rows:
            raise Conflict(f"{kind} {record.id!r} already exists")
        table.last_seq += 1
        table.rows[record.id] = (table.last_seq, record)
        if isinstance(record, RequestRecord) and record.idempotency_key is not None:
            self.s.idempotency[(record.org, record.idempotency_key)] = record.id

    def _replace(self, kind: str, record: Record, expected_version: int | None) -> None:
        table = self.s.tables[kind]
        seq, stored = table.rows[record.id]
        if expected_version is not None and stored.version != expected_version:
            raise Conflict(f"{kind} {record.id!r} changed underneath")
        table.rows[record.id] = (seq, record)

    def _audit(self, subj: str, by: Change, before: str | None, after: str | None) -> AuditEntry:
        entry = AuditEntry(seq=len(self.s.audit) + 1, **audit_row(subj, by, before, after))
        self.s.audit = (*self.s.audit, entry)
        return entry

    def find_request(self, org: str, idempotency_key: str) -> RequestRecord | None:
        id = self.s.idempotency.get((org, idempotency_key))
        return None if id is None else self.get_request(id)

    def list_requests(self, query: RequestQuery | None = None, page: PageRequest | None = None) -> Page[RequestRecord]:
        q = query or RequestQuery()
        return _page(
            self.s.tables["request"].rows.values(),
            lambda r: (
                q.org in (None, r.org)
                and q.round_id in (None, r.round_id)
                and q.category in (None, r.category)
                and _within(r.state, q.states)
            ),
            page,
        )

    def list_clusters(self, query: ClusterQuery | None = None, page: PageRequest | None = None) -> Page[ClusterRecord]:
        q = query or ClusterQuery()

        def keep(c: ClusterRecord) -> bool:
            silent = q.heartbeat_before is None or c.last_heartbeat is None or c.last_heartbeat < q.heartbeat_before
            return q.operator in (None, c.operator) and _within(c.state, q.states) and silent

        return _page(self.s.tables["cluster"].rows.values(), keep, page)

    def list_rounds(self, query: RoundQuery | None = None, page: PageRequest | None = None) -> Page[RoundRecord]:
        return _page(
            self.s.tables["round"].rows.values(), lambda r: _within(r.state, (query or RoundQuery()).states), page
        )

    def list_allocations(
        self, query: AllocationQuery | None = None, page: PageRequest | None = None
    ) -> Page[AllocationRecord]:
        q = query or AllocationQuery()
        return _page(
            self.s.tables["allocation"].rows.values(),
            lambda a: (
                q.round_id in (None, a.round_id)
                and q.request_id in (None, a.request_id)
                and q.cluster in (None, a.cluster)
                and _within(a.state, q.states)
            ),
            page,
        )

    def list_audit(self, query: AuditQuery | None = None, page: PageRequest | None = None) -> Page[AuditEntry]:
        q = query or AuditQuery()
        rows = ((e.seq, e) for e in self.s.audit)
        return _page(rows, lambda e: q.subject in (None, e.subject) and q.actor in (None, e.actor), page)

    def list_tokens(self, page: PageRequest | None = None) -> Page[TokenRecord]:
        return _page(self.s.tables["token"].rows.values(), lambda t: True, page)


class MemoryStore:
    """A :class:`~scheduler.store.base.Repository` held in this process; writes are serialised by one lock."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()

    def read(self, fn: Callable[[Reader], T]) -> T:
        return fn(_Tx(self._state))

    async def read_async(self, fn: Callable[[Reader], T]) -> T:
        return self.read(fn)

    def write(self, fn: Callable[[Transaction], T]) -> T:
        with self._lock:
            tx = _Tx(self._state.copy())
            result = fn(tx)
            self._state = tx.s
            return result

    async def write_async(self, fn: Callable[[Transaction], T]) -> T:
        return self.write(fn)

    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        return self.write(lambda tx: tx.submit_request(spec, id=id, by=by))

    async def submit_request_async(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        return self.submit_request(spec, id=id, by=by)

    def close(self) -> None:
        pass
