"""What a submission means in every store: a fresh request from its spec, or an idempotent replay."""

from __future__ import annotations

from scheduler.domain import Change, RequestRecord, RequestSpec
from scheduler.errors import Conflict


def new_request(spec: RequestSpec, id: str, by: Change) -> RequestRecord:
    return RequestRecord(**spec.model_dump(), id=id, submitted_at=by.at, updated_at=by.at)


def same_submission(stored: RequestRecord, spec: RequestSpec) -> RequestRecord:
    """Idempotent replay: the stored request if the content matches, else ``Conflict``."""
    if stored.spec() != spec:
        raise Conflict(
            f"idempotency key {spec.idempotency_key!r} of {spec.org!r} was used for request {stored.id!r} "
            "with different content"
        )
    return stored
