"""The app factory: the console's routes over one :class:`~scheduler.service.Service`, and the login pages.

``create_app(service, allowed)`` takes the API's role table as ``allowed`` (``scheduler.api.auth.allowed``),
which the composition root (:mod:`scheduler.api.server`) hands in: the console decides nothing about
roles itself.  Each area's pages live in a module of their own, each exporting ``ROUTES``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from scheduler.errors import Unauthenticated
from scheduler.service import Service
from scheduler.web import applicants, clusters, ledger, rounds
from scheduler.web.context import Allowed, Console, console
from scheduler.web.csrf import checked_form
from scheduler.web.gate import who
from scheduler.web.pages import error_handlers, render
from scheduler.web.security import SecurityHeaders
from scheduler.web.session import Sessions, clear_cookie, current, set_cookie

MAX_TOKEN = 512


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no ``//host``, scheme, backslash or control
    character, which browsers drop from a URL and so could turn ``/\t/host`` into ``//host``), else home."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)):
        return "/"
    return target


async def home(request: Request) -> Response:
    await who(request)
    return render(request, "home.html")


async def login_page(request: Request) -> Response:
    c = console(request)
    await who(request)
    session = current(request, c.sessions)
    made = session is None
    if session is None:
        session = c.sessions.start()
    response = render(request, "login.html", session=session, next=safe_next(request.query_params.get("next")),
                      error="")
    if made:
        set_cookie(response, session, c.sessions)
    return response


async def login(request: Request) -> Response:
    """The token, posted once: authenticated, then kept server-side under a new session id."""
    c = console(request)
    form = await checked_form(request)
    bearer = str(form.get("token", "")).strip()
    target = safe_next(str(form.get("next", "")))
    try:
        if not bearer or len(bearer) > MAX_TOKEN:
            raise Unauthenticated("no token given")
        await c.service.authenticate(bearer)
    except Unauthenticated:
        return render(request, "login.html", 401, next=target,
                      error="That token is not valid: it is unknown, malformed or revoked.")
    old = current(request, c.sessions)
    if old is not None:
        c.sessions.end(old.id)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, c.sessions.start(bearer), c.sessions)
    return response


async def logout(request: Request) -> Response:
    c = console(request)
    await checked_form(request)
    old = current(request, c.sessions)
    if old is not None:
        c.sessions.end(old.id)
    response = RedirectResponse("/", status_code=303)
    clear_cookie(response, c.sessions)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *clusters.ROUTES,
        *applicants.ROUTES,
        *ledger.ROUTES,
        *rounds.ROUTES,
        Mount("/static", StaticFiles(packages=[("scheduler.web", "static")]), name="static"),
    ]


def create_app(service: Service, allowed: Allowed, *, secure: bool = False) -> Starlette:
    """The console; ``secure``: it is served over TLS, so its session cookie is Secure (and ``__Host-``)."""
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)],
                    exception_handlers=dict(error_handlers()))
    app.state.console = Console(service=service, sessions=Sessions(secure=secure), allowed=allowed)
    return app
