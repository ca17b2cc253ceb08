"""Requests: an applicant's own organisation's (the service enforces it), or every organisation's for staff.

Each request shows its state and round; its page shows the explanation the API's ``Explain`` gives
(the allocation it holds, or the solver's reason and the smallest change that would have placed it),
and, while no round has taken it, a form to withdraw it with a reason.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scheduler import text
from scheduler.errors import InvalidInput
from scheduler.service import Explanation
from scheduler.states import RequestState
from scheduler.web.context import console
from scheduler.web.csrf import checked_form
from scheduler.web.gate import caller, may
from scheduler.web.pages import page_request, render

EXPLAINED = frozenset({RequestState.ALLOCATED, RequestState.REJECTED})  # the round is decided


def state_filter(request: Request) -> RequestState | None:
    asked = request.query_params.get("state") or None
    if asked is None:
        return None
    try:
        return RequestState(asked)
    except ValueError:
        raise InvalidInput("state", f"{asked!r} is not one of {', '.join(s.value for s in RequestState)}") from None


async def requests_page(request: Request) -> Response:
    who = await caller(request, "RequestService/ListRequests")
    org = request.query_params.get("org") or None
    state = state_filter(request)
    found = await console(request).service.list_requests(who, page_request(request), org=org, state=state)
    heading = f"Requests of {who.org}" if who.is_applicant else ("Requests of " + org if org else "All requests")
    return render(request, "requests.html", title=heading, heading=heading, requests=found.items,
                  round_links=await may(request, "RoundService/GetRound"),
                  next_cursor=found.next_cursor, org=org or "", state=state.value if state else "",
                  states=[s.value for s in RequestState])


async def request_page(request: Request) -> Response:
    who = await caller(request, "RequestService/GetRequest")
    service = console(request).service
    record = await service.get_request(who, request.path_params["request_id"])
    explanation: Explanation | None = None
    if record.round_id is not None and record.state in EXPLAINED and await may(request, "RoundService/Explain"):
        explanation = await service.explain(who, record.round_id, record.id)
    return render(request, "request.html", title=record.title, record=record, explanation=explanation,
                  withdrawable=record.state == RequestState.SUBMITTED, max_reason=text.MAX_REASON)


async def withdraw(request: Request) -> Response:
    form = await checked_form(request)
    who = await caller(request, "RequestService/WithdrawRequest")
    reason = text.reason(str(form.get("reason", "")))  # the console asks why, by the API's rule for reasons
    record = await console(request).service.withdraw(who, request.path_params["request_id"], reason)
    return RedirectResponse(f"/requests/{record.id}", status_code=303)


ROUTES = [
    Route("/requests", requests_page),
    Route("/requests/{request_id}", request_page),
    Route("/requests/{request_id}/withdraw", withdraw, methods=["POST"]),
]
