"""Browser sessions: a token is posted once to ``/login`` and then lives on the server, behind a random cookie.

The cookie holds only a random session id (HttpOnly, SameSite=Strict, Secure when served over TLS);
the bearer token stays in this process's memory and is authenticated again on every request, so a
revoked token stops working at once.  A visitor gets an anonymous session the first time a page needs a
CSRF token (the login form carries one too, against login CSRF); logging in replaces it with a new id,
so an id planted before login is worth nothing after it.  Sessions end on logout, after
:data:`IDLE_S` without a request, or :data:`MAX_AGE_S` after login; a restart ends them all.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "allmende_session"
IDLE_S = 8 * 3600.0
MAX_AGE_S = 24 * 3600.0
MAX_SESSIONS = 10_000  # anonymous sessions are cheap to make; the oldest go first past this


@dataclass
class Session:
    id: str
    csrf: str
    bearer: str | None = None  # None: not logged in
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Session id -> session, in memory; ids and CSRF tokens are 256-bit random strings."""

    def __init__(self, idle_s: float = IDLE_S, max_age_s: float = MAX_AGE_S) -> None:
        self._by_id: dict[str, Session] = {}
        self._idle_s = idle_s
        self._max_age_s = max_age_s

    def get(self, session_id: str | None) -> Session | None:
        found = self._by_id.get(session_id or "")
        if found is None:
            return None
        now = time.monotonic()
        if now - found.seen > self._idle_s or now - found.started > self._max_age_s:
            del self._by_id[found.id]
            return None
        found.seen = now
        return found

    def start(self, bearer: str | None = None) -> Session:
        if len(self._by_id) >= MAX_SESSIONS:
            oldest = min(self._by_id.values(), key=lambda s: s.seen)
            del self._by_id[oldest.id]
        made = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), bearer=bearer)
        self._by_id[made.id] = made
        return made

    def end(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)


def current(request: Request, sessions: Sessions) -> Session | None:
    return sessions.get(request.cookies.get(COOKIE))


def set_cookie(response: Response, session: Session, *, secure: bool) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", secure=secure, path="/")


def clear_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure, path="/")
