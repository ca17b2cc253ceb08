"""Allocation requests: who may list which, and the amendments and withdrawals an organisation makes."""

from __future__ import annotations

from datetime import datetime

from scheduler.access import Principal, require_merit_unset
from scheduler.domain import RequestRecord, RequestSpec
from scheduler.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from scheduler.states import RequestState
from scheduler.store import RequestQuery, Transaction


def query(who: Principal, *, org: str | None = None, state: RequestState | None = None, category: str | None = None,
          round_id: str | None = None) -> RequestQuery:
    """The listing the caller may see: an applicant lists its own organisation only, whatever it asks for."""
    if who.is_applicant:
        if org not in (None, who.org):
            raise PermissionDenied(f"an applicant of {who.org!r} may not list the requests of {org!r}")
        org = who.org
    return RequestQuery(org=org, states=None if state is None else frozenset({state}), category=category,
                        round_id=round_id)


def require_visible(who: Principal, record: RequestRecord) -> None:
    """Another organisation's request is, to an applicant, not found, exactly as an unknown id: ids reveal nothing."""
    if who.is_applicant and who.org != record.org:
        raise NotFound("request", record.id)


def amend(t: Transaction, who: Principal, request_id: str, spec: RequestSpec, reason: str,
          now: datetime) -> RequestRecord:
    """A new spec for a request that has not entered a round; its organisation (and, for applicants, merit) stay."""
    stored = t.get_request(request_id)
    require_visible(who, stored)
    if spec.org != stored.org:
        raise InvalidInput("spec.org", f"a request cannot move from {stored.org!r} to {spec.org!r}")
    if stored.state != RequestState.SUBMITTED:
        raise PolicyViolation(f"request {request_id!r} is {stored.state}: it can be amended only until it "
                              "enters a round")
    require_merit_unset(who, spec, "amend", stored.merit)
    keep = {"org", "idempotency_key"} | ({"merit"} if who.is_applicant else set())
    content = spec.model_dump(exclude=keep) | {"waiting": ""}  # the next round judges the new window afresh
    return t.update_request(RequestRecord.model_validate({**stored.model_dump(), **content}),
                            who.change("amend", now, reason))


def withdraw(t: Transaction, who: Principal, request_id: str, reason: str, now: datetime) -> RequestRecord:
    stored = t.get_request(request_id)
    require_visible(who, stored)
    if stored.state == RequestState.WITHDRAWN:
        return stored  # withdrawn again: an idempotent no-op
    return t.update_request(stored.model_copy(update={"state": RequestState.WITHDRAWN}),
                            who.change("withdraw", now, reason))
