"""The SQL schema as SQLAlchemy Core tables, and the mapping between rows and records.

Each record table keeps the whole record as JSON in ``doc`` (pydantic reads and writes it in one
call) and copies into plain columns only what a query filters or orders on, plus ``version`` for
compare-and-set.  Rounds keep their problem and plan in columns of their own, so replay can read
them without parsing the rest.  Tokens and the audit log are plain columns: they are small, fixed
and read by people with ``psql``.  ``seq`` orders every listing and backs the cursor.

Migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from scheduler.domain import AllocationRecord, AuditEntry, ClusterRecord, RequestRecord, RoundRecord, TokenRecord

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id(name: str = "id", *args: Any, **kw: Any) -> sa.Column[str]:
    return sa.Column(name, sa.String(200), *args, **kw)


def _record_table(name: str, *columns: sa.Column[Any] | sa.Constraint) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        _id(nullable=False, unique=True),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        *columns,
        sa.Column("doc", sa.Text, nullable=False),
    )


requests = _record_table(
    "requests",
    _id("org", nullable=False, index=True),
    sa.Column("idempotency_key", sa.String(200)),
    _id("category", nullable=False),
    _id("round_id", sa.ForeignKey("rounds.id"), index=True),
    sa.UniqueConstraint("org", "idempotency_key"),
)

clusters = _record_table(
    "clusters",
    sa.Column("operator", sa.String(200), nullable=False),
    sa.Column("last_heartbeat", UtcDateTime),
)

rounds = _record_table(
    "rounds",
    sa.Column("problem", sa.Text),
    sa.Column("plan", sa.Text),
)

allocations = _record_table(
    "allocations",
    _id("round_id", sa.ForeignKey("rounds.id"), nullable=False, index=True),
    _id("request_id", sa.ForeignKey("requests.id"), nullable=False, index=True),
    _id("cluster", nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    _id("org"),
    _id("cluster"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False, index=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
)

TABLES: dict[str, sa.Table] = {
    "request": requests,
    "cluster": clusters,
    "round": rounds,
    "allocation": allocations,
    "token": tokens,
}


def to_row(kind: str, record: Any) -> dict[str, Any]:
    """The columns that store ``record`` (without ``seq``)."""
    if isinstance(record, TokenRecord):
        return record.model_dump()
    row: dict[str, Any] = {"id": record.id, "state": record.state.value, "version": record.version}
    if kind == "request":
        row |= {"org": record.org, "idempotency_key": record.idempotency_key, "category": record.category}
        row |= {"round_id": record.round_id}
    elif kind == "cluster":
        row |= {"operator": record.operator, "last_heartbeat": record.last_heartbeat}
    elif kind == "round":
        row |= {"problem": _json(record.problem), "plan": _json(record.plan)}
        record = record.model_copy(update={"problem": None, "plan": None})
    elif kind == "allocation":
        row |= {"round_id": record.round_id, "request_id": record.request_id, "cluster": record.cluster}
    row["doc"] = record.model_dump_json()
    return row


def from_row(kind: str, row: Any) -> Any:
    """The record a row stores."""
    if kind == "token":
        return _token(row)
    if kind == "request":
        return RequestRecord.model_validate_json(row.doc)
    if kind == "cluster":
        return ClusterRecord.model_validate_json(row.doc)
    if kind == "round":
        doc = json.loads(row.doc) | {"problem": _parse(row.problem), "plan": _parse(row.plan)}
        return RoundRecord.model_validate(doc)
    return AllocationRecord.model_validate_json(row.doc)


def _token(row: Any) -> TokenRecord:
    m = row._mapping
    return TokenRecord.model_validate({k: m[k] for k in TokenRecord.model_fields})


def audit_entry(row: Any) -> AuditEntry:
    return AuditEntry.model_validate(dict(row._mapping))


def _json(model: Any) -> str | None:
    return None if model is None else model.model_dump_json()


def _parse(text: str | None) -> Any:
    return None if text is None else json.loads(text)
