"""Run the Alembic migrations from code, so a server brings its own schema up to date at start-up.

The script location is this package's ``migrations`` directory (shipped as .py files), so no
alembic.ini is needed at runtime.  Two processes starting at once do not both create the tables:
on SQLite the upgrade runs under ``BEGIN IMMEDIATE`` (the writer engine's setup), on PostgreSQL
under a transaction-scoped advisory lock.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from scheduler.store.engine import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x616C6D65  # "alme": the advisory lock key held while migrating PostgreSQL


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``; a no-op when it is already there."""
    engine = make_engine(url, writer=True, pool_size=1)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # servers starting together migrate one at a time
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            cfg = config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision the database is at (``None`` if never migrated)."""
    engine = make_engine(url, writer=False, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    return ScriptDirectory.from_config(config()).get_current_head()


__all__ = ["current", "head", "upgrade"]
