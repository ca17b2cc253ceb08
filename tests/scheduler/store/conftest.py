"""The ``store`` fixture: every contract test runs on the fake, on SQLite and on a real PostgreSQL.

SQL stores start from a template migrated once per session (a file copy for SQLite, ``CREATE
DATABASE ... TEMPLATE`` for PostgreSQL), so each test gets an empty, fully migrated database fast.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.store import Repository, open_store, upgrade
from tests.fixtures.postgres import PostgresServer

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("postgres")]),
]
SQL_BACKENDS = BACKENDS[1:]
_databases = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    upgrade(postgres_server.create_database("store_template"))
    return "store_template"


def fresh_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """An empty, migrated database of ``backend`` for one test."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    import psycopg

    name = f"t{next(_databases)}"
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return server.url(name)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(request, request.param, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Repository]:
    repo = open_store(store_url, migrate=False)
    yield repo
    repo.close()


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(request, request.param, tmp_path)
