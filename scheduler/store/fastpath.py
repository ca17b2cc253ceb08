"""The submission hot path: many ``submit_request`` calls in three raw DBAPI statements.

SQLAlchemy Core costs tens of microseconds per statement in Python, which at thousands of
submissions per second is most of the budget.  Here the SQL is written once per dialect, the rows
are built in the caller's thread (:meth:`FastPath.prepare`), and the writer only runs:

1. one SELECT for the idempotency keys of the batch that are already stored (by the unique index);
2. one INSERT of all rows into ``requests`` and one into ``audit`` (under a savepoint only if
   other work precedes them in the transaction): multi-row ``VALUES`` on SQLite (in chunks within
   its limit on bound variables), ``unnest`` of one array per column on PostgreSQL.

If the INSERT hits a unique constraint (an id reused, or another server took a key between the
SELECT and the INSERT), the writer rolls back (to the savepoint, or the whole batch) and falls back
to the general path, one submission at a time, which reports each case precisely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Dialect

from scheduler.domain import Change, RequestRecord, RequestSpec, subject
from scheduler.store import schema
from scheduler.store.audit import audit_row
from scheduler.store.submissions import new_request, same_submission

REQUEST_COLUMNS = ("id", "state", "version", "org", "idempotency_key", "category", "round_id", "doc")
AUDIT_COLUMNS = ("at", "actor", "role", "action", "subject", "reason", "before", "after")
T = TypeVar("T")
SQLITE_MAX_VARIABLES = 999  # the lowest limit of any SQLite build (3.32 and later allow 32,766)
REQUEST_TYPES = ("text", "text", "int", "text", "text", "text", "text", "text")
AUDIT_TYPES = ("timestamptz", "text", "text", "text", "text", "text", "text", "text")


@dataclass
class Prepared:
    """One submission, with its rows built before it reaches the writer."""

    spec: RequestSpec
    id: str
    by: Change
    record: RequestRecord
    request_row: tuple[Any, ...]
    audit_row: tuple[Any, ...]
    outcome: tuple[bool, Any] = (False, None)
    future: Any = None  # set by the store when it queues the submission
    loop: Any = None

    def fn(self, tx: Any) -> RequestRecord:
        """The general path for this submission."""
        return tx.submit_request(self.spec, id=self.id, by=self.by)  # type: ignore[no-any-return]


class FastPath:
    def __init__(self, dialect: Dialect) -> None:
        self.pg = dialect.name == "postgresql"
        if self.pg:
            # One array per column, unnested: a single statement, planned once, whatever the batch size.
            self._insert_request = _pg_insert("requests", dict(zip(REQUEST_COLUMNS, REQUEST_TYPES, strict=True)))
            self._insert_audit = _pg_insert("audit", dict(zip(AUDIT_COLUMNS, AUDIT_TYPES, strict=True)))
            self._select = (
                "SELECT org, idempotency_key, doc FROM requests "
                "WHERE (org, idempotency_key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
            )
        else:
            # The SELECT is an OR of equalities, because SQLite answers that from the unique index
            # but scans the table for a row-value IN.
            self._insert_request = f"INSERT INTO requests ({_columns(REQUEST_COLUMNS)})"
            self._insert_audit = f"INSERT INTO audit ({_columns(AUDIT_COLUMNS)})"
            self._select = "SELECT org, idempotency_key, doc FROM requests WHERE {}"
        processor = schema.audit.c.at.type.bind_processor(dialect)
        self._time: Callable[[Any], Any] = processor or (lambda value: value)
        self.integrity_error: type[Exception] = dialect.loaded_dbapi.IntegrityError

    def prepare(self, spec: RequestSpec, id: str, by: Change) -> Prepared:
        record = new_request(spec, id, by)
        row = schema.to_row("request", record)
        audit = audit_row(subject("request", id), by, None, record.state.value)
        audit["at"] = self._time(audit["at"])
        return Prepared(
            spec=spec,
            id=id,
            by=by,
            record=record,
            request_row=tuple(row[c] for c in REQUEST_COLUMNS),
            audit_row=tuple(audit[c] for c in AUDIT_COLUMNS),
        )

    def run(self, dbapi_connection: Any, batch: list[Prepared], *, savepoint: bool) -> bool:
        """Set each item's ``outcome``; ``False`` if the batch must go the general way instead.

        Without ``savepoint`` a ``False`` leaves the transaction dirty (aborted, on PostgreSQL): the
        caller must roll it back.
        """
        cursor = dbapi_connection.cursor()
        try:
            known = self._known(cursor, batch)
            requests, audits = [], []
            for item in batch:
                key = item.spec.idempotency_key
                stored = known.get((item.spec.org, key)) if key is not None else None
                if stored is not None:
                    try:
                        item.outcome = (True, same_submission(stored, item.spec))
                    except Exception as e:
                        item.outcome = (False, e)
                    continue
                if key is not None:
                    known[(item.spec.org, key)] = item.record
                requests.append(item.request_row)
                audits.append(item.audit_row)
                item.outcome = (True, item.record)
            if not requests:
                return True
            if savepoint:
                cursor.execute("SAVEPOINT allmende_fast")
            try:
                self._insert_rows(cursor, self._insert_request, requests)
                self._insert_rows(cursor, self._insert_audit, audits)
            except self.integrity_error:
                if savepoint:
                    cursor.execute("ROLLBACK TO SAVEPOINT allmende_fast")
                    cursor.execute("RELEASE SAVEPOINT allmende_fast")
                return False
            if savepoint:
                cursor.execute("RELEASE SAVEPOINT allmende_fast")
            return True
        finally:
            cursor.close()

    def _known(self, cursor: Any, batch: list[Prepared]) -> dict[tuple[str, str], RequestRecord]:
        keys = sorted({(i.spec.org, i.spec.idempotency_key) for i in batch if i.spec.idempotency_key is not None})
        if not keys:
            return {}
        if self.pg:
            cursor.execute(self._select, [[org for org, _ in keys], [key for _, key in keys]])
            rows = cursor.fetchall()
        else:
            rows = []
            for chunk in _chunks(keys, SQLITE_MAX_VARIABLES // 2):
                where = " OR ".join("(org = ? AND idempotency_key = ?)" for _ in chunk)
                cursor.execute(self._select.format(where), [v for pair in chunk for v in pair])
                rows += cursor.fetchall()
        return {(org, key): RequestRecord.model_validate_json(doc) for org, key, doc in rows}

    def _insert_rows(self, cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self.pg:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
        else:
            # One multi-row INSERT per chunk, not executemany: the sqlite3 module lets go of the GIL
            # for every row it steps, and each time takes it back from the busy event loop.
            width = len(rows[0])
            for chunk in _chunks(rows, SQLITE_MAX_VARIABLES // width):
                values = ", ".join([f"({_marks(width)})"] * len(chunk))
                cursor.execute(f"{sql} VALUES {values}", [v for row in chunk for v in row])


def _chunks(items: list[T], size: int) -> list[list[T]]:
    """``items`` in runs of at most ``size``: one statement each, within SQLite's bound-variable limit."""
    return [items[start:start + size] for start in range(0, len(items), size)]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _columns(columns: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}"' for c in columns)  # "before" and "after" are keywords in SQLite


def _pg_insert(table: str, columns: dict[str, str]) -> str:
    arrays = ", ".join(f"%s::{kind}[]" for kind in columns.values())
    return f"INSERT INTO {table} ({_columns(tuple(columns))}) SELECT * FROM unnest({arrays})"
