"""The audit trail and authentication through the Service, without gRPC.

Every write leaves one entry naming who did what, when (by the injected clock) and why; a
refused write leaves none.  Page tokens are the store's cursors: the edge checks them with
``known_cursor`` before any read.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler.access import Principal
from scheduler.domain import Change, Role
from scheduler.errors import NotFound, PermissionDenied, Unauthenticated
from scheduler.service import known_cursor
from scheduler.store import PageRequest
from tests.scheduler.api.harness import T0
from tests.scheduler.service_world import OPERATOR, PAGE, World, applicant, cluster, run, solved, spec

EMBL = applicant("embl")


def test_a_round_leaves_its_story_in_the_audit_log() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"), "new site")
        await w.service.submit(EMBL, spec("embl", "fold"))
        w.clock.advance(3600)
        round_id = await solved(w)
        await w.service.approve(OPERATOR, round_id, [], "looks fair")
        await w.service.publish(OPERATOR, round_id, "weekly")
        trail = (await w.service.audit(OPERATOR, f"round/{round_id}", PAGE)).items
        assert [(e.action, e.actor, e.before, e.after) for e in trail] == [
            ("open", "ops", None, "open"),
            ("run", "ops", "open", "solving"),
            ("solved", "allmende", "solving", "proposed"),
            ("approve", "ops", "proposed", "approved"),
            ("publish", "ops", "approved", "published"),
        ]
        assert trail[-2].reason == "looks fair" and trail[-1].role == Role.OPERATOR
        assert {e.at for e in trail} == {T0 + timedelta(hours=1)}

    run(story)


def test_a_refused_write_leaves_no_entry() -> None:
    async def story(w: World) -> None:
        stored = await w.service.submit(EMBL, spec("embl", "fold"))
        before = (await w.service.audit(OPERATOR, None, PAGE)).items
        with pytest.raises(NotFound):
            await w.service.withdraw(applicant("uni-pisa"), stored.id, "not mine")
        with pytest.raises(PermissionDenied, match="only read the ledger"):
            await w.service.submit(Principal(id="public", role=None), spec("embl", "lab"))
        assert (await w.service.audit(OPERATOR, None, PAGE)).items == before

    run(story)


def test_the_log_pages_with_tokens_the_edge_accepts() -> None:
    async def story(w: World) -> None:
        for i in range(5):
            await w.service.submit(EMBL, spec("embl", f"job{i}"))
        first = await w.service.audit(OPERATOR, None, PageRequest(limit=3))
        assert first.next_cursor is not None and known_cursor(first.next_cursor)
        rest = await w.service.audit(OPERATOR, None, PageRequest(limit=3, cursor=first.next_cursor))
        assert [e.seq for e in first.items + rest.items] == [1, 2, 3, 4, 5] and rest.next_cursor is None

    run(story)


@pytest.mark.parametrize("token", [
    pytest.param("not-a-cursor", id="a forged token"),
    pytest.param("c2VxOng", id="a cursor whose seq is no number"),
])
def test_a_forged_page_token_is_not_known(token: str) -> None:
    assert not known_cursor(token)


def test_authentication_goes_through_the_service() -> None:
    async def story(w: World) -> None:
        by = Change(actor="test", role=Role.SYSTEM, at=T0, action="issue_token")
        issued = w.store.write(lambda t: t.create_token(Role.APPLICANT, by=by, org="embl", name="embl-app"))
        token = await w.service.authenticate(issued.bearer)
        assert (token.role, token.org) == (Role.APPLICANT, "embl")
        with pytest.raises(Unauthenticated):
            await w.service.authenticate(issued.bearer[:-2] + "xx")
        with pytest.raises(Unauthenticated):
            await w.service.authenticate("Bearer nonsense")

    run(story)
