"""Requests in hours and dates: stored requests whose round tells what their slots meant are converted.

A request keeps its whole record as JSON in ``requests.doc``, so the new fields (``runtime_hours``,
``earliest``, ``deadline``, and ``waiting``) need no column of their own; this migration rewrites the
documents.  Until now a request's slots counted from the start of whichever round took it up:

- a request with a ``round_id`` has that round's horizon, so its slots become hours and instants:
  ``runtime_hours = runtime_slots × slot_minutes / 60``, ``earliest = start + earliest_slot × slot``,
  ``deadline = start + deadline_slot × slot`` (no deadline stays none), and the slot fields go;
- a request in no round (``submitted``, never snapshotted) has no slot length to read its slots with:
  it keeps them, deprecated, and the next round reads them as its own slots, as before.

Downgrade converts back what a round tells (runtime rounded up, the window shrunk to whole slots of that
round, as a round would read it), drops ``waiting``, and refuses, naming it, a request in hours and dates
that no round has taken up yet: version 0001 has no way to hold it.  Round problems and plans are in slots
either way and are not touched.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

requests = sa.table("requests", sa.column("seq", sa.Integer), sa.column("id", sa.String),
                    sa.column("round_id", sa.String), sa.column("doc", sa.Text))
rounds = sa.table("rounds", sa.column("id", sa.String), sa.column("doc", sa.Text))
NEW_FIELDS = ("runtime_hours", "earliest", "deadline", "waiting")
SLOT_FIELDS = ("runtime_slots", "earliest_slot", "deadline_slot")


def _horizons(c: sa.Connection) -> dict[str, tuple[datetime, int]]:
    """Each round's horizon start and slot length in minutes."""
    out = {}
    for round_id, doc in c.execute(sa.select(rounds.c.id, rounds.c.doc)):
        h = json.loads(doc)["horizon"]
        out[round_id] = (datetime.fromisoformat(h["start"].replace("Z", "+00:00")), int(h.get("slot_minutes", 60)))
    return out


def _instant(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _to_hours(doc: dict[str, Any], start: datetime, minutes: int) -> dict[str, Any]:
    slot = timedelta(minutes=minutes)
    deadline = doc.get("deadline_slot")
    out = {k: v for k, v in doc.items() if k not in SLOT_FIELDS}
    return out | {
        "runtime_hours": {g: n * minutes / 60 for g, n in doc["runtime_slots"].items()},
        "earliest": _instant(start + doc.get("earliest_slot", 0) * slot),
        "deadline": None if deadline is None else _instant(start + deadline * slot),
    }


def _to_slots(doc: dict[str, Any], start: datetime, minutes: int) -> dict[str, Any]:
    slot = timedelta(minutes=minutes)
    earliest = doc.get("earliest")
    deadline = doc.get("deadline")
    out = {k: v for k, v in doc.items() if k not in NEW_FIELDS}
    first = 0 if earliest is None else max(0, math.ceil((datetime.fromisoformat(
        earliest.replace("Z", "+00:00")) - start) / slot))
    last = None if deadline is None else max(first + 1, math.floor((datetime.fromisoformat(
        deadline.replace("Z", "+00:00")) - start) / slot))
    return out | {
        "runtime_slots": {g: max(1, math.ceil(h * 60 / minutes - 1e-9)) for g, h in doc["runtime_hours"].items()},
        "earliest_slot": first,
        "deadline_slot": last,
    }


def upgrade() -> None:
    c = op.get_bind()
    horizons = _horizons(c)
    rows = c.execute(sa.select(requests.c.seq, requests.c.round_id, requests.c.doc)).all()
    for seq, round_id, text in rows:
        doc = json.loads(text)
        if not doc.get("runtime_slots") or round_id not in horizons:
            continue
        new = _to_hours(doc, *horizons[round_id])
        c.execute(sa.update(requests).where(requests.c.seq == seq).values(doc=json.dumps(new)))


def downgrade() -> None:
    c = op.get_bind()
    horizons = _horizons(c)
    rows = c.execute(sa.select(requests.c.seq, requests.c.id, requests.c.round_id, requests.c.doc)).all()
    for seq, request_id, round_id, text in rows:
        doc = json.loads(text)
        if doc.get("runtime_hours"):
            if round_id not in horizons:
                raise RuntimeError(
                    f"request {request_id} is in hours and dates and no round has taken it up, so version 0001 "
                    "cannot hold it: withdraw it, or let a round take it up, before downgrading")
            doc = _to_slots(doc, *horizons[round_id])
        old = {k: v for k, v in doc.items() if k not in NEW_FIELDS}
        c.execute(sa.update(requests).where(requests.c.seq == seq).values(doc=json.dumps(old)))
