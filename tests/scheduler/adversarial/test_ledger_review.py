"""Item 4: the public ledger's fairness figures are those of the approved plan, not the solver's."""

from __future__ import annotations

from scheduler.api.gen.allmende.v1 import ledger_pb2 as led
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from tests.scheduler.adversarial.conftest import World


def test_rejecting_a_categorys_only_allocation_shows_in_min_attainment_and_jain(world: World) -> None:
    world.submit("science", title="Climate model", category="research")
    education = world.submit("teaching", title="Course lab", category="education").request_id
    round_id = world.proposed_round(research=0.5, education=0.5)
    plan = world.stubs.rounds.GetPlan(rnd.GetPlanRequest(round_id=round_id), metadata=world.operator)
    assert len(plan.assignments) == 2 and plan.metrics.min_attainment == 1.0
    world.stubs.review.Reject(rev.RejectRequest(round_id=round_id, request_ids=[education], reason="out of scope"),
                              metadata=world.operator)
    world.stubs.review.Approve(rev.ApproveRequest(round_id=round_id, reason="the rest fits"), metadata=world.operator)
    world.stubs.review.Publish(rev.PublishRequest(round_id=round_id, reason="weekly"), metadata=world.operator)
    entry = world.stubs.ledger.GetLedgerEntry(led.GetLedgerEntryRequest(round_id=round_id))
    assert entry.by_category["education"].gpu_hours == 0.0
    assert entry.min_attainment == 0.0, "education got nothing of its fair share"
    assert entry.jain == 0.5, "one of two categories served: (1 + 0)^2 / (2 * (1 + 0))"
