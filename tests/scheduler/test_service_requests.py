"""Requests through the Service, without gRPC: submission, who sees what, amendments and withdrawals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from scheduler.states import RequestState
from tests.scheduler.api.harness import T0
from tests.scheduler.service_world import OPERATOR, PAGE, World, applicant, cluster, new_round, run, solved, spec

EMBL, PISA = applicant("embl"), applicant("uni-pisa")


def test_a_retried_submission_returns_the_first_request() -> None:
    async def story(w: World) -> None:
        first = await w.service.submit(EMBL, spec("embl", "fold", idempotency_key="k1"))
        again = await w.service.submit(EMBL, spec("embl", "fold", idempotency_key="k1"))
        assert again == first and first.state == RequestState.SUBMITTED and first.submitted_at == w.clock.now

    run(story)


@pytest.mark.parametrize(
    ("who", "org", "error"),
    [
        pytest.param(EMBL, "uni-pisa", PermissionDenied, id="an applicant submits for another organisation"),
        pytest.param(EMBL, "embl", None, id="an applicant submits for its own organisation"),
        pytest.param(OPERATOR, "uni-pisa", None, id="an operator submits for anyone"),
    ],
)
def test_who_may_submit_for_whom(who: object, org: str, error: type[Exception] | None) -> None:
    async def story(w: World) -> None:
        if error is None:
            assert (await w.service.submit(who, spec(org, "fold"))).org == org  # type: ignore[arg-type]
            return
        with pytest.raises(error):
            await w.service.submit(who, spec(org, "fold"))  # type: ignore[arg-type]
        assert (await w.service.list_requests(OPERATOR, PAGE)).items == []

    run(story)


def test_an_applicant_may_not_score_its_own_merit() -> None:
    async def story(w: World) -> None:
        with pytest.raises(PermissionDenied, match="merit"):
            await w.service.submit(EMBL, spec("embl", "fold", merit=1.0))
        scored = await w.service.submit(OPERATOR, spec("embl", "fold", merit=0.9))
        amended = await w.service.amend(EMBL, scored.id, spec("embl", "fold", gpus=2), "smaller")
        assert (amended.gpus, amended.merit) == (2, 0.9)

    run(story)


def test_an_applicant_lists_and_reads_only_its_own_organisation() -> None:
    async def story(w: World) -> None:
        mine = await w.service.submit(EMBL, spec("embl", "fold"))
        theirs = await w.service.submit(PISA, spec("uni-pisa", "lab"))
        assert [r.id for r in (await w.service.list_requests(EMBL, PAGE)).items] == [mine.id]
        with pytest.raises(PermissionDenied):
            await w.service.list_requests(EMBL, PAGE, org="uni-pisa")
        with pytest.raises(NotFound):  # another organisation's id reads as an unknown one
            await w.service.get_request(EMBL, theirs.id)
        everyone = await w.service.list_requests(OPERATOR, PAGE)
        assert [r.id for r in everyone.items] == [mine.id, theirs.id]
        assert [r.id for r in (await w.service.list_requests(OPERATOR, PAGE, org="uni-pisa")).items] == [theirs.id]

    run(story)


def test_the_listing_filters_by_state_category_and_round() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        taken = await w.service.submit(EMBL, spec("embl", "fold"))
        opened = await w.service.open_round(OPERATOR, new_round())
        await w.service.run_round(OPERATOR, opened.id)  # phase 1 has taken the request when this returns
        left = await w.service.submit(EMBL, spec("embl", "lab"))
        gone = await w.service.submit(EMBL, spec("embl", "old"))
        await w.service.withdraw(EMBL, gone.id, "not needed")

        async def ids(**query: object) -> list[str]:
            return [r.id for r in (await w.service.list_requests(OPERATOR, PAGE, **query)).items]  # type: ignore[arg-type]

        assert await ids(round_id=opened.id) == [taken.id]
        assert await ids(state=RequestState.SUBMITTED) == [left.id]
        assert await ids(state=RequestState.WITHDRAWN) == [gone.id]
        assert await ids(category="teaching") == []

    run(story)


def test_an_amendment_keeps_the_organisation_and_is_audited() -> None:
    async def story(w: World) -> None:
        stored = await w.service.submit(EMBL, spec("embl", "fold", idempotency_key="k1"))
        w.clock.advance(60)
        amended = await w.service.amend(EMBL, stored.id, spec("embl", "fold", gpus=8, slots=3), "bigger")
        assert (amended.gpus, amended.runtime_slots, amended.idempotency_key) == (8, {"H100": 3}, "k1")
        assert amended.version == stored.version + 1 and amended.updated_at == w.clock.now

    run(story)


@pytest.mark.parametrize(
    ("who", "org", "error"),
    [
        pytest.param(PISA, "embl", NotFound, id="another organisation's request is not found to amend"),
        pytest.param(EMBL, "uni-pisa", InvalidInput, id="the request would move to another organisation"),
    ],
)
def test_a_wrong_amendment_is_refused_and_changes_nothing(who: object, org: str, error: type[Exception]) -> None:
    async def story(w: World) -> None:
        stored = await w.service.submit(EMBL, spec("embl", "fold"))
        with pytest.raises(error):
            await w.service.amend(who, stored.id, spec(org, "fold", gpus=8), "")  # type: ignore[arg-type]
        assert await w.service.get_request(OPERATOR, stored.id) == stored

    run(story)


def test_a_request_in_a_round_can_no_longer_be_amended() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        stored = await w.service.submit(EMBL, spec("embl", "fold"))
        opened = await w.service.open_round(OPERATOR, new_round())
        await w.service.run_round(OPERATOR, opened.id)
        with pytest.raises(PolicyViolation, match="only until it enters a round"):
            await w.service.amend(EMBL, stored.id, spec("embl", "fold", gpus=8), "")

    run(story)


def test_a_withdrawal_is_final_and_only_the_owner_withdraws() -> None:
    async def story(w: World) -> None:
        stored = await w.service.submit(EMBL, spec("embl", "fold"))
        with pytest.raises(NotFound):
            await w.service.withdraw(PISA, stored.id, "")
        gone = await w.service.withdraw(EMBL, stored.id, "not needed")
        assert gone.state == RequestState.WITHDRAWN
        with pytest.raises(NotFound):
            await w.service.withdraw(EMBL, "req-missing", "")

    run(story)


def test_a_request_outside_the_rounds_waits_saying_why_until_a_round_holds_its_window() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        later = spec("embl", "later", hours=1.5, earliest=T0 + timedelta(hours=6))  # rounds: 4 hourly slots from T0
        made = await w.service.submit(applicant("embl"), later)
        await solved(w)
        second = await solved(w)  # a second round leaves it out too: the latest one is named
        waiting = await w.service.get_request(OPERATOR, made.id)
        assert waiting.state == RequestState.SUBMITTED
        assert waiting.waiting == (f"waits: its window opens {T0 + timedelta(hours=6):%Y-%m-%d %H:%M} UTC, after "
                                   f"this round's horizon ends {T0 + timedelta(hours=4):%Y-%m-%d %H:%M} UTC "
                                   f"(round {second})")
        log = (await w.service.audit(OPERATOR, f"request/{made.id}", PAGE)).items
        assert [e.action for e in log] == ["submit", "left_out", "left_out"]  # each round that left it out, audited

        amended = await w.service.amend(applicant("embl"), made.id, later.model_copy(
            update={"earliest": T0 + timedelta(minutes=30)}), "earlier")
        assert amended.waiting == ""  # the next round judges the new window afresh
        taken = await solved(w)
        got = await w.service.get_request(OPERATOR, made.id)
        assert (got.state, got.round_id, got.waiting) == (RequestState.IN_ROUND, taken, "")
        problem = (await w.service.get_round(OPERATOR, taken))[0].problem
        assert problem is not None
        (asked,) = problem.requests
        assert (asked.runtime_slots, asked.earliest_slot, asked.deadline_slot) == ({"H100": 2}, 1, 4)

    run(story)
