"""Contract: the append-only audit log and hashed bearer tokens, on every store."""

from __future__ import annotations

import pytest

from scheduler.domain import Role
from scheduler.errors import InvalidInput, Unauthenticated
from scheduler.store import AuditQuery, PageRequest, Reader, Repository, Transaction
from tests.scheduler.store.builders import at, change, cluster, spec


def test_the_log_is_ordered_and_says_who_did_what_and_why(store: Repository) -> None:
    store.submit_request(spec(), id="req-1", by=change("request.submit", actor="org-a", role=Role.APPLICANT))
    store.write(lambda t: t.add_cluster(cluster(), change("cluster.register", actor="ops", when=at(1))))
    store.write(lambda t: t.append_audit("round/round-1", change("round.note", actor="ops", when=at(2))))
    entries = store.read(lambda r: r.list_audit()).items
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert len({e.seq for e in entries}) == 3
    assert [(e.actor, e.role, e.action, e.subject, e.before, e.after) for e in entries] == [
        ("org-a", Role.APPLICANT, "request.submit", "request/req-1", None, "submitted"),
        ("ops", Role.OPERATOR, "cluster.register", "cluster/c-de-1", None, "active"),
        ("ops", Role.OPERATOR, "round.note", "round/round-1", None, None),
    ]
    assert entries[1].reason == "because cluster.register"
    assert entries[2].at == at(2)


def test_the_log_filters_and_pages(store: Repository) -> None:
    for i in range(7):
        store.write(lambda t, i=i: t.append_audit(f"round/r-{i % 2}", change(actor=f"a-{i % 3}")))
    by_subject = store.read(lambda r: r.list_audit(AuditQuery(subject="round/r-1"))).items
    assert len(by_subject) == 3
    first = store.read(lambda r: r.list_audit(AuditQuery(actor="a-0"), PageRequest(limit=2)))
    rest = store.read(lambda r: r.list_audit(AuditQuery(actor="a-0"), PageRequest(limit=2, cursor=first.next_cursor)))
    assert len(first.items) == 2 and len(rest.items) == 1 and rest.next_cursor is None


def test_the_log_has_no_way_to_change_or_delete_an_entry() -> None:
    for protocol in (Reader, Transaction, Repository):
        verbs = [name for name in dir(protocol) if "audit" in name]
        assert all(v.startswith(("append_", "list_")) for v in verbs), verbs


def test_a_token_authenticates_with_its_bearer_string_only(store: Repository) -> None:
    issued = store.write(lambda t: t.create_token(Role.APPLICANT, org="org-a", name="alice", by=change("token.create")))
    record = issued.record
    assert (record.role, record.org, record.name, record.revoked) == (Role.APPLICANT, "org-a", "alice", False)
    secret = issued.bearer.rpartition(".")[2]
    assert secret not in record.model_dump_json()
    assert store.read(lambda r: r.authenticate(issued.bearer)) == record
    assert store.read(lambda r: r.authenticate(f"Bearer {issued.bearer}")) == record
    assert store.read(lambda r: r.get_token(record.id)) == record
    assert store.read(lambda r: r.list_tokens()).items == [record]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: b[:-1] + ("A" if b[-1] != "A" else "B"), id="wrong secret"),
        pytest.param(lambda b: b.replace("tok-", "tok-0"), id="unknown token id"),
        pytest.param(lambda b: b.partition(".")[0], id="no secret"),
        pytest.param(lambda b: "", id="empty"),
        pytest.param(lambda b: "sk_live_whatever", id="not our format"),
    ],
)
def test_a_bad_bearer_is_unauthenticated(store: Repository, mangle: object) -> None:
    issued = store.write(lambda t: t.create_token(Role.OPERATOR, by=change()))
    with pytest.raises(Unauthenticated):
        store.read(lambda r: r.authenticate(mangle(issued.bearer)))  # type: ignore[operator]


def test_a_revoked_token_stops_working(store: Repository) -> None:
    issued = store.write(lambda t: t.create_token(Role.CLUSTER_AGENT, cluster="c-de-1", by=change()))
    revoked = store.write(lambda t: t.revoke_token(issued.record.id, change("token.revoke", when=at(5))))
    assert revoked.revoked_at == at(5)
    again = store.write(lambda t: t.revoke_token(issued.record.id, change("token.revoke", when=at(6))))
    assert again.revoked_at == at(5), "revoking twice keeps the first time"
    with pytest.raises(Unauthenticated):
        store.read(lambda r: r.authenticate(issued.bearer))
    actions = [
        e.action for e in store.read(lambda r: r.list_audit(AuditQuery(subject=f"token/{issued.record.id}"))).items
    ]
    assert actions == ["test", "token.revoke"]


@pytest.mark.parametrize(
    ("role", "scope", "field"),
    [
        pytest.param(Role.APPLICANT, {}, "org", id="an applicant token needs an organisation"),
        pytest.param(Role.CLUSTER_AGENT, {}, "cluster", id="a cluster-agent token needs a cluster"),
        pytest.param(Role.SYSTEM, {}, "role", id="nobody gets a system token"),
    ],
)
def test_token_scopes_are_checked(store: Repository, role: Role, scope: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        store.write(lambda t: t.create_token(role, by=change(), **scope))
    assert e.value.field == field
    assert store.read(lambda r: r.list_tokens()).items == []
