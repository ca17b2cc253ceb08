"""What each write means, written once over a handful of storage primitives.

:class:`TxLogic` implements every ``get_*`` and write method of
:class:`~scheduler.store.base.Transaction` in terms of five primitives (``_load``, ``_insert``,
``_replace``, ``_audit``, ``_find_idempotent``) that each store provides.  So the in-memory fake and
the SQL store cannot drift apart on compare-and-set, transitions, audit or idempotency: they share
this code, and differ only in how a row is kept and how a list is filtered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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
from scheduler.errors import NotFound
from scheduler.states import Kind, RoundState
from scheduler.store import submissions, tokens, versions

Record = RequestRecord | ClusterRecord | RoundRecord | AllocationRecord | TokenRecord
R = TypeVar("R", RequestRecord, ClusterRecord, RoundRecord, AllocationRecord)


class TxLogic(ABC):
    # -- primitives -----------------------------------------------------------------------------
    @abstractmethod
    def _load(self, kind: str, id: str) -> Any:
        """The stored record, or ``None``."""

    @abstractmethod
    def _exists(self, kind: str, id: str) -> bool:
        """Whether a record is stored, without reading it (a round's record holds its whole problem and plan)."""

    @abstractmethod
    def _insert(self, kind: str, record: Record) -> None:
        """Store a new record; ``Conflict`` if the id exists."""

    @abstractmethod
    def _replace(self, kind: str, record: Record, expected_version: int | None) -> None:
        """Overwrite a stored record, if its stored version is ``expected_version`` (``None``: unversioned)."""

    @abstractmethod
    def _audit(self, subject: str, by: Change, before: str | None, after: str | None) -> AuditEntry: ...

    @abstractmethod
    def find_request(self, org: str, idempotency_key: str) -> RequestRecord | None: ...

    # -- shared -------------------------------------------------------------------------------
    def _get(self, kind: str, id: str) -> Any:
        """The stored record of ``kind`` (the caller names its model), or ``NotFound``."""
        record = self._load(kind, id)
        if record is None:
            raise NotFound(kind, id)
        return record

    def _add(self, kind: Kind, record: R, by: Change) -> R:
        record = record.model_copy(update={"version": 0})
        self._insert(kind, record)
        self._audit(subject(kind, record.id), by, None, record.state)
        return record

    def _update(self, kind: Kind, record: R, by: Change, *keep: str) -> R:
        """Compare-and-set ``record`` over the stored one; fields in ``keep`` stay as stored."""
        stored = self._get(kind, record.id)
        versions.check_update(kind, record.id, stored.state, stored.version, record.state, record.version)
        fields = {k: getattr(stored, k) for k in keep} | {"version": stored.version + 1}
        if "updated_at" in type(record).model_fields:
            fields["updated_at"] = by.at
        new = type(record).model_validate({**record.model_dump(), **fields})
        self._replace(kind, new, stored.version)
        self._audit(subject(kind, record.id), by, stored.state, new.state)
        return new

    # -- reads --------------------------------------------------------------------------------
    def get_request(self, id: str) -> RequestRecord:
        record: RequestRecord = self._get("request", id)
        return record

    def get_cluster(self, id: str) -> ClusterRecord:
        record: ClusterRecord = self._get("cluster", id)
        return record

    def get_round(self, id: str) -> RoundRecord:
        record: RoundRecord = self._get("round", id)
        return record

    def get_allocation(self, id: str) -> AllocationRecord:
        record: AllocationRecord = self._get("allocation", id)
        return record

    def get_token(self, id: str) -> TokenRecord:
        record: TokenRecord = self._get("token", id)
        return record

    def authenticate(self, bearer: str) -> TokenRecord:
        token_id, secret = tokens.split_bearer(bearer)
        return tokens.verify_token(self._load("token", token_id), secret)

    # -- writes -------------------------------------------------------------------------------
    def submit_request(self, spec: RequestSpec, *, id: str, by: Change) -> RequestRecord:
        key = spec.idempotency_key
        if key is not None and (stored := self.find_request(spec.org, key)) is not None:
            return submissions.same_submission(stored, spec)
        record = submissions.new_request(spec, id, by)
        self._insert("request", record)
        self._audit(subject("request", id), by, None, record.state)
        return record

    def update_request(self, record: RequestRecord, by: Change) -> RequestRecord:
        if record.round_id is not None and not self._exists("round", record.round_id):
            raise NotFound("round", record.round_id)
        return self._update("request", record, by, "org", "idempotency_key", "submitted_at")

    def add_cluster(self, record: ClusterRecord, by: Change) -> ClusterRecord:
        return self._add("cluster", record, by)

    def update_cluster(self, record: ClusterRecord, by: Change) -> ClusterRecord:
        return self._update("cluster", record, by, "last_heartbeat", "registered_at")

    def record_heartbeat(self, id: str, at: datetime, inventory: Inventory | None = None) -> ClusterRecord:
        stored = self.get_cluster(id)
        fields: dict[str, Any] = {"last_heartbeat": at}
        if inventory is not None:
            fields |= {"version": stored.version + 1, **inventory.model_dump(exclude_unset=True)}
        new = ClusterRecord.model_validate({**stored.model_dump(), **fields})
        self._replace("cluster", new, stored.version)
        return new

    def add_round(self, record: RoundRecord, by: Change) -> RoundRecord:
        return self._add("round", record, by)

    def update_round(self, record: RoundRecord, by: Change) -> RoundRecord:
        return self._update("round", record, by, "progress", "progress_message", "created_at")

    def set_round_progress(self, id: str, progress: float, message: str = "") -> None:
        stored = self.get_round(id)
        if stored.state != RoundState.SOLVING:  # a late report of a solve that has ended
            return
        new = RoundRecord.model_validate({**stored.model_dump(), "progress": progress, "progress_message": message})
        self._replace("round", new, stored.version)

    def add_allocations(self, records: Sequence[AllocationRecord], by: Change) -> list[AllocationRecord]:
        rounds = {r.round_id for r in records}
        requests = {r.request_id for r in records}
        for round_id in sorted(rounds):
            self.get_round(round_id)
        for request_id in sorted(requests):
            self.get_request(request_id)
        return [self._add("allocation", record, by) for record in records]

    def update_allocation(self, record: AllocationRecord, by: Change) -> AllocationRecord:
        return self._update("allocation", record, by, "round_id", "request_id")

    def append_audit(self, subject: str, by: Change, before: str | None = None, after: str | None = None) -> AuditEntry:
        return self._audit(subject, by, before, after)

    def create_token(
        self, role: Role, *, by: Change, org: str | None = None, cluster: str | None = None, name: str = ""
    ) -> IssuedToken:
        issued = tokens.issue_token(role, by=by, org=org, cluster=cluster, name=name)
        self._insert("token", issued.record)
        self._audit(subject("token", issued.record.id), by, None, "live")
        return issued

    def revoke_token(self, id: str, by: Change) -> TokenRecord:
        stored = self.get_token(id)
        new = tokens.revoked(stored, by.at)
        if new is not stored:
            self._replace("token", new, None)
            self._audit(subject("token", id), by, "live", "revoked")
        return new
