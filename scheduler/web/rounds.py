"""Rounds: the list, and the round review page (``round_review``, which the review work fills in)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler.web.context import console
from scheduler.web.gate import caller
from scheduler.web.pages import page_request, render


async def rounds_list(request: Request) -> Response:
    who = await caller(request, "RoundService/ListRounds")
    found = await console(request).service.list_rounds(who, None, page_request(request))
    return render(request, "rounds.html", title="Rounds", rounds=found.items, next_cursor=found.next_cursor)


async def round_review(request: Request) -> Response:
    """The review page of one round; for now its id and state, so that links to it work.

    Applicants may call ``GetRound`` (the round's state) but not ``GetPlan``: what the plan holds (every
    organisation's allocations) belongs behind ``caller(request, "RoundService/GetPlan")`` or ``may(...)``.
    """
    who = await caller(request, "RoundService/GetRound")
    record, _held = await console(request).service.get_round(who, request.path_params["round_id"])
    return render(request, "round.html", title=f"Round {record.id}", round=record)


ROUTES = [
    Route("/rounds", rounds_list),
    Route("/rounds/{round_id}", round_review),
]
