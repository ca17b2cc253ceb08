"""The public ledger: published rounds only, readable by anyone, each with what it granted and why."""

from __future__ import annotations

from collections.abc import Iterable

from scheduler import ledger
from scheduler.domain import RoundRecord
from scheduler.errors import NotFound
from scheduler.states import RoundState
from scheduler.store import AllocationQuery, PageRequest, Reader, RoundQuery
from scheduler.store.pages import allocations


def entries(r: Reader, page: PageRequest) -> tuple[list[ledger.LedgerEntry], str | None]:
    found = r.list_rounds(RoundQuery(states=frozenset({RoundState.PUBLISHED})), page)
    return [entry(r, x) for x in found.items], found.next_cursor


def published(r: Reader, round_id: str) -> ledger.LedgerEntry:
    """The entry of a published round; any other round is, to the public, not there."""
    record = r.get_round(round_id)
    if record.state != RoundState.PUBLISHED:
        raise NotFound("published round", round_id)
    return entry(r, record)


def entry(r: Reader, record: RoundRecord) -> ledger.LedgerEntry:
    held = allocations(r, AllocationQuery(round_id=record.id))
    ids: Iterable[str] = [q.id for q in record.problem.requests] if record.problem else []
    clusters = {c.id: r.get_cluster(c.id) for c in record.problem.clusters} if record.problem else {}
    return ledger.entry(record, held, {i: r.get_request(i) for i in ids}, clusters)
