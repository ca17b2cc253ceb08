"""Item 5: a repeated call with the same outcome is a no-op: the record untouched, no new audit entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from tests.scheduler.adversarial.conftest import World


def published(world: World) -> tuple[str, Callable[[], Any]]:
    world.submit("a")
    round_id = world.proposed_round(research=1.0)
    world.stubs.review.Approve(rev.ApproveRequest(round_id=round_id, reason="fits"), metadata=world.operator)
    again = lambda: world.stubs.review.Publish(rev.PublishRequest(round_id=round_id, reason="weekly"),  # noqa: E731
                                               metadata=world.operator)
    again()
    return round_id, again


def approved(world: World) -> tuple[str, Callable[[], Any]]:
    world.submit("a")
    round_id = world.proposed_round(research=1.0)
    again = lambda: world.stubs.review.Approve(rev.ApproveRequest(round_id=round_id, reason="fits"),  # noqa: E731
                                               metadata=world.operator)
    again()
    return round_id, again


def withdrawn(world: World) -> tuple[str, Callable[[], Any]]:
    request_id = world.submit("a").request_id
    again = lambda: world.stubs.requests.WithdrawRequest(  # noqa: E731
        req.WithdrawRequestRequest(request_id=request_id, reason="not needed"), metadata=world.applicant)
    again()
    return request_id, again


@pytest.mark.parametrize("first", [
    pytest.param(published, id="publishing twice keeps the public date"),
    pytest.param(approved, id="approving an approved round"),
    pytest.param(withdrawn, id="withdrawing a withdrawn request"),
])
def test_a_repeated_call_is_a_no_op(first: Callable[[World], tuple[str, Callable[[], Any]]], world: World) -> None:
    subject, again = first(world)
    before = world.audit(subject)
    answer = again()
    after = world.audit(subject)
    assert [e.seq for e in after] == [e.seq for e in before], "no new audit entry"
    assert answer.version == again().version, "the record is left as it is"


def test_another_outcome_on_a_published_round_is_failed_precondition(world: World) -> None:
    round_id, _ = published(world)
    with pytest.raises(grpc.RpcError) as err:
        world.stubs.review.Reject(rev.RejectRequest(round_id=round_id, reason="too late"), metadata=world.operator)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
