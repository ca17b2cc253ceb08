"""The round review page and its actions: approve, reject, pin, publish and run, each with a required reason.

Every action is a POST with the session's CSRF token (:func:`~scheduler.web.csrf.checked_form`, read
before anything else) that calls the same :class:`~scheduler.service.Service` method as the gRPC
servicer, with the logged-in principal, so it lands in the audit log under that name; who may post
it is the API's role table for the RPC it stands in for (:func:`~scheduler.web.gate.caller`).  A
missing reason is refused before the service is called, so it changes nothing.  The page itself is
:mod:`scheduler.web.review` (data) rendered by ``round.html``; a running solve shows its progress
from ``/rounds/{id}/progress.json``, which ``static/review.js`` polls (a refresh link without script).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from scheduler import text
from scheduler.access import Principal
from scheduler.domain import AuditEntry, RoundRecord
from scheduler.errors import InvalidInput
from scheduler.service import Service
from scheduler.states import RoundState
from scheduler.store import PageRequest
from scheduler.web import charts, gantt, review
from scheduler.web.context import console
from scheduler.web.csrf import checked_form
from scheduler.web.gate import caller
from scheduler.web.pages import page_request, render
from solver.problem import Pin

MAX_IDS = 1000
AUDIT_SHOWN = 200
TITLED_ROUNDS = 8  # rounds whose every title the console keeps, for searching and sorting by title


def required_reason(form: FormData) -> str:
    """The form's reason, by the gRPC API's own rule (:func:`scheduler.text.reason`)."""
    return text.reason(str(form.get("reason", "")))


def request_ids(form: FormData) -> list[str]:
    """The request ids an approve or reject names, separated by spaces or commas; none means the whole round."""
    ids = str(form.get("requests", "")).replace(",", " ").split()
    if len(ids) > MAX_IDS:
        raise InvalidInput("requests", f"at most {MAX_IDS} ids in one action")
    if len(set(ids)) != len(ids):
        raise InvalidInput("requests", "lists an id twice")
    return ids


def pin_of(form: FormData) -> Pin:
    """The pin a form asks for: request, cluster, GPU type and start slot, each required and well-formed."""
    fields = {name: str(form.get(name, "")).strip() for name in ("request", "cluster", "gpu_type", "start_slot")}
    for name, value in fields.items():
        if not value:
            raise InvalidInput(name, "is required to pin an allocation")
    if not fields["start_slot"].isdecimal():
        raise InvalidInput("start_slot", f"{fields['start_slot']!r} is not a slot number (0, 1, ...)")
    try:
        return Pin(request=fields["request"], cluster=fields["cluster"], gpu_type=fields["gpu_type"],
                   start_slot=int(fields["start_slot"]))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(str(first["loc"][0]), f"{first['msg']}") from None


async def titles(service: Service, who: Principal, round_id: str) -> dict[str, str]:
    """Request id -> title for the requests the round holds, read page by page as the API lists them."""
    out: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page = await service.list_requests(who, PageRequest(limit=1000, cursor=cursor), round_id=round_id)
        out.update((r.id, r.title) for r in page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


async def round_titles(request: Request, who: Principal, record: RoundRecord) -> dict[str, str]:
    """Every title of the round, kept for the round's version (the console keeps :data:`TITLED_ROUNDS` of them).

    While a round keeps its version its requests keep their titles: a request is amended only before it enters
    a round, and one that leaves (a rejected round) leaves with a new round version.
    """
    state = request.app.state
    if not hasattr(state, "round_titles"):
        state.round_titles = OrderedDict()
    kept: OrderedDict[tuple[str, int], dict[str, str]] = state.round_titles
    key = (record.id, record.version)
    if key not in kept:
        kept[key] = await titles(console(request).service, who, record.id)
        while len(kept) > TITLED_ROUNDS:
            kept.popitem(last=False)
    kept.move_to_end(key)
    return kept[key]


async def titles_of(service: Service, who: Principal, request_ids: list[str]) -> dict[str, str]:
    """Request id -> title for the requests named, each read as GetRequest reads it."""
    return {r.id: r.title for r in await asyncio.gather(*(service.get_request(who, i) for i in request_ids))}


async def audit_trail(service: Service, who: Principal, round_id: str) -> tuple[list[AuditEntry], bool]:
    """The round's audit entries, newest first (at most :data:`AUDIT_SHOWN`), and whether there are more."""
    entries: list[AuditEntry] = []
    cursor: str | None = None
    while True:
        page = await service.audit(who, f"round/{round_id}", PageRequest(limit=1000, cursor=cursor))
        entries += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    entries.reverse()
    return entries[:AUDIT_SHOWN], len(entries) > AUDIT_SHOWN


