"""Typed domain errors: the store and the service raise these, and one table at the edge maps them to gRPC codes.

Every error leaves state unchanged: a write that raises is rolled back as a whole, so a caller can
retry or report without cleaning up.  The messages are written for a person reading a CLI error.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose; anything else is a bug."""


class NotFound(DomainError):
    """The record does not exist (or the caller may not know that it does)."""

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id!r} not found")
        self.kind = kind
        self.id = id


class Conflict(DomainError):
    """The write contradicts what is stored: an id or idempotency key reused with other content,
    or a compare-and-set on ``version`` that lost a race.  Re-read and retry."""


class InvalidTransition(DomainError):
    """A state change that the state machine in :mod:`scheduler.states` does not allow."""

    def __init__(self, kind: str, from_state: str, to_state: str) -> None:
        super().__init__(f"{kind} cannot go from {from_state!r} to {to_state!r}")
        self.kind = kind
        self.from_state = from_state
        self.to_state = to_state


class PermissionDenied(DomainError):
    """The caller is known but its role or scope does not allow this action."""


class Unauthenticated(DomainError):
    """No valid credential: unknown, malformed or revoked token."""


class InvalidInput(DomainError):
    """Bad input, with the offending field named so the client can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PolicyViolation(DomainError):
    """Valid input that the programme's rules refuse (for example a pin that breaks a hard rule)."""
