"""The submission hot path: many ``submit_request`` calls in three raw DBAPI statements.

SQLAlchemy Core costs tens of microseconds per statement in Python, which at thousands of
submissions per second is most of the budget.  Here the SQL is written once per dialect, the rows
are built in the caller's thread (:meth:`FastPath.prepare`), and the writer only runs:

1. one SELECT for the idempotency keys of the batch that are already stored (by the unique index);
2. one multi-row INSERT into ``requests`` and one into ``audit`` (under a savepoint only if other
   work precedes them in the transaction).

If the INSERT hits a unique constraint (an id reused, or another server took a key between the
SELECT and the INSERT), the writer rolls back (to the savepoint, or the whole batch) and falls back
to the general path, one submission at a time, which reports each case precisely.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Dialect

from scheduler.domain import Change, RequestRecord, RequestSpec, subject
from scheduler.store import common, schema

REQUEST_COLUMNS = ("id", "state", "version", "org", "idempotency_key", "category", "round_id", "doc")
AUDIT_COLUMNS = ("at", "actor", "role", "action", "subject", "reason", "before", "after")


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
    future: Future[Any] = field(default_factory=Future)

    def fn(self, tx: Any) -> RequestRecord:
        """The general path for this submission."""
        return tx.submit_request(self.spec, id=self.id, by=self.by)  # type: ignore[no-any-return]


class FastPath:
    def __init__(self, dialect: Dialect) -> None:
        ph = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        self._insert_request = _insert("requests", REQUEST_COLUMNS, ph)
        self._insert_audit = _insert("audit", AUDIT_COLUMNS, ph)
        # OR of equalities, not a row-value IN: SQLite answers the OR from the unique index, the IN by a scan.
        self._select = "SELECT org, idempotency_key, doc FROM requests WHERE {}"
        self._ph = ph
        processor = schema.audit.c.at.type.bind_processor(dialect)
        self._time: Callable[[Any], Any] = processor or (lambda value: value)
        self.integrity_error: type[Exception] = dialect.loaded_dbapi.IntegrityError

    def prepare(self, spec: RequestSpec, id: str, by: Change) -> Prepared:
        record = common.new_request(spec, id, by)
        row = schema.to_row("request", record)
        audit = common.audit_row(subject("request", id), by, None, record.state.value)
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
                        item.outcome = (True, common.same_submission(stored, item.spec))
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
                cursor.executemany(self._insert_request, requests)
                cursor.executemany(self._insert_audit, audits)
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
        where = " OR ".join(f"(org = {self._ph} AND idempotency_key = {self._ph})" for _ in keys)
        cursor.execute(self._select.format(where), [v for pair in keys for v in pair])
        return {(org, key): RequestRecord.model_validate_json(doc) for org, key, doc in cursor.fetchall()}


def _insert(table: str, columns: tuple[str, ...], ph: str) -> str:
    names = ", ".join(f'"{c}"' for c in columns)  # "before" and "after" are keywords in SQLite
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join([ph] * len(columns))})"