def live_progress(service: Service, round_id: str) -> dict[str, Any] | None:
    """The progress of a solve running in this process, from its live view: no store read, so polling is cheap."""
    live = service.round_run(round_id)
    if live is None or live.done.is_set():
        return None
    return {"state": str(RoundState.SOLVING), "phase": live.phase, "fraction": round(live.fraction, 4),
            "message": live.message, "running": True, "error": live.error}


def progress_of(service: Service, record: RoundRecord) -> dict[str, Any]:
    """The solve's progress: this process's live run if it has one, else what the round stored last."""
    live = live_progress(service, record.id)
    if live is not None:
        return live
    running = record.state == RoundState.SOLVING
    return {"state": str(record.state), "phase": "solve" if running else str(record.state),
            "fraction": round(record.progress, 4), "message": record.progress_message, "running": running,
            "error": record.error}


async def rounds_list(request: Request) -> Response:
    who = await caller(request, "RoundService/ListRounds")
    found = await console(request).service.list_rounds(who, None, page_request(request))
    return render(request, "rounds.html", title="Rounds", rounds=found.items, next_cursor=found.next_cursor)


async def review_page(request: Request) -> Response:
    """The review page of one round (``round.html``): everything an operator decides on, and the forms to decide.

    The titles of a round's requests are read for the rows shown, unless a search or a sort by title needs all
    of them: for a 10,000-request round, reading every request costs more than the rest of the page.
    """
    who = await caller(request, "RoundService/GetPlan")
    service = console(request).service
    round_id = request.path_params["round_id"]
    query = review.parse_query(request.query_params)
    (record, held), (entries, more) = await asyncio.gather(service.get_round(who, round_id),
                                                           audit_trail(service, who, round_id))
    everything = await round_titles(request, who, record) if review.needs_titles(query) else {}
    rows = review.plan_rows(record, held, everything)
    table, rejected = review.table(rows, query), review.rejections(record, query.rejections_page)
    if not everything:
        ids = [r.request_id for r in table.items] + [x.request_id for x in rejected.items]
        shown = await titles_of(service, who, list(dict.fromkeys(ids)))
        table, rejected = review.retitle(table, shown), review.retitle(rejected, shown)
    cats = review.categories(record)
    palette = gantt.colours(_categories(record))
    horizon = record.horizon
    return render(
        request, "round.html", title=f"Round {round_id}", record=record, query=query, table=table,
        rows_total=len(rows), sort_keys=list(review.SORT_KEYS), rejections=rejected, metrics=review.metrics(record),
        categories=cats, category_chart=_category_chart(cats), energy=_energy_charts(record, held),
        gantts=[(c, gantt.chart(c, b, horizon, palette)) for c, b in review.gantt_bars(record, held).items()],
        palette=palette, audit=entries, audit_more=more, progress=progress_of(service, record),
        done=request.query_params.get("done", ""), pin=_pin_row(rows, request.query_params.get("pin", "")),
        clusters=sorted(c.id for c in record.problem.clusters) if record.problem else [],
        gpu_types=sorted(record.problem.gpu_types) if record.problem else [])


def _pin_row(rows: list[review.PlanRow], request_id: str) -> review.PlanRow | None:
    """The row whose request the pin form starts from (``?pin=REQUEST``), where it names one of the round."""
    return next((r for r in rows if r.request_id == request_id), None) if request_id else None


def _categories(record: RoundRecord) -> set[str]:
    """Every category the round names, as the plan's metrics list them, so the charts agree on colours."""
    if record.problem is None:
        return set()
    return {q.category for q in record.problem.requests} | set(record.problem.policy.category_shares)


