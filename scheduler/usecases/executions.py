"""Executions: what became of the approved allocations of published rounds (``ExecutionService.ListExecutions``).

An allocation is listed once it was approved (and in every state the executor moves it to after that) and its
round is published, since only a published round executes.  Each row carries what a reader needs without a
second call: its request's organisation and GPU count, and its window in wall-clock time, which the caller
computes as the executor does (the service passes :func:`scheduler.execution.reconcile.window`; this floor
does not import the execution one).

An applicant sees its own organisation's rows only; the filter is applied here, inside the read, so the
edge's role table is not the only guard.  A page may therefore hold fewer rows than asked for; its cursor
still moves on, as for every other list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from scheduler.access import Principal
from scheduler.domain import AllocationRecord, RequestRecord, RoundRecord
from scheduler.states import AllocationState, RoundState
from scheduler.store import AllocationQuery, Page, PageRequest, Reader

A = AllocationState
Span = Callable[[RoundRecord, AllocationRecord], tuple[datetime, datetime]]  # an allocation's wall-clock window
APPROVED_SINCE = frozenset({A.APPROVED, A.SUBMITTED, A.RUNNING, A.SUCCEEDED, A.FAILED, A.STALE})


@dataclass(frozen=True)
class ExecutionRow:
    """One approved allocation with its request's organisation and GPUs and its wall-clock window."""

    allocation: AllocationRecord
    org: str
    gpus: int
    start: datetime
    end: datetime


def listing(r: Reader, who: Principal, round_id: str | None, page: PageRequest, span: Span) -> Page[ExecutionRow]:
    """Approved allocations of published rounds (or of the one round, which must exist), oldest first."""
    rounds: dict[str, RoundRecord] = {}
    if round_id is not None:
        rounds[round_id] = r.get_round(round_id)  # NotFound for an unknown round
    found = r.list_allocations(AllocationQuery(round_id=round_id, states=APPROVED_SINCE), page)
    requests: dict[str, RequestRecord] = {}
    rows = []
    for a in found.items:
        if a.round_id not in rounds:
            rounds[a.round_id] = r.get_round(a.round_id)
        record = rounds[a.round_id]
        if record.state != RoundState.PUBLISHED:
            continue
        if a.request_id not in requests:
            requests[a.request_id] = r.get_request(a.request_id)
        request = requests[a.request_id]
        if who.is_applicant and request.org != who.org:
            continue
        rows.append(ExecutionRow(a, request.org, request.gpus, *span(record, a)))
    return Page(items=rows, next_cursor=found.next_cursor)
