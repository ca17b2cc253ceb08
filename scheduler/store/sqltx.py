"""One unit of work on a SQL connection: the storage primitives of :class:`TxLogic`, and filtered lists.

Every statement is SQLAlchemy Core (compiled once, cached), so the same code runs on SQLite and
PostgreSQL.  Updates are ``UPDATE ... WHERE id = :id AND version = :expected``: even a second server
writing the same database cannot slip a change in between the read and the write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from scheduler.domain import (
    AllocationRecord,
    AuditEntry,
    Change,
    ClusterRecord,
    RequestRecord,
    RoundRecord,
    TokenRecord,
)
from scheduler.errors import Conflict, NotFound
from scheduler.states import RoundState
from scheduler.store import schema
from scheduler.store.audit import audit_row
from scheduler.store.base import (
    AllocationQuery,
    AuditQuery,
    ClusterQuery,
    Page,
    PageRequest,
    RequestQuery,
    RoundQuery,
)
from scheduler.store.cursors import decode_cursor, encode_cursor
from scheduler.store.logic import Record, TxLogic

T = TypeVar("T")


class SqlTx(TxLogic):
    def __init__(self, connection: sa.Connection, *, writing: bool) -> None:
        self.c = connection
        self.writing = writing
        # PostgreSQL: lock rows we read to update, and fence inserts in a savepoint, because a failed
        # statement would otherwise abort the whole transaction (SQLite undoes just the statement).
        self.pg = connection.dialect.name == "postgresql"

    # -- primitives -----------------------------------------------------------------------------
    def _load(self, kind: str, id: str) -> Any:
        table = schema.TABLES[kind]
        stmt = sa.select(table).where(table.c.id == id)
        if self.pg and self.writing:
            stmt = stmt.with_for_update()
        row = self.c.execute(stmt).first()
        return None if row is None else schema.from_row(kind, row)

    def _exists(self, kind: str, id: str) -> bool:
        table = schema.TABLES[kind]
        stmt = sa.select(table.c.id).where(table.c.id == id)
        if self.pg and self.writing:
            stmt = stmt.with_for_update()
        return self.c.execute(stmt).first() is not None

    def _insert(self, kind: str, record: Record) -> None:
        table = schema.TABLES[kind]
        try:
            if self.pg:
                with self.c.begin_nested():
                    self.c.execute(sa.insert(table), schema.to_row(kind, record))
            else:
                self.c.execute(sa.insert(table), schema.to_row(kind, record))
        except IntegrityError as e:
            raise Conflict(f"{kind} {record.id!r} already exists, or names a record that does not") from e

    def _replace(self, kind: str, record: Record, expected_version: int | None) -> None:
        table = schema.TABLES[kind]
        stmt = sa.update(table).where(table.c.id == record.id)
        if expected_version is not None:
            stmt = stmt.where(table.c.version == expected_version)
        if self.c.execute(stmt, schema.to_row(kind, record)).rowcount != 1:
            raise Conflict(f"{kind} {record.id!r} changed underneath this write: re-read and retry")

    def _audit(self, subject: str, by: Change, before: str | None, after: str | None) -> AuditEntry:
        row = audit_row(subject, by, before, after)
        seq = self.c.execute(sa.insert(schema.audit).returning(schema.audit.c.seq), row).scalar_one()
        return AuditEntry(seq=seq, **row)

    def find_request(self, org: str, idempotency_key: str) -> RequestRecord | None:
        t = schema.requests
        row = self.c.execute(sa.select(t).where(t.c.org == org, t.c.idempotency_key == idempotency_key)).first()
        return None if row is None else schema.from_row("request", row)

    def set_round_progress(self, id: str, progress: float, message: str = "") -> None:
        """Rewrite only the small ``doc`` column: the problem and plan may be megabytes."""
        t = schema.rounds
        doc = self.c.execute(sa.select(t.c.doc).where(t.c.id == id)).scalar_one_or_none()
        if doc is None:
            raise NotFound("round", id)
        stored = json.loads(doc)
        if stored["state"] != RoundState.SOLVING.value:  # a late report of a solve that has ended
            return
        new = RoundRecord.model_validate(stored | {"progress": progress, "progress_message": message})
        self.c.execute(sa.update(t).where(t.c.id == id).values(doc=new.model_dump_json()))

    # -- lists ----------------------------------------------------------------------------------
    def _page(
        self,
        table: sa.Table,
        where: Sequence[sa.ColumnElement[bool]],
        page: PageRequest | None,
        parse: Callable[[Any], T],
    ) -> Page[T]:
        page = page or PageRequest()
        after = decode_cursor(page.cursor)
        stmt = sa.select(table).where(table.c.seq > after, *where).order_by(table.c.seq).limit(page.limit + 1)
        rows = self.c.execute(stmt).all()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return Page([parse(r) for r in rows], encode_cursor(rows[-1].seq) if more else None)

    def _records(self, kind: str, where: list[sa.ColumnElement[bool]], page: PageRequest | None) -> Page[Any]:
        return self._page(schema.TABLES[kind], where, page, lambda r: schema.from_row(kind, r))

    def list_requests(self, query: RequestQuery | None = None, page: PageRequest | None = None) -> Page[RequestRecord]:
        q, t = query or RequestQuery(), schema.requests
        where = _equal(t, org=q.org, round_id=q.round_id, category=q.category) + _among(t, q.states)
        return self._records("request", where, page)

    def list_clusters(self, query: ClusterQuery | None = None, page: PageRequest | None = None) -> Page[ClusterRecord]:
        q, t = query or ClusterQuery(), schema.clusters
        where = _equal(t, operator=q.operator) + _among(t, q.states)
        if q.heartbeat_before is not None:
            where.append(sa.or_(t.c.last_heartbeat.is_(None), t.c.last_heartbeat < q.heartbeat_before))
        return self._records("cluster", where, page)

    def list_rounds(self, query: RoundQuery | None = None, page: PageRequest | None = None) -> Page[RoundRecord]:
        return self._records("round", _among(schema.rounds, (query or RoundQuery()).states), page)

    def list_allocations(
        self, query: AllocationQuery | None = None, page: PageRequest | None = None
    ) -> Page[AllocationRecord]:
        q, t = query or AllocationQuery(), schema.allocations
        where = _equal(t, round_id=q.round_id, request_id=q.request_id, cluster=q.cluster) + _among(t, q.states)
        return self._records("allocation", where, page)

    def list_audit(self, query: AuditQuery | None = None, page: PageRequest | None = None) -> Page[AuditEntry]:
        q = query or AuditQuery()
        return self._page(
            schema.audit, _equal(schema.audit, subject=q.subject, actor=q.actor), page, schema.audit_entry
        )

    def list_tokens(self, page: PageRequest | None = None) -> Page[TokenRecord]:
        return self._records("token", [], page)


def _equal(table: sa.Table, **values: str | None) -> list[sa.ColumnElement[bool]]:
    return [table.c[name] == value for name, value in values.items() if value is not None]


def _among(table: sa.Table, states: frozenset[Any] | None) -> list[sa.ColumnElement[bool]]:
    return [] if states is None else [table.c.state.in_(sorted(s.value for s in states))]
