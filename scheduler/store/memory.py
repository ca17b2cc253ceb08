"""The in-memory store: real code that passes the same contract suite as the SQL store.

State is a set of dicts that are never mutated once published.  A write copies them, runs the unit of
work on the copy and publishes the copy only if the work returns, so a failed write leaves nothing
behind and a reader always sees one consistent snapshot without taking a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

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
    subject,
)
from scheduler.errors import Conflict, NotFound
from scheduler.states import Kind
from scheduler.store import common
from scheduler.store.base import (
    AllocationQuery,
    AuditQuery,
    ClusterQuery,
    Page,
    PageRequest,
    Reader,
    RequestQuery,
    RoundQuery,
    Transaction,
)

T = TypeVar("T")
R = TypeVar("R", RequestRecord, ClusterRecord, RoundRecord, AllocationRecord)


@dataclass
class _Table:
    """Records by id, each with the ``seq`` that orders listings."""

    rows: dict[str, tuple[int, Any]] = field(default_factory=dict)
    last_seq: int = 0

    def copy(self) -> _Table:
        return _Table(dict(self.rows), self.last_seq)


@dataclass
class _State:
    tables: dict[str, _Table] = field(
        default_factory=lambda: {k: _Table() for k in ("request", "cluster", "round", "allocation", "token")}
    )
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    audit: tuple[AuditEntry, ...] = ()

    def copy(self) -> _State:
        return replace(self, tables={k: t.copy() for k, t in self.tables.items()}, idempotency=dict(self.idempotency))


def _page(rows: Iterable[tuple[int, T]], keep: Callable[[T], bool], page: PageRequest | None) -> Page[T]:
    page = page or PageRequest()
    after = common.decode_cursor(page.cursor)
    items: list[tuple[int, T]] = []
    for seq, item in sorted(rows, key=lambda r: r[0]):
        if seq > after and keep(item):
            items.append((seq, item))
            if len(items) > page.limit:
                break
    more = len(items) > page.limit
    items = items[: page.limit]
    return Page([i for _, i in items], common.encode_cursor(items[-1][0]) if more else None)


def _within(value: Any, allowed: frozenset[Any] | None) -> bool:
    return allowed is None or value in allowed


class _Tx:
    """Reader and Transaction over one private copy of the state."""

    def __init__(self, state: _State) -> None:
        self.s = state

    # -- generic helpers ------------------------------------------------------------------------
    def _get(self, kind: str, id: str) -> Any:
        row = self.s.tables[kind].rows.get(id)
        if row is None:
            raise NotFound(kind, id)
        return row[1]

    def _insert(self, kind: str, id: str, record: Any) -> None:
        table = self.s.tables[kind]
        if id in table.rows:
            raise Conflict(f"{kind} {id!r} already exists")
        table.last_seq += 1
        table.rows[id] = (table.last_seq, record)

    def _put(self, kind: str, id: str, record: Any) -> None:
        table = self.s.tables[kind]
        table.rows[id] = (table.rows[id][0], record)

    def _audit(self, subj: str, by: Change, before: str | None, after: str | None) -> AuditEntry:
        entry = AuditEntry(seq=len(self.s.audit) + 1, **common.audit_row(subj, by, before, after))
        self.s.audit = (*self.s.audit, entry)
        return entry

    def _update(self, kind: Kind, record: R, by: Change, **keep: Any) -> R:
        stored = self._get(kind, record.id)
        common.check_update(kind, record.id, stored.state, stored.version, record.state, record.version)
        fields = {"version": stored.version + 1, **keep}
        if "updated_at" in type(record).model_fields:
            fields["updated_at"] = by.at
        new = type(record).model_validate({**record.model_dump(), **fields})
        self._put(kind, record.id, new)
        self._audit(subject(kind, record.id), by, stored.state, new.state)
        return new

    # -- reads ----------------------------------------------------------------------------------
    def get_request(self, id: str) -> RequestRecord:
        return self._get("request", id)  # type: ignore[no-any-return]

    def find_request(self, org: str, idempotency_key: str) -> RequestRecord | None:
        id = self.s.idempotency.get((org, idempotency_key))
        return None if id is None else self.get_request(id)

    def list_requests(self, query: RequestQuery | None = None, page: PageRequest | None = None) -> Page[RequestRecord]:
        q = query or RequestQuery()
        return _page(
            self.s.tables["request"].rows.values(),
            lambda r: (
                q.org in (None, r.org)
                and q.round_id in (None, r.round_id)
                and q.category in (None, r.category)
                and _within(r.state, q.states)
            ),
            page,
        )

    def get_cluster(self, id: str) -> ClusterRecord:
        return self._get("cluster", id)  # type: ignore[no-any-return]

    def list_clusters(self, query: ClusterQuery | None = None, page: PageRequest | None = None) -> Page[ClusterRecord]:
        q = query or ClusterQuery()

        def keep(c: ClusterRecord) -> bool:
            silent = q.heartbeat_before is None or c.last_heartbeat is None or c.last_heartbeat < q.heartbeat_before
            return q.operator in (None, c.operator) and _within(c.state, q.states) and silent

        return _page(self.s.tables["cluster"].rows.values(), keep, page)

    def get_round(self, id: str) -> RoundRecord:
        return self._get("round", id)  # type: ignore[no-any-return]

    def list_rounds(self, query: RoundQuery | None = None, page: PageRequest | None = None) -> Page[RoundRecord]:
        return _page(
            self.s.tables["round"].rows.values(), lambda r: _within(r.state, (query or RoundQuery()).states), page
        )

    def get_allocation(self, id: str) -> AllocationRecord:
        return self._get("allocation", id)  # type: ignore[no-any-return]

    def list_allocations(
        self, query: AllocationQuery | None = None, page: PageRequest | None = None
    ) -> Page[AllocationRecord]:
        q = query or AllocationQuery()
        return _page(
            self.s.tables["allocation"].rows.values(),
            lambda a: (
                q.round_id in (None, a.round_id)
                and q.request_id in (None, a.request_id)
                and q.cluster in (None, a.cluster)
                and _within(a.state, q.states)
            ),
            page,
        )

    def list_audit(self, query: AuditQuery | None = None, page: PageRequest | None = None) -> Page[AuditEntry]:
        q = query or AuditQuery()
        rows = ((e.seq, e) for e in self.s.audit)
        return _page(rows, lambda e: q.subject in (None, e.subject) and q.actor in (None, e.actor), page)

    def get_token(self, id: str) -> TokenRecord:
        return self._get("token", id)  # type: ignore[no-any-return]

    def list_tokens(self, page: PageRequest | None = None) -> Page[TokenRecord]:
        return _page(self.s.tables["token"].rows.values(), lambda t: True, page)

    def authenticate(self, bearer: str) -> TokenRecord:
        token_id, secret = common.split_bearer(bearer)
        row = self.s.tables["token"].rows.get(token_id)
        return common.verify_token(None if row is None else row[1], secret)

    # -- writes ---------------------------------------------------------------------------------
    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        key = spec.idempotency_key
        if key is not None and (stored := self.find_request(spec.org, key)) is not None:
            return common.same_submission(stored, spec)
        record = common.new_request(spec, id, by)
        self._insert("request", id, record)
        if key is not None:
            self.s.idempotency[(spec.org, key)] = id
        self._audit(subject("request", id), by, None, record.state)
        return record

    def update_request(self, record: RequestRecord, by: Change) -> RequestRecord:
        stored = self.get_request(record.id)
        return self._update(
            "request",
            record,
            by,
            org=stored.org,
            idempotency_key=stored.idempotency_key,
            submitted_at=stored.submitted_at,
        )

    def add_cluster(self, record: ClusterRecord, by: Change) -> ClusterRecord:
        record = record.model_copy(update={"version": 0})
        self._insert("cluster", record.id, record)
        self._audit(subject("cluster", record.id), by, None, record.state)
        return record

    def update_cluster(self, record: ClusterRecord, by: Change) -> ClusterRecord:
        stored = self.get_cluster(record.id)
        return self._update(
            "cluster", record, by, last_heartbeat=stored.last_heartbeat, registered_at=stored.registered_at
        )

    def record_heartbeat(self, id: str, at: datetime, inventory: Inventory | None = None) -> ClusterRecord:
        stored = self.get_cluster(id)
        fields: dict[str, Any] = {"last_heartbeat": at}
        if inventory is not None:
            fields |= {"version": stored.version + 1, **inventory.model_dump()}
        new = ClusterRecord.model_validate({**stored.model_dump(), **fields})
        self._put("cluster", id, new)
        return new

    def add_round(self, record: RoundRecord, by: Change) -> RoundRecord:
        record = record.model_copy(update={"version": 0})
        self._insert("round", record.id, record)
        self._audit(subject("round", record.id), by, None, record.state)
        return record

    def update_round(self, record: RoundRecord, by: Change) -> RoundRecord:
        stored = self.get_round(record.id)
        return self._update(
            "round",
            record,
            by,
            progress=stored.progress,
            progress_message=stored.progress_message,
            created_at=stored.created_at,
        )

    def set_round_progress(self, id: str, progress: float, message: str = "") -> None:
        stored = self.get_round(id)
        self._put(
            "round",
            id,
            RoundRecord.model_validate({**stored.model_dump(), "progress": progress, "progress_message": message}),
        )

    def add_allocations(self, records: Sequence[AllocationRecord], by: Change) -> list[AllocationRecord]:
        out = []
        for record in records:
            self.get_round(record.round_id)
            self.get_request(record.request_id)
            record = record.model_copy(update={"version": 0})
            self._insert("allocation", record.id, record)
            self._audit(subject("allocation", record.id), by, None, record.state)
            out.append(record)
        return out

    def update_allocation(self, record: AllocationRecord, by: Change) -> AllocationRecord:
        stored = self.get_allocation(record.id)
        return self._update("allocation", record, by, round_id=stored.round_id, request_id=stored.request_id)

    def append_audit(self, subject: str, by: Change, before: str | None = None, after: str | None = None) -> AuditEntry:
        return self._audit(subject, by, before, after)

    def create_token(
        self, role: Role, *, by: Change, org: str | None = None, cluster: str | None = None, name: str = ""
    ) -> IssuedToken:
        issued = common.issue_token(role, by=by, org=org, cluster=cluster, name=name)
        self._insert("token", issued.record.id, issued.record)
        self._audit(subject("token", issued.record.id), by, None, "live")
        return issued

    def revoke_token(self, id: str, by: Change) -> TokenRecord:
        stored = self.get_token(id)
        new = common.revoked(stored, by.at)
        if new is not stored:
            self._put("token", id, new)
            self._audit(subject("token", id), by, "live", "revoked")
        return new


class MemoryStore:
    """A :class:`~scheduler.store.base.Repository` held in this process; writes are serialised by one lock."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()

    def read(self, fn: Callable[[Reader], T]) -> T:
        return fn(_Tx(self._state))

    async def read_async(self, fn: Callable[[Reader], T]) -> T:
        return self.read(fn)

    def write(self, fn: Callable[[Transaction], T]) -> T:
        with self._lock:
            tx = _Tx(self._state.copy())
            result = fn(tx)
            self._state = tx.s
            return result

    async def write_async(self, fn: Callable[[Transaction], T]) -> T:
        return self.write(fn)

    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        return self.write(lambda tx: tx.submit_request(spec, id=id, by=by))

    async def submit_request_async(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        return self.submit_request(spec, id=id, by=by)

    def close(self) -> None:
        pass
