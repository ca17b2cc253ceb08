"""Contract: submitting, idempotency, compare-and-set and listing of requests, on every store."""

from __future__ import annotations

import pytest

from scheduler.domain import RequestRecord
from scheduler.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from scheduler.states import RequestState
from scheduler.store import PageRequest, Repository, RequestQuery
from tests.scheduler.store.builders import T0, at, change, spec


def submit(store: Repository, id: str, org: str = "org-a", key: str | None = None, **fields: object) -> RequestRecord:
    return store.submit_request(spec(org, key, **fields), id=id, by=change("request.submit", actor=org))


def count(store: Repository) -> int:
    return len(store.read(lambda r: r.list_requests(page=PageRequest(limit=1000))).items)


def test_a_submitted_request_reads_back_exactly(store: Repository) -> None:
    sent = spec("org-a", "k1", countries=["DE", "FR"], deadline_slot=20, merit=0.9)
    record = store.submit_request(sent, id="req-1", by=change("request.submit", when=at(5)))
    assert (record.state, record.version, record.round_id) == (RequestState.SUBMITTED, 0, None)
    assert record.submitted_at == record.updated_at == at(5)
    assert record.spec() == sent
    assert store.read(lambda r: r.get_request("req-1")) == record
    assert store.read(lambda r: r.find_request("org-a", "k1")) == record
    assert store.read(lambda r: r.find_request("org-b", "k1")) is None


def test_the_same_key_and_content_returns_the_first_request(store: Repository) -> None:
    first = submit(store, "req-1", key="k1")
    again = submit(store, "req-2", key="k1")
    assert again == first
    assert count(store) == 1
    assert len(store.read(lambda r: r.list_audit()).items) == 1, "a replay is not a new action"
    with pytest.raises(NotFound):
        store.read(lambda r: r.get_request("req-2"))


def test_the_same_key_with_other_content_is_a_conflict_and_changes_nothing(store: Repository) -> None:
    submit(store, "req-1", key="k1")
    with pytest.raises(Conflict, match="k1"):
        submit(store, "req-2", key="k1", gpus=8)
    assert count(store) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(("org-a", "k1"), ("org-b", "k1"), id="keys are scoped by organisation"),
        pytest.param(("org-a", None), ("org-a", None), id="without a key every submission is new"),
    ],
)
def test_distinct_submissions_make_distinct_requests(
    store: Repository, first: tuple[str, str | None], second: tuple[str, str | None]
) -> None:
    a = submit(store, "req-1", *first)
    b = submit(store, "req-2", *second)
    assert a.id != b.id
    assert count(store) == 2


def test_a_reused_id_is_a_conflict(store: Repository) -> None:
    submit(store, "req-1")
    with pytest.raises(Conflict):
        submit(store, "req-1", org="org-b")
    assert store.read(lambda r: r.get_request("req-1")).org == "org-a"


def test_missing_records_are_not_found(store: Repository) -> None:
    for get in ("get_request", "get_cluster", "get_round", "get_allocation", "get_token"):
        with pytest.raises(NotFound, match="nope"):
            store.read(lambda r, get=get: getattr(r, get)("nope"))


def test_an_update_stores_the_next_version_and_keeps_identity_fields(store: Repository) -> None:
    record = submit(store, "req-1", key="k1")
    amended = record.model_copy(update={"gpus": 8, "title": "bigger", "org": "org-z", "idempotency_key": "x"})
    stored = store.write(lambda t: t.update_request(amended, change("request.amend", when=at(9))))
    assert (stored.version, stored.gpus, stored.title, stored.updated_at) == (1, 8, "bigger", at(9))
    assert (stored.org, stored.idempotency_key, stored.submitted_at) == ("org-a", "k1", T0)
    assert store.read(lambda r: r.get_request("req-1")) == stored


