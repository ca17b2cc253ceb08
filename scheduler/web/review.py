"""The round review page as data: a round's plan as rows, figures and pages, with no I/O.

Built from what the service returns (the round record, its allocations and the titles of the
requests shown), so the page is a function of the store's state and a test can read it without a
browser.  Every request of the round's problem is one row of the plan table: its allocation if
one stands or was decided in review (superseded ones, left by a pin's re-solve, are history),
else the solver's rejection.  The table is paged on the server (``?page=&sort=&q=``), so a
10,000-request round sends one page of rows; sorting and filtering run over the whole round first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Generic, TypeVar

from scheduler.domain import AllocationRecord, RoundRecord
from scheduler.errors import InvalidInput
from scheduler.ledger import REVIEW_REJECTED
from scheduler.states import AllocationState
from scheduler.web.gantt import Bar
from solver.plan import REASONS
from solver.problem import Horizon, Problem

PAGE_SIZE = 200
REJECTIONS_PAGE_SIZE = 20
SOLVER_REJECTED = "not planned"
T = TypeVar("T")


@dataclass(slots=True)
class PlanRow:
    """One request of the round: where it runs, or why it does not (not frozen: 10,000 are made per page view,
    and a frozen dataclass sets each field through ``object.__setattr__``; nothing changes one once made)."""

    request_id: str
    title: str
    org: str
    category: str
    gpus: int
    merit: float
    state: str  # the allocation's state, or ``not planned``
    cluster: str = ""
    gpu_type: str = ""
    start_slot: int | None = None
    end_slot: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    energy_kwh: float = 0.0
    co2_kg: float = 0.0
    pinned: bool = False
    reason: str = ""  # the rejection reason's code, for a row not planned

    @property
    def planned(self) -> bool:
        return self.start_slot is not None


@dataclass(frozen=True)
class RejectionRow:
    request_id: str
    title: str
    org: str
    category: str
    reason: str
    sentence: str  # what the reason means, in words
    detail: str  # the solver's account of this request


@dataclass(frozen=True)
class CategoryRow:
    """A category against its share: ``None`` where the figure has no meaning (share 0, or no demand)."""

    name: str
    share: float
    requests: int
    assigned: int
    work: float
    work_share: float  # of all work the plan assigns
    fair_share_work: float | None
    attainment: float | None
    level: float | None


@dataclass(frozen=True)
class Paged(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int
    size: int

    @property
    def first(self) -> int:
        """1-based position of the page's first item (0 on an empty page)."""
        return (self.page - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.size + len(self.items)


@dataclass(frozen=True)
class TableQuery:
    """What the page asks of the plan table: which page, sorted by which column, filtered by what text."""

    page: int = 1
    sort: str = "request"
    descending: bool = False
    q: str = ""
    rejections_page: int = 1

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort


SORT_KEYS: dict[str, Callable[[PlanRow], tuple[object, ...]]] = {  # ties keep request-id order, either direction
    "request": lambda r: (r.request_id,),
    "title": lambda r: (r.title.casefold(),),
    "org": lambda r: (r.org,),
    "category": lambda r: (r.category,),
    "gpus": lambda r: (r.gpus,),
    "merit": lambda r: (r.merit,),
    "state": lambda r: (r.state,),
    "cluster": lambda r: (r.cluster, r.gpu_type),
    "start": lambda r: (r.start_slot is None, r.start_slot or 0),
    "end": lambda r: (r.end_slot is None, r.end_slot or 0),
    "energy": lambda r: (r.energy_kwh,),
    "co2": lambda r: (r.co2_kg,),
}
MAX_QUERY = 200


def parse_query(params: Mapping[str, str]) -> TableQuery:
    """``page``, ``sort`` (a column, ``-`` first for descending), ``q`` and ``rpage`` from a URL; bad ones raise."""
    sort = params.get("sort", "request") or "request"
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    if column not in SORT_KEYS:
        raise InvalidInput("sort", f"{column!r} is not a column; sort by one of {', '.join(SORT_KEYS)}")
    q = params.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise InvalidInput("q", f"is longer than {MAX_QUERY} characters")
    return TableQuery(page=_page_number(params, "page"), sort=column, descending=descending, q=q,
                      rejections_page=_page_number(params, "rpage"))


def _page_number(params: Mapping[str, str], name: str) -> int:
    text = params.get(name, "1") or "1"
    if not text.isdecimal() or int(text) < 1:
        raise InvalidInput(name, f"{text!r} is not a page number (1, 2, ...)")
    return int(text)


def slot_time(horizon: Horizon, slot: int) -> datetime:
    return horizon.start + timedelta(minutes=slot * horizon.slot_minutes)


def plan_rows(record: RoundRecord, held: Sequence[AllocationRecord], titles: Mapping[str, str]) -> list[PlanRow]:
    """One row per request of the round's problem, in request order; empty before the round has a plan.

    ``titles`` may be partial (or empty): a page shows the titles of its own rows (:func:`retitle`), and only a
    search or a sort by title needs every title of the round.
    """
    problem = record.problem
    if problem is None or record.plan is None:
        return []
    h = problem.horizon
    current = {a.request_id: a for a in held if a.state != AllocationState.SUPERSEDED}
    rejected = {x.request: x.reason for x in record.plan.rejected}
    rows = []
    for q in problem.requests:
        a = current.get(q.id)
        if a is None:
            rows.append(PlanRow(q.id, titles.get(q.id, ""), q.org, q.category, q.gpus, q.merit, SOLVER_REJECTED,
                                reason=rejected.get(q.id, REVIEW_REJECTED)))
            continue
        rows.append(PlanRow(q.id, titles.get(q.id, ""), q.org, q.category, q.gpus, q.merit, str(a.state),
                            cluster=a.cluster, gpu_type=a.gpu_type, start_slot=a.start_slot, end_slot=a.end_slot,
                            start=slot_time(h, a.start_slot), end=slot_time(h, a.end_slot), energy_kwh=a.energy_kwh,
                            co2_kg=a.co2_kg, pinned=a.pinned))
    return rows


def needs_titles(query: TableQuery) -> bool:
    """Whether the table needs every title of the round before it can page: to search them, or to sort by them."""
    return bool(query.q) or query.sort == "title"


Titled = TypeVar("Titled", PlanRow, RejectionRow)


def retitle(page: Paged[Titled], titles: Mapping[str, str]) -> Paged[Titled]:
    """The page with its rows' titles filled in from ``titles`` (read for these rows only)."""
    items = [replace(r, title=titles.get(r.request_id, r.title)) for r in page.items]
    return Paged(items, page.page, page.pages, page.total, page.size)


def matches(row: PlanRow, needle: str) -> bool:
    """Case-insensitive substring of the id, title, organisation, category, state, reason, cluster or GPU type."""
    hay = " ".join((row.request_id, row.title, row.org, row.category, row.state, row.reason, row.cluster,
                    row.gpu_type))
    return needle in hay.casefold()


def page_of(items: Sequence[T], page: int, size: int, what: str) -> Paged[T]:
    """Page ``page`` (1-based) of ``items``; asking past the last page is an error, not an empty page."""
    pages = max(1, math.ceil(len(items) / size))
    if page > pages:
        raise InvalidInput(what, f"page {page} does not exist: there {'is' if pages == 1 else 'are'} {pages}")
    start = (page - 1) * size
    return Paged(list(items[start:start + size]), page, pages, len(items), size)


def table(rows: Sequence[PlanRow], query: TableQuery, size: int = PAGE_SIZE) -> Paged[PlanRow]:
    """The plan table's page: filtered by ``q``, sorted over the whole round, then cut to one page."""
    needle = query.q.casefold()
    kept = sorted((r for r in rows if matches(r, needle)) if needle else rows, key=lambda r: r.request_id)
    kept.sort(key=SORT_KEYS[query.sort], reverse=query.descending)  # stable: ties stay in id order
    return page_of(kept, query.page, size, "page")


def rejections(record: RoundRecord, page: int, size: int = REJECTIONS_PAGE_SIZE) -> Paged[RejectionRow]:
    """The solver's rejections by request id, with the sentence each reason stands for; titles come by
    :func:`retitle`, for the page's rows."""
    if record.problem is None or record.plan is None:
        return page_of([], 1, size, "rpage")
    ordered = sorted(record.plan.rejected, key=lambda x: x.request)
    cut = page_of(ordered, page, size, "rpage")
    asked = {q.id: q for q in record.problem.requests}
    rows = [RejectionRow(x.request, "", asked[x.request].org if x.request in asked else "",
                         asked[x.request].category if x.request in asked else "", x.reason,
                         REASONS.get(x.reason, x.reason), x.detail) for x in cut.items]
    return Paged(rows, cut.page, cut.pages, cut.total, cut.size)


def categories(record: RoundRecord) -> list[CategoryRow]:
    """Each category's work against its share, from the plan's own figures (as the solver reported them)."""
    if record.plan is None:
        return []
    m = record.plan.metrics
    total = sum(c.work for c in m.categories.values())
    rows = []
    for name, c in sorted(m.categories.items()):
        counted = c.share > 0 and c.demand_work > 0
        rows.append(CategoryRow(name=name, share=c.share, requests=c.requests, assigned=c.assigned, work=c.work,
                                work_share=c.work / total if total > 0 else 0.0,
                                fair_share_work=c.fair_share_work if counted else None,
                                attainment=c.attainment if counted else None,
                                level=c.work / c.share if c.share > 0 else None))
    return rows


def metrics(record: RoundRecord) -> list[tuple[str, str, str]]:
    """The plan's headline figures as (label, value, note), in the order an operator reads them."""
    if record.plan is None:
        return []
    m, s = record.plan.metrics, record.plan.solver
    gap = "—" if s.bound <= 0 else f"{max(0.0, 1.0 - m.value / s.bound):.1%}"  # as the live progress line reads it
    spread = m.level_spread
    if spread is None:
        ratio, between = "—", "no category held back"
    else:
        ratio = "∞" if spread.ratio is None else f"{spread.ratio:.2f}"
        between = f"{spread.highest} over {spread.lowest}"
    return [
        ("value", f"{m.value:,.1f}", "Σ merit × work"),
        ("bound", f"{s.bound:,.1f}", "upper bound on the value"),
        ("gap", gap, "value below the bound"),
        ("assigned", f"{m.assigned:,}", "requests placed"),
        ("rejected", f"{m.rejected:,}", "requests left out"),
        ("wasted", f"{m.wasted:,}", "left out, yet would fit as planned"),
        ("justified complaints", f"{m.justified_complaints:,}", "a lower-level category holds its place"),
        ("level spread", ratio, between),
        ("min attainment", f"{m.min_attainment:.3f}", "lowest work over fair share"),
        ("Jain's index", f"{m.jain:.3f}", "1 is perfectly even"),
        ("GPU-hours", f"{m.gpu_hours:,.0f}", "as planned"),
        ("energy", f"{m.energy_mwh:,.2f} MWh", "board power × PUE"),
        ("CO2", f"{m.co2_t:,.3f} t", "where clusters report carbon"),
        ("solver", s.status, f"{s.policy or record.objective} · {s.wall_seconds:.1f} s"),
    ]


@dataclass(frozen=True)
class EnergySeries:
    """Per slot: energy planned (kWh, board power × PUE) and the cap over that slot (``None``: uncapped)."""

    name: str
    kwh: list[float]
    cap_kwh: float | None


def energy(record: RoundRecord, held: Sequence[AllocationRecord]) -> list[EnergySeries]:
    """Energy per slot of the allocations that stand or are under review, for the round and for each capped cluster.

    A cluster's cap is its power cap (which binds the GPUs' board power) over one slot, times its PUE, so that
    it reads in the same kWh as the plan's energy.  The round's own line carries the programme's energy budget
    spread evenly over the horizon, when the policy sets one.
    """
    problem = record.problem
    if problem is None:
        return []
    slots, hours = problem.horizon.slots, problem.horizon.slot_hours
    gpus = {q.id: q.gpus for q in problem.requests}
    pues = {c.id: c.pue for c in problem.clusters}
    steps: dict[str, list[float]] = defaultdict(lambda: [0.0] * (slots + 1))  # + at the start, - at the end
    for a in _live(held):
        tdp = problem.gpu_types[a.gpu_type].tdp_watts if a.gpu_type in problem.gpu_types else 0.0
        kwh = gpus.get(a.request_id, 0) * tdp / 1000.0 * hours * pues.get(a.cluster, 1.0)
        line = steps[a.cluster]
        line[min(a.start_slot, slots)] += kwh
        line[min(a.end_slot, slots)] -= kwh
    per_cluster = {c: list(accumulate(line[:slots])) for c, line in steps.items()}
    total = [sum(line[s] for line in per_cluster.values()) for s in range(slots)]
    budget = problem.policy.energy_budget_mwh
    out = [EnergySeries("all clusters", total, None if budget is None else budget * 1000.0 / slots)]
    for c in sorted(problem.clusters, key=lambda c: c.id):
        if c.power_cap_kw is not None:
            out.append(EnergySeries(c.id, per_cluster.get(c.id, [0.0] * slots), c.power_cap_kw * hours * c.pue))
    return out


def _live(held: Sequence[AllocationRecord]) -> list[AllocationRecord]:
    gone = {AllocationState.SUPERSEDED, AllocationState.REJECTED}
    return [a for a in held if a.state not in gone]


def gantt_bars(record: RoundRecord, held: Sequence[AllocationRecord]) -> dict[str, list[Bar]]:
    """Bars per cluster (every cluster of the problem, even an idle one), review-rejected ones faded."""
    problem: Problem | None = record.problem
    if problem is None:
        return {}
    asked = {q.id: q for q in problem.requests}
    out: dict[str, list[Bar]] = {c.id: [] for c in sorted(problem.clusters, key=lambda c: c.id)}
    for a in held:
        q = asked.get(a.request_id)
        if a.state == AllocationState.SUPERSEDED or q is None:
            continue
        out.setdefault(a.cluster, []).append(Bar(
            request_id=a.request_id, org=q.org, category=q.category, gpus=q.gpus, gpu_type=a.gpu_type,
            start_slot=a.start_slot, end_slot=a.end_slot, state=str(a.state), pinned=a.pinned,
            faded=a.state == AllocationState.REJECTED))
    return out
