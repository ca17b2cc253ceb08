"""Rendering: the Jinja2 environment (autoescape on), the page helper every handler ends with, and error pages.

A handler calls the service and lets a :class:`~scheduler.errors.DomainError` escape: :func:`error_handlers`
turns it into a page with the service's own message and the status that fits (a refusal is a 403, an
unknown or hidden record a 404), so no handler catches errors itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from scheduler.access import PUBLIC, Principal
from scheduler.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from scheduler.service import known_cursor
from scheduler.store import PageRequest
from scheduler.web.context import console
from scheduler.web.csrf import FIELD, CsrfRefused
from scheduler.web.gate import LoginRequired, rpc, who
from scheduler.web.session import Session, current

STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    PermissionDenied: 403,
    InvalidInput: 400,
    Unauthenticated: 401,
    Conflict: 409,
    InvalidTransition: 409,
}
TITLES = {400: "Bad request", 401: "Not logged in", 403: "Not allowed", 404: "Not found", 405: "Not allowed",
          409: "Cannot do that now", 413: "Too large"}


def when(value: datetime | None, zone: bool = True) -> str:
    """A timestamp as people read it, in UTC (``zone=False`` where the column's heading says so)."""
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M" + (" UTC" if zone else ""))


def number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def energy(mwh: float | None) -> str:
    """Energy in the unit that reads best: kWh under one MWh, MWh above."""
    if mwh is None:
        return "—"
    return f"{mwh * 1000:,.1f} kWh" if abs(mwh) < 1 else f"{mwh:,.2f} MWh"


def age(seconds: float | None) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 d`` ago; ``never`` for None."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"


ENV = Environment(loader=PackageLoader("scheduler.web", "templates"), autoescape=select_autoescape(["html"]),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(when=when, number=number, percent=percent, age=age, energy=energy)

NAV = (("/ledger", "Public ledger", None), ("/rounds", "Rounds", "RoundService/ListRounds"),
       ("/clusters", "Clusters", "InventoryService/ListClusters"),
       ("/requests", "Requests", "RequestService/ListRequests"))


def render(request: Request, template: str, status_code: int = 200, *, session: Session | None = None,
           **context: Any) -> HTMLResponse:
    """``template`` with the navigation, the caller and the session's CSRF token (as ``csrf`` and ``csrf_field``).

    ``session``: one this response is about to set (the visitor's cookie does not name it yet).
    """
    who: Principal = getattr(request.state, "who", PUBLIC)
    session = session or current(request, console(request).sessions)
    allowed = console(request).allowed
    nav = [(href, label) for href, label, method in NAV
           if method is None or (who.role is not None and who.role in (allowed(rpc(method)) or ()))]
    html = ENV.get_template(template).render(
        request=request, path=request.url.path, who=who, nav=nav, csrf=session.csrf if session else "",
        csrf_field=FIELD, **context)
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    message = message[:1].upper() + message[1:]  # the service's messages are sentences without their capital
    return render(request, "error.html", status_code, title=TITLES.get(status_code, "Error"), message=message)


async def domain_error(request: Request, exc: Exception) -> Response:
    await who(request)
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 409)
    return error_page(request, status, str(exc))


async def login_required(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def csrf_refused(request: Request, exc: Exception) -> Response:
    await who(request)
    return error_page(request, 403, str(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    await who(request)
    status, detail = (exc.status_code, str(exc.detail)) if isinstance(exc, HTTPException) else (500, "")
    return error_page(request, status, detail)


def error_handlers() -> Mapping[Any, Any]:
    return {DomainError: domain_error, LoginRequired: login_required, CsrfRefused: csrf_refused,
            HTTPException: http_error}


PAGE = 100


def page_request(request: Request, limit: int = PAGE) -> PageRequest:
    """The page a list asks for with ``?cursor=``; a cursor this service never handed out is refused."""
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and not known_cursor(cursor):
        raise InvalidInput("cursor", "is not a page token this console handed out")
    return PageRequest(limit=limit, cursor=cursor)
