"""The one table from domain errors to gRPC status codes, and the abort that uses it.

The domain raises typed errors (:mod:`scheduler.errors`); servicers never choose a
code themselves.  The message is the error's own sentence, written for a person, and
for :class:`~scheduler.errors.InvalidInput` the offending field also travels in the
trailing metadata ``allmende-field`` so clients can point at it.
"""

from __future__ import annotations

from typing import NoReturn

import grpc

from scheduler.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    Unauthenticated,
)

FIELD_KEY = "allmende-field"

# Most specific first: the first row whose class matches wins.
STATUS: tuple[tuple[type[DomainError], grpc.StatusCode], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Conflict, grpc.StatusCode.ABORTED),
    (InvalidTransition, grpc.StatusCode.FAILED_PRECONDITION),
    (PolicyViolation, grpc.StatusCode.FAILED_PRECONDITION),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
)


def code_for(error: DomainError) -> grpc.StatusCode:
    for kind, code in STATUS:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


def printable(text: str) -> str:
    """Metadata values must be printable ASCII; a field path can hold a client's map key."""
    escaped = text.encode("unicode_escape").decode("ascii")
    return "".join(ch if " " <= ch <= "~" else "?" for ch in escaped)


async def abort(context: grpc.aio.ServicerContext[object, object], error: DomainError) -> NoReturn:
    if isinstance(error, InvalidInput):
        context.set_trailing_metadata(((FIELD_KEY, printable(error.field)),))
    await context.abort(code_for(error), str(error))
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
