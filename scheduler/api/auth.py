"""Bearer tokens, roles and the one table of which role may call which RPC.

Every handler is wrapped once, when the servicers are registered (:class:`Guard`),
so each call passes three gates before the servicer runs, and one error mapping after:

1. authenticate  ``authorization: Bearer alm_<id>.<secret>`` against the store
                 (hashed, cached for ``CACHE_S``); no header means the public;
2. authorise     :data:`RULES` by method and role (public methods need no token);
3. mTLS          with a client CA configured, a cluster agent must also present a
                 certificate whose common name is its cluster id;

then the caller is put in :data:`CALLER` for the servicer, and a
:class:`~scheduler.errors.DomainError` the call raises becomes its status through
:mod:`scheduler.api.status`.  Record-level rules (an applicant's own organisation,
an agent's own cluster) are the service's, in :mod:`scheduler.access`.

This is the job of a server interceptor, done at registration instead of per call:
a ``grpc.aio.ServerInterceptor`` runs a coroutine and builds a new handler on every
call, which cost about 45 µs of the server's ~300 µs CPU per unary call in
``make bench-service``.  Health and reflection are registered unwrapped (public).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError

from scheduler.access import PUBLIC, Principal
from scheduler.api import status
from scheduler.domain import Role, TokenRecord
from scheduler.errors import DomainError, InvalidInput, PermissionDenied, Unauthenticated

APP, OPS, AGENT, ANA = Role.APPLICANT, Role.OPERATOR, Role.CLUSTER_AGENT, Role.ANALYST
Roles = frozenset[Role] | None  # None: public, no token needed

RULES: dict[str, Roles] = {
    "/allmende.v1.InventoryService/RegisterCluster": frozenset({OPS, AGENT}),
    "/allmende.v1.InventoryService/ReportInventory": frozenset({OPS, AGENT}),
    "/allmende.v1.InventoryService/ListClusters": frozenset({OPS, ANA, AGENT, APP}),
    "/allmende.v1.InventoryService/GetCluster": frozenset({OPS, ANA, AGENT, APP}),
    "/allmende.v1.RequestService/SubmitRequest": frozenset({APP, OPS}),
    "/allmende.v1.RequestService/GetRequest": frozenset({APP, OPS, ANA}),
    "/allmende.v1.RequestService/ListRequests": frozenset({APP, OPS, ANA}),
    "/allmende.v1.RequestService/AmendRequest": frozenset({APP, OPS}),
    "/allmende.v1.RequestService/WithdrawRequest": frozenset({APP, OPS}),
    "/allmende.v1.RoundService/OpenRound": frozenset({OPS}),
    "/allmende.v1.RoundService/RunRound": frozenset({OPS}),
    "/allmende.v1.RoundService/GetRound": frozenset({OPS, ANA, APP}),
    "/allmende.v1.RoundService/ListRounds": frozenset({OPS, ANA, APP}),
    "/allmende.v1.RoundService/GetPlan": frozenset({OPS, ANA}),
    "/allmende.v1.RoundService/Explain": frozenset({OPS, ANA, APP}),
    "/allmende.v1.RoundService/ReplayRound": frozenset({OPS, ANA}),
    "/allmende.v1.ReviewService/Approve": frozenset({OPS}),
    "/allmende.v1.ReviewService/Reject": frozenset({OPS}),
    "/allmende.v1.ReviewService/Pin": frozenset({OPS}),
    "/allmende.v1.ReviewService/Publish": frozenset({OPS}),
    "/allmende.v1.ReviewService/ListAuditEvents": frozenset({OPS, ANA}),
    "/allmende.v1.ExecutionService/ListExecutions": frozenset({OPS, ANA, APP}),
    "/allmende.v1.LedgerService/ListPublishedRounds": None,
    "/allmende.v1.LedgerService/GetLedgerEntry": None,
}
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
MAX_NESTING = 100  # protobuf's own recursion limit: a Struct holds about a third as many levels of JSON
CACHE_S = 10.0
CACHE_MAX = 4096

log = logging.getLogger("allmende.api")
CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar("allmende_caller", default=PUBLIC)
Authenticate = Callable[[str], Awaitable[TokenRecord]]


def caller() -> Principal:
    return CALLER.get()


def allowed(method: str) -> Roles:
    """The roles that may call ``method``; public for health and reflection; unknown methods nobody."""
    if method in RULES:
        return RULES[method]
    if method.startswith(PUBLIC_PREFIXES):
        return None
    return frozenset()


class TokenCache:
    """Bearer string -> token, for ``CACHE_S`` seconds: a revoked token stops working within that time."""

    def __init__(self, authenticate: Authenticate, ttl_s: float = CACHE_S) -> None:
        self._authenticate = authenticate
        self._ttl = ttl_s
        self._seen: dict[str, tuple[float, TokenRecord]] = {}

    async def __call__(self, bearer: str) -> TokenRecord:
        now = time.monotonic()
        hit = self._seen.get(bearer)
        if hit is not None and hit[0] > now:
            return hit[1]
        token = await self._authenticate(bearer)
        if len(self._seen) >= CACHE_MAX:
            self._seen.clear()
        self._seen[bearer] = (now + self._ttl, token)
        return token


class Guard:
    """Stands in for the server while the generated ``add_*Servicer_to_server`` register their handlers."""

    def __init__(self, server: grpc.aio.Server, authenticate: Authenticate, *,
                 agents_need_certificate: bool = False, cache_s: float = CACHE_S) -> None:
        self._server = server
        self._tokens = TokenCache(authenticate, cache_s)
        self._agents_need_certificate = agents_need_certificate

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: the generated code registers the same handlers by name right after."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        guarded = {name: _wrap(h, self._gate(f"/{service}/{name}"), name) for name, h in handlers.items()}
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, guarded),))
        self._server.add_registered_method_handlers(service, guarded)

    def _gate(self, method: str) -> Admit:
        roles = allowed(method)
        short = method.rsplit("/", 1)[-1]

        async def admit(context: grpc.aio.ServicerContext[Any, Any]) -> Principal:
            bearer = _bearer(context)
            who = PUBLIC if bearer is None else Principal.of(await self._tokens(bearer))
            if roles is None:
                return who
            if who.role is None:
                raise Unauthenticated(f"{short} needs a bearer token")
            if who.role not in roles:
                raise PermissionDenied(f"the {who.role} role may not call {short}")
            if who.role is Role.CLUSTER_AGENT and self._agents_need_certificate:
                names = context.auth_context().get("x509_common_name", [])
                if (who.cluster or "").encode() not in names:
                    raise PermissionDenied(f"cluster agents must present the client certificate of {who.cluster!r}")
            return who

        return admit


def _bearer(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            scheme, _, bearer = text.strip().partition(" ")
            if scheme.lower() != "bearer" or not bearer.strip():  # the scheme is case-insensitive (RFC 7235)
                raise Unauthenticated("the authorization header must be 'Bearer <token>'")
            return bearer.strip()
    return None


Admit = Callable[[grpc.aio.ServicerContext[Any, Any]], Awaitable[Principal]]


def _decoder(deserialize: Callable[[bytes], Any] | None) -> Callable[[Any], Any]:
    """The message from its bytes, in the handler, so that bytes that do not decode are the caller's error."""

    def decode(raw: Any) -> Any:
        if deserialize is None or not isinstance(raw, bytes):
            return raw
        try:
            return deserialize(raw)
        except (DecodeError, RecursionError, ValueError):
            raise InvalidInput("request", "is not a well-formed message: its bytes do not decode, or it is nested "
                               f"deeper than {MAX_NESTING} levels") from None

    return decode


