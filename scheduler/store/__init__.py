"""Durable state: the repository contract, an in-memory fake and the SQLAlchemy store (SQLite or PostgreSQL).

``open_store(url)`` picks the implementation from the URL and, for SQL, migrates the schema to the
latest revision first, so a fresh path or an empty database is ready to use:

* ``memory://``: the fake; state dies with the process (tests, demos);
* ``sqlite:///./allmende.db`` (the default): embedded, WAL, every acknowledged write fsynced;
* ``postgresql+psycopg://user@host/db``: PostgreSQL.
"""

from __future__ import annotations

from scheduler.store.base import (
    AllocationQuery,
    AuditQuery,
    ClusterQuery,
    Page,
    PageRequest,
    Reader,
    Repository,
    RequestQuery,
    RoundQuery,
    Transaction,
)

DEFAULT_URL = "sqlite:///./allmende.db"

__all__ = [
    "DEFAULT_URL",
    "AllocationQuery",
    "AuditQuery",
    "ClusterQuery",
    "Page",
    "PageRequest",
    "Reader",
    "Repository",
    "RequestQuery",
    "RoundQuery",
    "Transaction",
    "open_store",
    "upgrade",
]


def open_store(url: str = DEFAULT_URL, *, migrate: bool = True) -> Repository:
    """A repository for ``url``; SQL stores are upgraded to the latest migration unless ``migrate=False``."""
    if url.startswith("memory:"):
        from scheduler.store.memory import MemoryStore

        return MemoryStore()
    from scheduler.store.sql import SqlStore

    if migrate:
        upgrade(url)
    return SqlStore(url)


def upgrade(url: str) -> None:
    """Run the Alembic migrations up to head, programmatically (no alembic.ini at runtime)."""
    from scheduler.store.migrate import upgrade as _upgrade

    _upgrade(url)
