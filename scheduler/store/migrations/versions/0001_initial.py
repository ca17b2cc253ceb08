"""Initial schema: requests, clusters, rounds, allocations, tokens and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def _id(name: str = "id", *args: Any, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(200), *args, nullable=nullable)


def _record(name: str, *columns: sa.Column[Any] | sa.Constraint) -> None:
    op.create_table(
        name,
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        _id(nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *columns,
        sa.Column("doc", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=f"pk_{name}"),
        sa.UniqueConstraint("id", name=f"uq_{name}_id"),
    )
    op.create_index(f"ix_{name}_state", name, ["state"])


def upgrade() -> None:
    _record("rounds", sa.Column("problem", sa.Text), sa.Column("plan", sa.Text))
    _record(
        "requests",
        _id("org", nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        _id("category", nullable=False),
        _id("round_id", sa.ForeignKey("rounds.id", name="fk_requests_round_id")),
        sa.UniqueConstraint("org", "idempotency_key", name="uq_requests_org_idempotency_key"),
    )
    op.create_index("ix_requests_org", "requests", ["org"])
    op.create_index("ix_requests_round_id", "requests", ["round_id"])
    _record("clusters", sa.Column("operator", sa.String(200), nullable=False), sa.Column("last_heartbeat", Time))
    _record(
        "allocations",
        _id("round_id", sa.ForeignKey("rounds.id", name="fk_allocations_round_id"), nullable=False),
        _id("request_id", sa.ForeignKey("requests.id", name="fk_allocations_request_id"), nullable=False),
        _id("cluster", nullable=False),
    )
    op.create_index("ix_allocations_round_id", "allocations", ["round_id"])
    op.create_index("ix_allocations_request_id", "allocations", ["request_id"])
    op.create_table(
        "tokens",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        _id(nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        _id("org"),
        _id("cluster"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("revoked_at", Time),
        sa.PrimaryKeyConstraint("seq", name="pk_tokens"),
        sa.UniqueConstraint("id", name="uq_tokens_id"),
    )
    op.create_table(
        "audit",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
    )
    op.create_index("ix_audit_actor", "audit", ["actor"])
    op.create_index("ix_audit_subject", "audit", ["subject"])
    _append_only("audit")


def _append_only(table: str) -> None:
    """The database itself refuses UPDATE and DELETE on the log, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION allmende_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the % table is append-only', TG_TABLE_NAME; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION allmende_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only'); END"
        )


def downgrade() -> None:
    for table in ("audit", "tokens", "allocations", "clusters", "requests", "rounds"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS allmende_append_only()")
