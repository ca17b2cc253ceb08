"""Browser sessions: a token is posted once to ``/login`` and then lives on the server, behind a random cookie.

The cookie holds only a random session id (HttpOnly, SameSite=Strict; over TLS also Secure, under the
``__Host-`` prefix, which browsers accept only from this host on ``/``); the bearer token stays in this
process's memory and is authenticated again on every request, so a revoked token stops working at once.
A visitor gets an anonymous session when the login form needs a CSRF token (against login CSRF); logging
in replaces it with a new id, so an id planted before login is worth nothing after it.  Sessions end on
logout, after :data:`IDLE_S` without a request, or :data:`MAX_AGE_S` after login; a restart ends them all.

Anonymous sessions are cheap for anyone to make, so they are kept apart and capped on their own: a flood
of them pushes out the oldest anonymous ones, never a logged-in session.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

IDLE_S = 8 * 3600.0
MAX_AGE_S = 24 * 3600.0
MAX_ANONYMOUS = 10_000
MAX_LOGGED_IN = 10_000


@dataclass
class Session:
    id: str
    csrf: str
    bearer: str | None = None  # None: not logged in
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Session id -> session, in memory, least recently seen first; ids and CSRF tokens are 256-bit random."""

    def __init__(self, *, secure: bool = False, idle_s: float = IDLE_S, max_age_s: float = MAX_AGE_S,
                 max_anonymous: int = MAX_ANONYMOUS, max_logged_in: int = MAX_LOGGED_IN) -> None:
        self.secure = secure
        self.cookie = "__Host-allmende_session" if secure else "allmende_session"
        self._anonymous: OrderedDict[str, Session] = OrderedDict()
        self._logged_in: OrderedDict[str, Session] = OrderedDict()
        self._idle_s = idle_s
        self._max_age_s = max_age_s
        self._caps = {False: max_anonymous, True: max_logged_in}

    def _pool(self, logged_in: bool) -> OrderedDict[str, Session]:
        return self._logged_in if logged_in else self._anonymous

    def get(self, session_id: str | None) -> Session | None:
        key = session_id or ""
        pool = self._logged_in if key in self._logged_in else self._anonymous
        found = pool.get(key)
        if found is None:
            return None
        now = time.monotonic()
        if now - found.seen > self._idle_s or now - found.started > self._max_age_s:
            del pool[key]
            return None
        found.seen = now
        pool.move_to_end(key)
        return found

    def start(self, bearer: str | None = None) -> Session:
        pool = self._pool(bearer is not None)
        while len(pool) >= self._caps[bearer is not None]:
            pool.popitem(last=False)
        made = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), bearer=bearer)
        pool[made.id] = made
        return made

    def end(self, session_id: str) -> None:
        self._anonymous.pop(session_id, None)
        self._logged_in.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._anonymous) + len(self._logged_in)


def current(request: Request, sessions: Sessions) -> Session | None:
    return sessions.get(request.cookies.get(sessions.cookie))


def set_cookie(response: Response, session: Session, sessions: Sessions) -> None:
    response.set_cookie(sessions.cookie, session.id, httponly=True, samesite="strict", secure=sessions.secure,
                        path="/")


def clear_cookie(response: Response, sessions: Sessions) -> None:
    response.delete_cookie(sessions.cookie, httponly=True, samesite="strict", secure=sessions.secure, path="/")
