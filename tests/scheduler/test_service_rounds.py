"""A round through the Service, without gRPC: run, review, pin, publish, explain, replay and recover.

One cluster of 8 H100 over 4 slots and three requests: ``fold`` and ``lab`` fit one after
the other, ``huge`` asks for more GPUs than the cluster has and is rejected by the solver.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from scheduler import phases
from scheduler.access import Principal
from scheduler.errors import InvalidTransition, NotFound, PolicyViolation
from scheduler.states import AllocationState, RequestState, RoundState
from solver.problem import Pin
from tests.scheduler.service_world import OPERATOR, PAGE, World, applicant, cluster, new_round, run, solved, spec

EMBL, PISA = applicant("embl"), applicant("uni-pisa")


async def proposed(w: World) -> tuple[str, dict[str, str]]:
    """The round solved and proposed; its id and the request ids by title."""
    await w.service.register_cluster(OPERATOR, cluster("jsc"))
    ids = {
        "fold": (await w.service.submit(EMBL, spec("embl", "fold", gpus=8))).id,
        "lab": (await w.service.submit(PISA, spec("uni-pisa", "lab", gpus=8))).id,
        "huge": (await w.service.submit(EMBL, spec("embl", "huge", gpus=16))).id,
    }
    return await solved(w), ids


async def states(w: World, round_id: str) -> dict[str, AllocationState]:
    _, allocations = await w.service.get_round(OPERATOR, round_id)
    standing = [a for a in allocations if a.state != AllocationState.SUPERSEDED]
    return {a.request_id: a.state for a in standing}


async def request_states(w: World, ids: dict[str, str]) -> dict[str, RequestState]:
    return {title: (await w.service.get_request(OPERATOR, rid)).state for title, rid in ids.items()}


def test_a_run_proposes_a_plan_and_takes_the_requests_into_the_round() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        record, _ = await w.service.get_round(OPERATOR, round_id)
        assert record.state == RoundState.PROPOSED and record.ortools_version == phases.ORTOOLS_VERSION
        assert await states(w, round_id) == {ids["fold"]: AllocationState.PROPOSED,
                                             ids["lab"]: AllocationState.PROPOSED}
        assert set((await request_states(w, ids)).values()) == {RequestState.IN_ROUND}
        live = w.service.round_run(round_id)
        assert live is not None and (live.phase, live.fraction, live.error) == ("done", 1.0, None)
        assert w.service.round_run("round-elsewhere") is None

    run(story)


def test_a_proposed_round_is_not_run_again() -> None:
    async def story(w: World) -> None:
        round_id, _ = await proposed(w)
        before = await w.service.get_round(OPERATOR, round_id)
        with pytest.raises(PolicyViolation, match="only an open or failed round is run"):
            await w.service.run_round(OPERATOR, round_id)
        assert await w.service.get_round(OPERATOR, round_id) == before

    run(story)


@pytest.mark.parametrize(
    ("approve", "reject", "want"),
    [
        pytest.param(["fold"], [], {"fold": AllocationState.APPROVED, "lab": AllocationState.PROPOSED},
                     id="one allocation approved, the other still under review"),
        pytest.param(["fold"], ["lab"], {"fold": AllocationState.APPROVED, "lab": AllocationState.REJECTED},
                     id="one approved and one rejected by name"),
    ],
)
def test_single_verdicts_leave_the_round_proposed(approve: Sequence[str], reject: Sequence[str],
                                                  want: dict[str, AllocationState]) -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        if approve:
            await w.service.approve(OPERATOR, round_id, [ids[t] for t in approve], "ok")
        if reject:
            await w.service.reject(OPERATOR, round_id, [ids[t] for t in reject], "no")
        assert (await w.service.get_round(OPERATOR, round_id))[0].state == RoundState.PROPOSED
        assert await states(w, round_id) == {ids[t]: s for t, s in want.items()}

    run(story)


def test_a_verdict_naming_an_unknown_allocation_changes_nothing() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        before = await w.service.get_round(OPERATOR, round_id)
        with pytest.raises(NotFound):
            await w.service.approve(OPERATOR, round_id, [ids["fold"], ids["huge"]], "ok")
        assert await w.service.get_round(OPERATOR, round_id) == before

    run(story)


def test_a_rejected_round_returns_its_requests_to_the_pool() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        record = await w.service.reject(OPERATOR, round_id, [], "wrong shares")
        assert record.state == RoundState.REJECTED
        assert set((await states(w, round_id)).values()) == {AllocationState.REJECTED}
        assert set((await request_states(w, ids)).values()) == {RequestState.SUBMITTED}
        with pytest.raises(PolicyViolation, match="only while it is proposed"):
            await w.service.approve(OPERATOR, round_id, [ids["fold"]], "too late")

    run(story)


def test_publishing_settles_every_request_and_fills_the_ledger() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        await w.service.reject(OPERATOR, round_id, [ids["lab"]], "not this time")
        with pytest.raises(NotFound):
            await w.service.ledger_entry(round_id)  # not public before it is published
        await w.service.approve(OPERATOR, round_id, [], "ok")
        record = await w.service.publish(OPERATOR, round_id, "weekly")
        assert record.state == RoundState.PUBLISHED
        assert await request_states(w, ids) == {"fold": RequestState.ALLOCATED, "lab": RequestState.REJECTED,
                                                "huge": RequestState.REJECTED}
        entry = await w.service.ledger_entry(round_id)
        assert [a.request_id for a in entry.allocations] == [ids["fold"]]
        entries, cursor = await w.service.ledger_entries(PAGE)
        assert [e.round_id for e in entries] == [round_id] and cursor is None

    run(story)


def test_a_round_is_published_only_once_approved() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        with pytest.raises(InvalidTransition):
            await w.service.publish(OPERATOR, round_id, "too early")
        assert set((await request_states(w, ids)).values()) == {RequestState.IN_ROUND}

    run(story)


def test_a_pin_holds_its_assignment_and_the_rest_is_solved_again() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        _, allocations = await w.service.get_round(OPERATOR, round_id)
        lab = next(a for a in allocations if a.request_id == ids["lab"])
        slot = 2 if lab.start_slot == 0 else 0
        record = await w.service.pin(OPERATOR, lab_pin(ids, slot), round_id, "lab first")
        assert record.state == RoundState.PROPOSED
        _, allocations = await w.service.get_round(OPERATOR, round_id)
        held = {a.request_id: a for a in allocations if a.state in (AllocationState.PINNED, AllocationState.PROPOSED)}
        assert (held[ids["lab"]].state, held[ids["lab"]].start_slot, held[ids["lab"]].pinned) == (
            AllocationState.PINNED, slot, True)
        assert held[ids["fold"]].start_slot != slot
        assert AllocationState.SUPERSEDED in {a.state for a in allocations}

    run(story)


def test_a_pin_that_breaks_a_rule_is_refused_and_changes_nothing() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        before = await w.service.get_round(OPERATOR, round_id)
        with pytest.raises(PolicyViolation):
            await w.service.pin(OPERATOR, lab_pin(ids, 3), round_id, "past the horizon")
        assert await w.service.get_round(OPERATOR, round_id) == before

    run(story)


@pytest.mark.parametrize(
    ("title", "who", "assigned"),
    [
        pytest.param("fold", EMBL, True, id="an applicant sees its own assignment"),
        pytest.param("huge", EMBL, False, id="an applicant learns why its request got nothing"),
        pytest.param("huge", OPERATOR, False, id="an operator reads any explanation"),
    ],
)
def test_explanations(title: str, who: Principal, assigned: bool) -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        why = await w.service.explain(who, round_id, ids[title])
        assert (why.assignment is not None) == assigned
        if not assigned:
            assert why.reason and why.reason != "rejected_in_review"

    run(story)


def test_an_explanation_is_private_to_the_organisation() -> None:
    async def story(w: World) -> None:
        round_id, ids = await proposed(w)
        with pytest.raises(NotFound):  # as an unknown id, so that ids reveal nothing
            await w.service.explain(PISA, round_id, ids["huge"])
        with pytest.raises(NotFound):
            await w.service.explain(OPERATOR, round_id, "req-not-in-round")

    run(story)


def test_a_replay_of_a_deterministic_round_finds_no_difference() -> None:
    async def story(w: World) -> None:
        round_id, _ = await proposed(w)
        replay = await w.service.replay(OPERATOR, round_id)
        assert replay.differences == [] and replay.current_ortools_version == replay.stored_ortools_version

    run(story)


def test_a_round_left_solving_fails_on_recovery_and_frees_its_requests() -> None:
    async def story(w: World) -> None:
        await w.service.register_cluster(OPERATOR, cluster("jsc"))
        fold = await w.service.submit(EMBL, spec("embl", "fold"))
        opened = await w.service.open_round(OPERATOR, new_round())
        w.store.write(lambda t: phases.snapshot(t, OPERATOR, opened.id, "", w.clock()))  # a server died here
        assert await w.service.recover() == [opened.id]
        record, _ = await w.service.get_round(OPERATOR, opened.id)
        assert record.state == RoundState.FAILED and record.error == "the service stopped during the solve"
        assert (await w.service.get_request(OPERATOR, fold.id)).state == RequestState.SUBMITTED
        assert await w.service.recover() == []
        await w.service.run_round(OPERATOR, opened.id)  # a failed round may run again

    run(story)


def lab_pin(ids: dict[str, str], slot: int) -> Pin:
    return Pin(request=ids["lab"], cluster="jsc", gpu_type="H100", start_slot=slot)
