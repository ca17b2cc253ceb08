"""Migration 0002 on a database made at 0001 with requests in slots, on SQLite and on a real PostgreSQL.

Rows are written as version 0001 wrote them (the JSON documents of that release), the database is
upgraded, and the store of this release reads them back: a request whose round tells what its slots
meant is in hours and dates, one in no round keeps its deprecated slots.  Downgrade gives 0001's
documents back, and refuses a request in hours and dates that no round has taken up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from scheduler.store import open_store
from scheduler.store.engine import make_engine
from scheduler.store.migrate import config, current, upgrade
from scheduler.store.schema import requests, rounds
from scheduler.windows import Waiting, through
from solver.problem import Horizon
from tests.fixtures.postgres import PostgresServer

START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
AT = "2026-12-04T08:00:00Z"


def request_doc(id: str, state: str, round_id: str | None, **slots: Any) -> dict[str, Any]:
    """A request document as version 0001 stored it."""
    return {"org": "embl", "title": f"job {id}", "category": "research", "gpus": 4, "countries": None,
            "merit": 0.5, "entrypoint": "python fold.py", "runtime_env": {}, "idempotency_key": id,
            "earliest_slot": 0, "deadline_slot": None, **slots, "id": id, "state": state, "round_id": round_id,
            "submitted_at": AT, "updated_at": AT, "version": 1}


ROUND_DOC = {"id": "round-1", "horizon": {"start": "2026-12-07T06:00:00Z", "slot_minutes": 30, "slots": 48},
             "policy": {}, "objective": "fair", "params": {}, "state": "proposed", "problem": None, "plan": None,
             "ortools_version": None, "progress": 1.0, "progress_message": "", "error": None, "created_at": AT,
             "updated_at": AT, "version": 2}
OLD_ROWS = [
    request_doc("req-in-round", "in_round", "round-1", runtime_slots={"H100": 5, "A100": 8}, earliest_slot=4,
                deadline_slot=20),
    request_doc("req-open-ended", "allocated", "round-1", runtime_slots={"H100": 2}),
    request_doc("req-pool", "submitted", None, runtime_slots={"H100": 3}, earliest_slot=2, deadline_slot=9),
]


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgres", id="postgres",
                                     marks=[pytest.mark.postgres, pytest.mark.xdist_group("postgres")])])
def at_0001(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at revision 0001 holding one round and three requests in slots."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database("at_0001")
    upgrade(url, "0001")
    engine = make_engine(url, writer=True, pool_size=1)
    try:
        with engine.begin() as c:
            c.execute(sa.insert(rounds).values(id="round-1", state="proposed", version=2, problem=None, plan=None,
                                               doc=json.dumps(ROUND_DOC)))
            for doc in OLD_ROWS:
                c.execute(sa.insert(requests).values(id=doc["id"], state=doc["state"], version=1, org="embl",
                                                     idempotency_key=doc["id"], category="research",
                                                     round_id=doc["round_id"], doc=json.dumps(doc)))
    finally:
        engine.dispose()
    yield url


def docs(url: str) -> dict[str, dict[str, Any]]:
    engine = make_engine(url, writer=False, pool_size=1)
    try:
        with engine.connect() as c:
            return {i: json.loads(d) for i, d in c.execute(sa.select(requests.c.id, requests.c.doc))}
    finally:
        engine.dispose()


def downgrade(url: str) -> None:
    engine = make_engine(url, writer=True, pool_size=1)
    try:
        with engine.begin() as c:
            cfg = config()
            cfg.attributes["connection"] = c
            command.downgrade(cfg, "0001")
    finally:
        engine.dispose()


def test_upgrade_turns_slots_with_a_known_round_into_hours_and_dates_and_keeps_the_rest(at_0001: str) -> None:
    upgrade(at_0001)
    assert current(at_0001) == "0002"
    store = open_store(at_0001, migrate=False)
    try:
        got = {r.id: r for r in store.read(lambda t: t.list_requests().items)}
    finally:
        store.close()
    placed = got["req-in-round"]
    assert not placed.in_slots
    assert placed.runtime_hours == {"H100": 2.5, "A100": 4.0}  # 30-minute slots
    assert (placed.earliest, placed.deadline) == (datetime(2026, 12, 7, 8, tzinfo=UTC),
                                                  datetime(2026, 12, 7, 16, tzinfo=UTC))
    assert (got["req-open-ended"].earliest, got["req-open-ended"].deadline) == (START, None)
    pool = got["req-pool"]
    assert pool.in_slots and (pool.runtime_slots, pool.earliest_slot, pool.deadline_slot) == ({"H100": 3}, 2, 9)
    # read against the round it came from, the converted request asks for exactly the slots it asked for before
    again = through(placed, placed.id, Horizon.model_validate(ROUND_DOC["horizon"]))
    assert not isinstance(again, Waiting) and (again.runtime_slots, again.earliest_slot, again.deadline_slot) == (
        {"A100": 8, "H100": 5}, 4, 20)


def test_downgrade_gives_version_0001_its_documents_back(at_0001: str) -> None:
    upgrade(at_0001)
    downgrade(at_0001)
    assert current(at_0001) == "0001"
    assert docs(at_0001) == {d["id"]: d for d in OLD_ROWS}


def test_downgrade_refuses_a_request_in_hours_that_no_round_took_up(at_0001: str) -> None:
    upgrade(at_0001)
    engine = make_engine(at_0001, writer=True, pool_size=1)
    try:
        with engine.begin() as c:
            new = request_doc("req-new", "submitted", None) | {"runtime_hours": {"H100": 1.5},
                                                               "earliest": "2026-12-08T09:00:00Z"}
            c.execute(sa.insert(requests).values(id="req-new", state="submitted", version=0, org="embl",
                                                 idempotency_key="req-new", category="research", doc=json.dumps(new)))
    finally:
        engine.dispose()
    with pytest.raises(RuntimeError, match="request req-new is in hours and dates and no round has taken it up"):
        downgrade(at_0001)
    assert current(at_0001) == "0002"  # nothing changed