def _category_chart(cats: list[review.CategoryRow]) -> Any:
    if not cats:
        return None
    bars = [charts.Bar(label=c.name, value=c.work_share, reference=c.share if c.share > 0 else None) for c in cats]
    return charts.bar_chart(bars, title="Share of the assigned work, by category", fmt=lambda v: f"{v:.0%}",
                            reference_label="the category's share")


def _energy_charts(record: RoundRecord, held: list[Any]) -> list[Any]:
    out = []
    for series in review.energy(record, held):
        cap_label = "energy budget per slot" if series.name == "all clusters" else "power cap × slot × PUE"
        out.append((series, charts.series_chart(series.kwh, title=f"Energy per slot, {series.name}",
                                                cap=series.cap_kwh, unit=" kWh", cap_label=cap_label)))
    return out


async def progress(request: Request) -> Response:
    who = await caller(request, "RoundService/GetRound")
    service = console(request).service
    round_id = request.path_params["round_id"]
    found = live_progress(service, round_id)
    if found is None:
        record, _ = await service.get_round(who, round_id)
        found = progress_of(service, record)
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


async def explanation(request: Request) -> Response:
    """Why one request got what it got: the solver's reason and the tested counterfactual, as a page or as JSON."""
    who = await caller(request, "RoundService/Explain")
    service = console(request).service
    round_id, request_id = request.path_params["round_id"], request.path_params["request_id"]
    as_json = request_id.endswith(".json")
    found = await service.explain(who, round_id, request_id.removesuffix(".json"))
    change = found.counterfactual
    if as_json:
        return JSONResponse({"request_id": found.request_id, "reason": found.reason, "detail": found.detail,
                             "counterfactual": None if change is None else change.text,
                             "allocated": found.assignment is not None})
    return render(request, "round_explain.html", title=f"Why {found.request_id}", found=found, round_id=round_id)


Action = Callable[[Service, Principal, str, FormData, str], Awaitable[object]]


async def _approve(s: Service, who: Principal, round_id: str, form: FormData, reason: str) -> object:
    return await s.approve(who, round_id, request_ids(form), reason)


async def _reject(s: Service, who: Principal, round_id: str, form: FormData, reason: str) -> object:
    return await s.reject(who, round_id, request_ids(form), reason)


async def _pin(s: Service, who: Principal, round_id: str, form: FormData, reason: str) -> object:
    return await s.pin(who, pin_of(form), round_id, reason)


async def _publish(s: Service, who: Principal, round_id: str, form: FormData, reason: str) -> object:
    return await s.publish(who, round_id, reason)


async def _run(s: Service, who: Principal, round_id: str, form: FormData, reason: str) -> object:
    return await s.run_round(who, round_id, reason)


ACTIONS: dict[str, tuple[str, Action]] = {  # form action -> (the RPC it stands in for, the service call)
    "approve": ("ReviewService/Approve", _approve),
    "reject": ("ReviewService/Reject", _reject),
    "pin": ("ReviewService/Pin", _pin),
    "publish": ("ReviewService/Publish", _publish),
    "run": ("RoundService/RunRound", _run),
}


async def act(request: Request) -> Response:
    """One review action: CSRF first, then the role, then the reason, then the service; back to the page."""
    form = await checked_form(request)
    name = request.path_params["action"]
    if name not in ACTIONS:
        raise InvalidInput("action", f"{name!r} is not one of {', '.join(ACTIONS)}")
    method, call = ACTIONS[name]
    who = await caller(request, method)
    round_id = request.path_params["round_id"]
    reason = required_reason(form)
    await call(console(request).service, who, round_id, form, reason)
    return RedirectResponse(f"/rounds/{quote(round_id, safe='')}?done={name}#actions", status_code=303)


ROUTES = [
    Route("/rounds", rounds_list),
    Route("/rounds/{round_id}", review_page, methods=["GET"]),
    Route("/rounds/{round_id}/progress.json", progress, methods=["GET"]),
    Route("/rounds/{round_id}/explain/{request_id}", explanation, methods=["GET"]),
    Route("/rounds/{round_id}/{action}", act, methods=["POST"]),
]
