"""Item 1: an applicant's text is shown as written, never read as terminal markup or escape sequences."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import ledger_pb2 as led
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.cli import tables
from tests.scheduler.adversarial.conftest import World, spec

HOSTILE = "[/oops] Cancer research \x1b[2J\u202e"


def request() -> Any:
    return req.AllocationRequest(request_id="req-1", spec=spec(title=HOSTILE))


def ledger_entry() -> Any:
    return led.LedgerEntry(round_id="round-1", allocations=[
        led.PublicAllocation(request_id="req-1", title=HOSTILE, org="embl", category="research")])


def audit_event() -> Any:
    return common.AuditEvent(seq=1, actor="embl", action="withdraw", subject_kind="request", subject_id="req-1",
                          reason=HOSTILE, detail_json='{"title": "[bold]x[/bold]"}')


def plan() -> Any:
    return rnd.Plan(rejections=[rnd.Rejection(request_id="req-1", reason="no_eligible_cluster", detail=HOSTILE)])


@pytest.mark.parametrize("render", [
    pytest.param(lambda: tables.requests([request()]), id="request list shows a title that closes a tag"),
    pytest.param(lambda: tables.ledger_entry(ledger_entry()), id="the public ledger shows the same title"),
    pytest.param(lambda: tables.audit([audit_event()]), id="audit shows a withdrawal reason with markup"),
    pytest.param(lambda: tables.plan(plan()), id="round show prints a rejection detail as written"),
])
def test_user_text_is_printed_literally_with_controls_made_visible(render: Callable[[], None],
                                                                   screen: io.StringIO) -> None:
    render()
    shown = screen.getvalue()
    assert "[/oops] Cancer research" in shown
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "\\x1b[2J" in shown and "\\u202e" in shown


@pytest.mark.parametrize(("call", "named"), [
    pytest.param(lambda w: w.submit("k1", title="Cancer research\x1b[2J"), "control character U+001B at position 15",
                 id="a title with an escape sequence"),
    pytest.param(lambda w: w.submit("k2", title="line one\nline two"), "control character U+000A",
                 id="a title with a line break"),
    pytest.param(lambda w: w.submit("k3", title="abc\u202edcba"), "direction override U+202E",
                 id="a title with a direction override"),
    pytest.param(lambda w: w.stubs.requests.WithdrawRequest(req.WithdrawRequestRequest(
        request_id=w.submit("ok", title="fine").request_id, reason="gone\x1b]0;pwned\x07"), metadata=w.applicant),
        "control character U+001B", id="a withdrawal reason with a terminal title sequence"),
])
def test_control_characters_are_refused_at_intake(call: Callable[[World], Any], named: str, world: World) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(world)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in (err.value.details() or "")
    listed = world.stubs.requests.ListRequests(req.ListRequestsRequest(), metadata=world.operator).requests
    assert all(r.spec.title == "fine" and r.state == req.REQUEST_STATE_SUBMITTED for r in listed)


def test_markup_in_a_title_is_accepted_and_stored_as_written(world: World) -> None:
    made = world.submit("markup", title="[/oops] Cancer research")
    assert made.spec.title == "[/oops] Cancer research"
