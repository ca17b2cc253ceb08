"""The repository contract: what the service may ask of durable state, and the promises each call keeps.

Unit of work.  Every write runs as a function of a :class:`Transaction`, handed to
:meth:`Repository.write`: all of it commits or none of it does, and the call returns only after
COMMIT, so an acknowledged write survives a crash.  Concurrent ``write`` calls (threads, asyncio
tasks) are group-committed: one writer runs them one after another, each in its own savepoint, and
commits the batch once.  So ``fn`` must be short and do store work only: no network, no sleeping,
no nested ``write``; it may run on another thread; it may raise a domain error, which rolls back its
own changes only.

Rules every implementation keeps (the contract suite in ``tests/store`` checks them):

* **Compare-and-set.**  ``update_*`` takes a record whose ``version`` is the one the caller read;
  the store raises :class:`~scheduler.errors.Conflict` if it holds another, else stores
  ``version + 1`` and returns the stored record.  ``add_*`` raises ``Conflict`` on a duplicate id.
* **Transitions.**  If ``state`` changes, :func:`scheduler.states.transition` must allow the edge,
  else :class:`~scheduler.errors.InvalidTransition` and nothing is written.
* **Audit.**  Every ``add_*``/``update_*``/``submit_request`` appends one :class:`AuditEntry` from its
  :class:`Change` (before/after are the states), in the same transaction.  The log has no update or
  delete.  Observations (heartbeats, inventory, solve progress) are not audited and do not bump
  ``version``, and ``update_*`` leaves those fields as stored.  Solve progress is taken only while
  the round is ``solving``: a late report of a finished solve changes nothing.
* **Idempotent submit.**  Same ``(org, idempotency_key)`` and equal spec: the stored request comes
  back unchanged (no new audit entry); different spec: ``Conflict``.
* **Pagination.**  Lists are in insertion order (audit: by ``seq``); ``next_cursor`` is opaque and
  ``None`` on the last page.
* **Tokens.**  Only a salted hash of the secret is stored; the bearer string exists once, in the
  :class:`IssuedToken` returned by ``create_token``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Generic, Protocol, TypeVar

from pydantic import AwareDatetime, Field

from scheduler.domain import (
    AllocationRecord,
    AuditEntry,
    Change,
    ClusterRecord,
    Inventory,
    IssuedToken,
    RequestRecord,
    RequestSpec,
    Role,
    RoundRecord,
    TokenRecord,
)
from scheduler.states import AllocationState, ClusterState, RequestState, RoundState
from solver.problem import Frozen

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class PageRequest(Frozen):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


class RequestQuery(Frozen):
    org: str | None = None
    states: frozenset[RequestState] | None = None
    round_id: str | None = None
    category: str | None = None


class ClusterQuery(Frozen):
    states: frozenset[ClusterState] | None = None
    operator: str | None = None
    heartbeat_before: AwareDatetime | None = None  # clusters silent since then (never-seen ones count as silent)


class RoundQuery(Frozen):
    states: frozenset[RoundState] | None = None


class AllocationQuery(Frozen):
    round_id: str | None = None
    request_id: str | None = None
    cluster: str | None = None
    states: frozenset[AllocationState] | None = None


class AuditQuery(Frozen):
    subject: str | None = None
    actor: str | None = None


class Reader(Protocol):
    """Reads inside one consistent snapshot."""

    def get_request(self, id: str) -> RequestRecord: ...
    def find_request(self, org: str, idempotency_key: str) -> RequestRecord | None: ...
    def list_requests(
        self, query: RequestQuery | None = None, page: PageRequest | None = None
    ) -> Page[RequestRecord]: ...
    def get_cluster(self, id: str) -> ClusterRecord: ...
    def list_clusters(
        self, query: ClusterQuery | None = None, page: PageRequest | None = None
    ) -> Page[ClusterRecord]: ...
    def get_round(self, id: str) -> RoundRecord: ...
    def list_rounds(self, query: RoundQuery | None = None, page: PageRequest | None = None) -> Page[RoundRecord]: ...
    def get_allocation(self, id: str) -> AllocationRecord: ...
    def list_allocations(
        self, query: AllocationQuery | None = None, page: PageRequest | None = None
    ) -> Page[AllocationRecord]: ...
    def list_audit(self, query: AuditQuery | None = None, page: PageRequest | None = None) -> Page[AuditEntry]: ...
    def get_token(self, id: str) -> TokenRecord: ...
    def list_tokens(self, page: PageRequest | None = None) -> Page[TokenRecord]: ...
    def authenticate(self, bearer: str) -> TokenRecord:
        """The live token for a bearer string; :class:`~scheduler.errors.Unauthenticated` if unknown,
        malformed, wrong or revoked."""
        ...


class Transaction(Reader, Protocol):
    """Reads and writes of one unit of work; see the module docstring for the rules."""

    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord: ...
    def update_request(self, record: RequestRecord, by: Change) -> RequestRecord: ...
    def add_cluster(self, record: ClusterRecord, by: Change) -> ClusterRecord: ...
    def update_cluster(self, record: ClusterRecord, by: Change) -> ClusterRecord: ...
    def record_heartbeat(self, id: str, at: datetime, inventory: Inventory | None = None) -> ClusterRecord:
        """Set ``last_heartbeat``; with an inventory also replace gpus, windows and forecast (version + 1)."""
        ...

    def add_round(self, record: RoundRecord, by: Change) -> RoundRecord: ...
    def update_round(self, record: RoundRecord, by: Change) -> RoundRecord: ...
    def set_round_progress(self, id: str, progress: float, message: str = "") -> None: ...
    def add_allocations(self, records: Sequence[AllocationRecord], by: Change) -> list[AllocationRecord]: ...
    def update_allocation(self, record: AllocationRecord, by: Change) -> AllocationRecord: ...
    def append_audit(self, subject: str, by: Change, before: str | None = None, after: str | None = None) -> AuditEntry:
        """Audit an action that writes no record (a review note, a token handed out)."""
        ...

    def create_token(
        self, role: Role, *, by: Change, org: str | None = None, cluster: str | None = None, name: str = ""
    ) -> IssuedToken: ...
    def revoke_token(self, id: str, by: Change) -> TokenRecord: ...


class Repository(Protocol):
    """Durable state behind the service; safe to share between threads and asyncio tasks."""

    def read(self, fn: Callable[[Reader], T]) -> T:
        """Run ``fn`` on a consistent snapshot in the calling thread."""
        ...

    async def read_async(self, fn: Callable[[Reader], T]) -> T:
        """``read`` off the event loop."""
        ...

    def write(self, fn: Callable[[Transaction], T]) -> T:
        """Run ``fn`` as one unit of work; return its result after COMMIT, or raise its error after rollback."""
        ...

    async def write_async(self, fn: Callable[[Transaction], T]) -> T:
        """``write`` without blocking the event loop (awaits the group commit)."""
        ...

    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        """The hot path: ``write(lambda tx: tx.submit_request(...))``, possibly batched more tightly."""
        ...

    async def submit_request_async(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord: ...

    def close(self) -> None:
        """Finish queued writes, then release connections and threads."""
        ...
