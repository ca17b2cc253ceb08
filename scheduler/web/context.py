"""What every page handler reaches through the app: the service, the sessions, and the API's role table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from scheduler.domain import Role
from scheduler.service import Service
from scheduler.web.session import Sessions

Roles = frozenset[Role] | None  # None: public, no token needed
Allowed = Callable[[str], Roles]  # RPC method -> the roles that may call it (scheduler.api.auth.allowed)


@dataclass(frozen=True)
class Console:
    service: Service
    sessions: Sessions
    allowed: Allowed


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found
