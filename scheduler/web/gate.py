"""Who is calling a page, and whether the API's role table lets them call the RPC the page stands in for.

Each page names the gRPC method it does the work of (for example ``RoundService/ListRounds``); the
roles that may open it are exactly those :data:`scheduler.api.auth.RULES` lets call that method, read
through :attr:`~scheduler.web.context.Console.allowed`.  Record-level rules (an applicant's own
organisation) stay in the service, which the page calls with the same :class:`~scheduler.access.Principal`.
"""

from __future__ import annotations

from starlette.requests import Request

from scheduler.access import PUBLIC, Principal
from scheduler.errors import PermissionDenied, Unauthenticated
from scheduler.web.context import console
from scheduler.web.session import current

PREFIX = "/allmende.v1."


class LoginRequired(Exception):
    """The page needs a token and the visitor has none (or it was revoked): off to ``/login``."""


def rpc(name: str) -> str:
    """The full method name of ``Service/Method``, as the API's role table keys it."""
    return PREFIX + name


async def who(request: Request) -> Principal:
    """The logged-in principal, or the public; a session whose token was revoked is ended here."""
    if hasattr(request.state, "who"):
        known: Principal = request.state.who
        return known
    c = console(request)
    session = current(request, c.sessions)
    found = PUBLIC
    if session is not None and session.bearer is not None:
        try:
            found = Principal.of(await c.service.authenticate(session.bearer))
        except Unauthenticated:
            c.sessions.end(session.id)
    request.state.who = found
    return found


async def may(request: Request, method: str) -> bool:
    """Whether the caller may do what ``method`` does (for links and sections shown only to some roles)."""
    found = await who(request)
    roles = console(request).allowed(rpc(method))
    return roles is None or found.role in roles


async def caller(request: Request, method: str) -> Principal:
    """The principal who may do what ``method`` does; :class:`LoginRequired` or ``PermissionDenied`` otherwise."""
    found = await who(request)
    roles = console(request).allowed(rpc(method))
    if roles is None:
        return found
    if found.role is None:
        raise LoginRequired(method)
    if found.role not in roles:
        raise PermissionDenied(f"the {found.role} role may not open this page ({method.rsplit('/', 1)[-1]})")
    return found
