"""Whole lists out of paged reads, for the use cases that need every matching record in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from scheduler.domain import AllocationRecord, RequestRecord
from scheduler.states import RequestState
from scheduler.store.base import AllocationQuery, Page, PageRequest, Reader, RequestQuery

T = TypeVar("T")


def all_pages(fetch: Callable[[PageRequest], Page[T]]) -> list[T]:
    out: list[T] = []
    cursor: str | None = None
    while True:
        page = fetch(PageRequest(limit=1000, cursor=cursor))
        out += page.items
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def allocations(r: Reader, query: AllocationQuery) -> list[AllocationRecord]:
    return all_pages(lambda p: r.list_allocations(query, p))


def in_round(r: Reader, round_id: str) -> list[RequestRecord]:
    """The requests a round holds (``in_round``), which its review or publication moves on."""
    return all_pages(lambda p: r.list_requests(RequestQuery(round_id=round_id,
                                                            states=frozenset({RequestState.IN_ROUND})), p))