def test_a_stale_version_is_a_conflict_and_changes_nothing(store: Repository) -> None:
    record = submit(store, "req-1")
    store.write(lambda t: t.update_request(record.model_copy(update={"gpus": 8}), change()))
    with pytest.raises(Conflict, match="version"):
        store.write(lambda t: t.update_request(record.model_copy(update={"gpus": 2}), change()))
    stored = store.read(lambda r: r.get_request("req-1"))
    assert (stored.version, stored.gpus) == (1, 8)


def test_an_invalid_transition_changes_nothing(store: Repository) -> None:
    record = submit(store, "req-1")
    audit_before = store.read(lambda r: r.list_audit()).items
    with pytest.raises(InvalidTransition):
        store.write(lambda t: t.update_request(record.model_copy(update={"state": RequestState.ALLOCATED}), change()))
    assert store.read(lambda r: r.get_request("req-1")) == record
    assert store.read(lambda r: r.list_audit()).items == audit_before


def test_a_failing_unit_of_work_leaves_no_partial_writes(store: Repository) -> None:
    def half_then_fail(t: object) -> None:
        t.submit_request(spec(), id="req-1", by=change())  # type: ignore[attr-defined]
        t.submit_request(spec(), id="req-1", by=change())  # type: ignore[attr-defined]

    with pytest.raises(Conflict):
        store.write(half_then_fail)
    assert count(store) == 0
    assert store.read(lambda r: r.list_audit()).items == []


def test_pages_walk_every_request_once_in_submission_order(store: Repository) -> None:
    ids = [f"req-{i:02d}" for i in range(25)]
    for i, id in enumerate(ids):
        submit(store, id, org="org-a" if i % 2 else "org-b")
    seen, cursor, sizes = [], None, []
    while True:
        page = store.read(lambda r, c=cursor: r.list_requests(page=PageRequest(limit=10, cursor=c)))
        seen += [x.id for x in page.items]
        sizes.append(len(page.items))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids
    assert sizes == [10, 10, 5]


def test_filters_combine_with_pages(store: Repository) -> None:
    for i in range(12):
        submit(store, f"req-{i:02d}", org="org-a" if i % 3 == 0 else "org-b")
    withdrawn = store.read(lambda r: r.get_request("req-03"))
    store.write(lambda t: t.update_request(withdrawn.model_copy(update={"state": RequestState.WITHDRAWN}), change()))
    query = RequestQuery(org="org-a", states=frozenset({RequestState.SUBMITTED}))
    first = store.read(lambda r: r.list_requests(query, PageRequest(limit=2)))
    rest = store.read(lambda r: r.list_requests(query, PageRequest(limit=2, cursor=first.next_cursor)))
    assert [x.id for x in first.items + rest.items] == ["req-00", "req-06", "req-09"]
    assert rest.next_cursor is None
    assert store.read(lambda r: r.list_requests(RequestQuery(category="teaching"))).items == []


def test_a_forged_cursor_is_invalid_input(store: Repository) -> None:
    with pytest.raises(InvalidInput) as e:
        store.read(lambda r: r.list_requests(page=PageRequest(cursor="not-a-cursor")))
    assert e.value.field == "page.cursor"


def test_a_request_can_only_join_a_round_that_exists(store: Repository) -> None:
    record = submit(store, "req-1")
    joining = record.model_copy(update={"state": RequestState.IN_ROUND, "round_id": "round-9"})
    with pytest.raises(NotFound, match="round-9"):
        store.write(lambda t: t.update_request(joining, change()))
    assert store.read(lambda r: r.get_request("req-1")) == record


def test_a_request_naming_a_round_that_does_not_exist_is_refused_and_changes_nothing(store: Repository) -> None:
    record = submit(store, "req-1")
    joined = record.model_copy(update={"state": RequestState.IN_ROUND, "round_id": "round-nope"})
    with pytest.raises(NotFound, match="round-nope"):
        store.write(lambda t: t.update_request(joined, change()))
    assert store.read(lambda r: r.get_request("req-1")) == record