async def _decoded(requests: AsyncIterator[Any], decode: Callable[[Any], Any]) -> AsyncIterator[Any]:
    async for raw in requests:
        yield decode(raw)


async def _fault(context: grpc.aio.ServicerContext[Any, Any], method: str) -> NoReturn:
    """Anything but a domain error is the server's fault: logged here, and a plain sentence for the caller."""
    log.exception("%s failed", method)
    await context.abort(grpc.StatusCode.INTERNAL, "the server could not handle this call; its log has the details")
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def _wrap(handler: grpc.RpcMethodHandler, admit: Admit, method: str = "") -> grpc.RpcMethodHandler:
    """The same handler, with the gates before it and the error table after it."""
    codec = {"request_deserializer": None, "response_serializer": handler.response_serializer}
    decode = _decoder(handler.request_deserializer)
    streamed_in = bool(handler.stream_unary or handler.stream_stream)

    def message(request: Any) -> Any:
        return _decoded(request, decode) if streamed_in else decode(request)

    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        token = None
        try:
            token = CALLER.set(await admit(context))
            behaviour = handler.unary_unary or handler.stream_unary
            return await behaviour(message(request), context)
        except DomainError as error:
            await status.abort(context, error)
        except grpc.aio.AbortError:
            raise
        except Exception:
            await _fault(context, method)
        finally:
            if token is not None:
                CALLER.reset(token)

    async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        token = None
        try:
            token = CALLER.set(await admit(context))
            behaviour = handler.unary_stream or handler.stream_stream
            async for item in behaviour(message(request), context):
                yield item
        except DomainError as error:
            await status.abort(context, error)
        except grpc.aio.AbortError:
            raise
        except Exception:
            await _fault(context, method)
        finally:
            if token is not None:
                CALLER.reset(token)

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary, **codec)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary, **codec)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming, **codec)
    return grpc.stream_stream_rpc_method_handler(streaming, **codec)
