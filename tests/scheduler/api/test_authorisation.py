"""Who may call what: every RPC × role against a table written here, and the record-level stories.

The table is the specification; ``scheduler.api.auth.RULES`` is checked against it by calling the
real server, not by comparing dicts.  A role the table allows gets past the gate (empty requests then
fail validation, which is fine); any other role gets PERMISSION_DENIED, and the public (no token)
gets UNAUTHENTICATED.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.domain import Role
from tests.scheduler.api.harness import InProcessServer, auth
from tests.scheduler.api.rpcs import Rpc, all_rpcs, code_of

APPLICANT, OPERATOR, AGENT, ANALYST, PUBLIC = "applicant", "operator", "cluster-agent", "analyst", "public"
EVERYONE = {APPLICANT, OPERATOR, AGENT, ANALYST, PUBLIC}

WANT_ALLOWED = {
    "RegisterCluster": {OPERATOR, AGENT},
    "ReportInventory": {OPERATOR, AGENT},
    "ListClusters": {OPERATOR, ANALYST, AGENT, APPLICANT},
    "GetCluster": {OPERATOR, ANALYST, AGENT, APPLICANT},
    "SubmitRequest": {APPLICANT, OPERATOR},
    "GetRequest": {APPLICANT, OPERATOR, ANALYST},
    "ListRequests": {APPLICANT, OPERATOR, ANALYST},
    "AmendRequest": {APPLICANT, OPERATOR},
    "WithdrawRequest": {APPLICANT, OPERATOR},
    "OpenRound": {OPERATOR},
    "RunRound": {OPERATOR},
    "GetRound": {OPERATOR, ANALYST, APPLICANT},
    "ListRounds": {OPERATOR, ANALYST, APPLICANT},
    "GetPlan": {OPERATOR, ANALYST},
    "Explain": {OPERATOR, ANALYST, APPLICANT},
    "ReplayRound": {OPERATOR, ANALYST},
    "Approve": {OPERATOR},
    "Reject": {OPERATOR},
    "Pin": {OPERATOR},
    "Publish": {OPERATOR},
    "ListAuditEvents": {OPERATOR, ANALYST},
    "ListPublishedRounds": EVERYONE,
    "GetLedgerEntry": EVERYONE,
    "ListExecutions": {OPERATOR, ANALYST, APPLICANT},
}
GATE = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    s = InProcessServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def tokens(server: InProcessServer) -> dict[str, str | None]:
    return {
        APPLICANT: server.token(Role.APPLICANT, org="embl"),
        OPERATOR: server.token(Role.OPERATOR),
        AGENT: server.token(Role.CLUSTER_AGENT, cluster="jsc"),
        ANALYST: server.token(Role.ANALYST),
        PUBLIC: None,
    }


def test_the_table_names_every_rpc_of_the_contract() -> None:
    assert sorted(r.name for r in all_rpcs()) == sorted(WANT_ALLOWED)


@pytest.mark.parametrize("rpc", all_rpcs(), ids=lambda r: r.name)
def test_each_role_meets_the_gate_the_table_sets(
    server: InProcessServer, tokens: dict[str, str | None], rpc: Rpc
) -> None:
    channel = grpc.insecure_channel(server.address)
    got = {}
    for role, bearer in tokens.items():
        got[role] = code_of(lambda b=bearer: rpc.call(channel, rpc.request_type(), auth(b)))
    want = {
        role: ("passes" if role in WANT_ALLOWED[rpc.name] else
               grpc.StatusCode.UNAUTHENTICATED if role == PUBLIC else grpc.StatusCode.PERMISSION_DENIED)
        for role in tokens
    }
    seen = {role: ("passes" if code not in GATE else code) for role, code in got.items()}
    assert seen == want


def _submit(server: InProcessServer, bearer: str, org: str, key: str) -> req.AllocationRequest:
    stubs = server.stubs()
    spec = req.RequestSpec(title="t", org=org, category="research", gpus=1, runtime_slots={"H100": 1},
                           entrypoint="python run.py")
    made: req.AllocationRequest = stubs.requests.SubmitRequest(
        req.SubmitRequestRequest(idempotency_key=key, spec=spec), metadata=auth(bearer))
    return made


@pytest.mark.parametrize(
    "action",
    [
        pytest.param("read", id="another organisation's request is, to an applicant, not found"),
        pytest.param("withdraw", id="an applicant cannot withdraw another organisation's request: not found"),
        pytest.param("amend", id="an applicant cannot amend another organisation's request: not found"),
        pytest.param("list", id="an applicant listing another organisation's requests is refused"),
        pytest.param("submit", id="an applicant submitting in another organisation's name is refused"),
    ],
)
def test_applicants_keep_to_their_own_organisation(server: InProcessServer, action: str) -> None:
    stubs = server.stubs()
    mine, theirs = server.token(Role.APPLICANT, org="org-a"), server.token(Role.APPLICANT, org="org-b")
    other = _submit(server, theirs, "org-b", f"theirs-{action}")
    calls = {
        "read": lambda: stubs.requests.GetRequest(req.GetRequestRequest(request_id=other.request_id),
                                                  metadata=auth(mine)),
        "withdraw": lambda: stubs.requests.WithdrawRequest(
            req.WithdrawRequestRequest(request_id=other.request_id, reason="mine now"), metadata=auth(mine)),
        "amend": lambda: stubs.requests.AmendRequest(
            req.AmendRequestRequest(request_id=other.request_id, spec=other.spec), metadata=auth(mine)),
        "list": lambda: stubs.requests.ListRequests(req.ListRequestsRequest(org="org-b"), metadata=auth(mine)),
        "submit": lambda: _submit(server, mine, "org-b", "forged"),
    }
    hidden = action in ("read", "withdraw", "amend")  # an id another organisation holds reads as unknown
    assert code_of(calls[action]) == (grpc.StatusCode.NOT_FOUND if hidden else grpc.StatusCode.PERMISSION_DENIED)
    after = stubs.requests.GetRequest(req.GetRequestRequest(request_id=other.request_id), metadata=auth(theirs))
    assert after.state == req.REQUEST_STATE_SUBMITTED and after.version == other.version


def test_an_applicant_lists_only_its_own_requests(server: InProcessServer) -> None:
    stubs = server.stubs()
    mine, theirs = server.token(Role.APPLICANT, org="org-c"), server.token(Role.APPLICANT, org="org-d")
    _submit(server, mine, "org-c", "c1")
    _submit(server, theirs, "org-d", "d1")
    listed = stubs.requests.ListRequests(req.ListRequestsRequest(), metadata=auth(mine))
    assert {r.spec.org for r in listed.requests} == {"org-c"}


def test_a_cluster_agent_reports_only_for_its_own_cluster(server: InProcessServer) -> None:
    stubs = server.stubs()
    operator = server.token(Role.OPERATOR)
    for cid in ("own", "other"):
        stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
            cluster_id=cid, country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]),
            metadata=auth(operator))
    agent = server.token(Role.CLUSTER_AGENT, cluster="own")
    beat = inv.InventoryReport(cluster_id="other", heartbeat=inv.Heartbeat())
    assert code_of(lambda: stubs.inventory.ReportInventory(iter([beat]), metadata=auth(agent))) == (
        grpc.StatusCode.PERMISSION_DENIED)
    beat = inv.InventoryReport(cluster_id="own", heartbeat=inv.Heartbeat())
    assert stubs.inventory.ReportInventory(iter([beat]), metadata=auth(agent)).reports == 1


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer alm_tok-nope.secret", id="an unknown token"),
        pytest.param("Bearer not-a-token", id="a malformed token"),
        pytest.param("Basic dXNlcjpwYXNz", id="another scheme"),
    ],
)
def test_bad_credentials_are_unauthenticated_even_for_public_rpcs(server: InProcessServer, header: str) -> None:
    from scheduler.api.gen.allmende.v1 import ledger_pb2 as led

    stubs = server.stubs()
    call = lambda: stubs.ledger.ListPublishedRounds(led.ListPublishedRoundsRequest(),  # noqa: E731
                                                    metadata=[("authorization", header)])
    assert code_of(call) == grpc.StatusCode.UNAUTHENTICATED


def test_merit_comes_from_peer_review_not_from_the_applicant(server: InProcessServer) -> None:
    stubs = server.stubs()
    applicant, operator = server.token(Role.APPLICANT, org="org-m"), server.token(Role.OPERATOR)
    spec = req.RequestSpec(title="t", org="org-m", category="research", gpus=1, runtime_slots={"H100": 1},
                           entrypoint="python run.py", merit=1.0)
    self_scored = lambda: stubs.requests.SubmitRequest(  # noqa: E731
        req.SubmitRequestRequest(idempotency_key="self-scored", spec=spec), metadata=auth(applicant))
    assert code_of(self_scored) == grpc.StatusCode.PERMISSION_DENIED
    made = _submit(server, applicant, "org-m", "unscored")
    scored = stubs.requests.AmendRequest(req.AmendRequestRequest(
        request_id=made.request_id, spec=spec, reason="panel score"), metadata=auth(operator))
    assert scored.spec.merit == 1.0
    raise_own = req.RequestSpec()
    raise_own.CopyFrom(scored.spec)
    raise_own.title = "t2"
    kept = stubs.requests.AmendRequest(req.AmendRequestRequest(
        request_id=made.request_id, spec=raise_own, reason="new title"), metadata=auth(applicant))
    assert kept.spec.merit == 1.0 and kept.spec.title == "t2"
    raise_own.merit = 0.2
    lowered = lambda: stubs.requests.AmendRequest(req.AmendRequestRequest(  # noqa: E731
        request_id=made.request_id, spec=raise_own, reason="mine"), metadata=auth(applicant))
    assert code_of(lowered) == grpc.StatusCode.PERMISSION_DENIED
