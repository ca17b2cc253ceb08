"""Alembic environment: migrate the connection that :func:`scheduler.store.migrate.upgrade` hands over."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from scheduler.store.schema import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic command line, with sqlalchemy.url set in its config
        engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            _migrate(connection)
        return
    _migrate(connection)


def _migrate(connection: sa.Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, so later migrations copy the table instead.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run()
