"""The round review page and its actions over HTTP: the console app on a real Service, called through httpx.

Each story gets a fresh service (memory store, thread solver) with two clusters, a handful of
requests and one solved round, and clients logged in the way a browser logs in: the login form's
CSRF token, then the token posted once.  Every action is checked for what it changes (the round,
its allocations, the audit log) and, when refused, for changing nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from scheduler import phases
from scheduler.access import Principal
from scheduler.api.auth import allowed
from scheduler.domain import AuditEntry, RequestSpec, Role
from scheduler.service import NewRound, Service
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.states import AllocationState, RoundState
from scheduler.store import AuditQuery, PageRequest, Repository, open_store
from scheduler.web.app import create_app
from solver.params import SolveParams
from solver.problem import Horizon, PolicyConfig
from tests.scheduler.api.harness import T0, ManualClock
from tests.scheduler.service_world import OPERATOR, cluster

XSS = "<script>alert(1)</script>"


@dataclass
class Console:
    service: Service
    store: Repository
    round_id: str
    operator: httpx.AsyncClient
    applicant: httpx.AsyncClient
    anonymous: httpx.AsyncClient

    async def round(self) -> tuple[Any, list[Any]]:
        return await self.service.get_round(OPERATOR, self.round_id)

    def audit(self) -> list[AuditEntry]:
        return self.store.read(lambda r: r.list_audit(AuditQuery(), PageRequest(limit=1000)).items)


def spec(org: str, title: str, gpus: int, slots: int = 2, category: str = "research") -> RequestSpec:
    return RequestSpec(org=org, title=title, category=category, gpus=gpus, runtime_slots={"H100": slots},
                       entrypoint="python train.py")


def token(store: Repository, role: Role, name: str, org: str | None = None) -> str:
    by = OPERATOR.change("token", T0)
    return store.write(lambda t: t.create_token(role, by=by, org=org, name=name)).bearer


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, f"no CSRF field on {path}: {page.status_code}"
    return found.group(1)


async def logged_in(client: httpx.AsyncClient, bearer: str) -> httpx.AsyncClient:
    done = await client.post("/login", data={"token": bearer, "csrf": await csrf_of(client, "/login"), "next": "/"})
    assert done.status_code == 303, done.text
    return client


@asynccontextmanager
async def console(requests: list[RequestSpec] | None = None, *, solve: bool = True,
                  shares: dict[str, float] | None = None) -> AsyncIterator[Console]:
    store = open_store("memory://")
    service = Service(store, Settings(solver_executor="thread"), clock=ManualClock(), runner=SolverRunner("thread"))
    try:
        for name in ("alpha", "beta"):
            await service.register_cluster(OPERATOR, cluster(name, count=8, power_cap_kw=4.9))
        for s in requests if requests is not None else default_requests():
            await service.submit(Principal(id=f"{s.org}-app", role=Role.APPLICANT, org=s.org), s)
        params = SolveParams(time_limit_s=5, workers=1, seed=0, deterministic=True)
        opened = await service.open_round(OPERATOR, NewRound(
            horizon=Horizon(start=T0, slots=6), objective="fair",
            policy=PolicyConfig(category_shares=shares or {"research": 0.7, "teaching": 0.3}), params=params))
        if solve:
            run = await service.run_round(OPERATOR, opened.id, "first solve")
            await asyncio.wait_for(run.done.wait(), 60)
            assert run.error is None, run.error
        app = create_app(service, allowed)
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")
                   for _ in range(3)]
        try:
            yield Console(service, store, opened.id,
                          await logged_in(clients[0], token(store, Role.OPERATOR, "olga-operator")),
                          await logged_in(clients[1], token(store, Role.APPLICANT, "uni-applicant", org="uni")),
                          clients[2])
        finally:
            for c in clients:
                await c.aclose()
    finally:
        await service.close()
        store.close()


def default_requests() -> list[RequestSpec]:
    """More than fits: 2 clusters × 8 GPUs × 6 slots = 96 GPU-slots against 124 asked."""
    return [spec("uni", f"protein folding {i}", 4, 2) for i in range(6)] + \
           [spec("school", f"course lab {i}", 2, 3, "teaching") for i in range(4)] + \
           [spec("uni", XSS, 8, 4), spec("startup", "whole cluster for a week", 8, 6, "industry")]


def run(story: Callable[..., Coroutine[Any, Any, None]], **kw: Any) -> None:
    async def main() -> None:
        async with console(**kw) as c:
            await story(c)

    asyncio.run(main())


async def post(client: httpx.AsyncClient, c: Console, action: str, csrf: str | None = "page",
               **fields: str) -> httpx.Response:
    data = dict(fields)
    if csrf == "page":
        data["csrf"] = await csrf_of(c.operator, f"/rounds/{c.round_id}")
    elif csrf is not None:
        data["csrf"] = csrf
    return await client.post(f"/rounds/{c.round_id}/{action}", data=data)


# -- the page ------------------------------------------------------------------------------------


def test_the_page_shows_the_plan_figures_charts_rejections_and_audit() -> None:
    async def story(c: Console) -> None:
        page = await c.operator.get(f"/rounds/{c.round_id}")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        html = page.text
        record, held = await c.round()
        assert record.plan.rejected, "the world should leave some requests out"
        for a in held:
            assert a.request_id in html
        assert "protein folding 0" in table(html) and "course lab 3" in table(html)  # titles of the rows shown
        for x in record.plan.rejected:
            assert x.request in html and x.detail.replace("'", "&#39;") in html
        for label in ("value", "bound", "gap", "wasted", "justified complaints", "level spread", "min attainment",
                      "Jain&#39;s index"):
            assert f'<div class="what">{label}</div>' in html
        assert html.count('<svg class="gantt"') == 2  # one per cluster
        assert "Energy per slot, alpha" in html and "power cap × slot × PUE" in html
        assert "the category&#39;s share" in html and "industry" in html
        assert re.search(r"<strong>run</strong>.*first solve", html, re.S)  # the audit trail, with the reason
        assert '<script src="/static/review.js" defer>' in html and "<script>" not in html

    run(story)


def test_a_malicious_title_shows_as_text() -> None:
    async def story(c: Console) -> None:
        html = (await c.operator.get(f"/rounds/{c.round_id}?q=alert")).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert XSS not in html

    run(story)


def test_a_title_search_still_finds_the_request_after_a_verdict() -> None:
    async def story(c: Console) -> None:
        assert "course lab 2" in table((await c.operator.get(f"/rounds/{c.round_id}?q=lab+2")).text)
        assert (await post(c.operator, c, "approve", reason="fine")).status_code == 303  # a new round version
        found = table((await c.operator.get(f"/rounds/{c.round_id}?q=lab+2&sort=title")).text)
        assert "course lab 2" in found and "course lab 1" not in found

    run(story)


def test_a_share_zero_category_shows_a_dash() -> None:
    async def story(c: Console) -> None:
        html = (await c.operator.get(f"/rounds/{c.round_id}")).text
        row = re.search(r"</svg> industry</td>(.*?)</tr>", html, re.S)
        assert row is not None
        cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
        assert cells[0] == "—" and cells[-2:] == ["—", "—"]  # share, attainment, level

    run(story)


def table(html: str) -> str:
    """The plan table alone (the Gantt charts name the requests too)."""
    return html.split('id="plan-table"')[1].split("</table>")[0]


@pytest.mark.parametrize(("query", "status", "check"), [
    pytest.param("?sort=-gpus", 200, lambda h: table(h).index("whole cluster") < table(h).index("course lab 0"),
                 id="sorted by GPUs, largest first"),
    pytest.param("?q=course+lab", 200, lambda h: "course lab 3" in table(h) and "protein folding" not in table(h),
                 id="filtered by title"),
    pytest.param("?q=no+such+thing", 200, lambda h: "No rows" in h, id="a filter that matches nothing"),
    pytest.param("?sort=secret", 400, lambda h: "sort: &#39;secret&#39; is not a column" in h.lower(),
                 id="an unknown column is a clear error"),
    pytest.param("?page=2", 400, lambda h: "page 2 does not exist: there is 1" in h, id="a page past the last"),
    pytest.param("?page=abc", 400, lambda h: "is not a page number" in h, id="a page that is not a number"),
])
def test_paging_sorting_and_filtering(query: str, status: int, check: Callable[[str], bool]) -> None:
    async def story(c: Console) -> None:
        page = await c.operator.get(f"/rounds/{c.round_id}{query}")
        assert page.status_code == status
        assert check(page.text)

    run(story)


def test_a_round_larger_than_a_page_is_paged_on_the_server() -> None:
    many = [spec(f"org{i % 7}", f"sweep {i:03d}", 1, 1) for i in range(230)]

    async def story(c: Console) -> None:
        first = (await c.operator.get(f"/rounds/{c.round_id}")).text
        second = (await c.operator.get(f"/rounds/{c.round_id}?page=2")).text
        assert "Rows 1–200 of 230" in first and "Rows 201–230 of 230" in second
        assert table(first).count("<tr") - table(second).count("<tr") == 200 - 30
        assert "page=2&amp;sort=request" in first  # the pager keeps the sort and the query

    run(story, requests=many, shares={"research": 1.0})


def test_the_public_and_applicants_cannot_open_the_review_page() -> None:
    async def story(c: Console) -> None:
        anonymous = await c.anonymous.get(f"/rounds/{c.round_id}")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
        assert (await c.applicant.get(f"/rounds/{c.round_id}")).status_code == 403

    run(story)


def test_unknown_round_is_a_404() -> None:
    async def story(c: Console) -> None:
        assert (await c.operator.get("/rounds/round-nope")).status_code == 404

    run(story)


# -- the actions ---------------------------------------------------------------------------------


def test_approve_then_publish_lands_in_the_audit_log_under_the_operator() -> None:
    async def story(c: Console) -> None:
        done = await post(c.operator, c, "approve", reason="plan checked against the brief")
        assert done.status_code == 303 and done.headers["location"].endswith("?done=approve#actions")
        assert (await c.round())[0].state == RoundState.APPROVED
        done = await post(c.operator, c, "publish", reason="board signed off")
        assert done.status_code == 303
        record, held = await c.round()
        assert record.state == RoundState.PUBLISHED
        assert {a.state for a in held} == {AllocationState.APPROVED}
        mine = [(e.action, e.reason) for e in c.audit()
                if e.actor == "olga-operator" and e.subject.startswith("round/")]
        assert mine == [("approve", "plan checked against the brief"), ("publish", "board signed off")]
        html = (await c.operator.get(done.headers["location"])).text
        assert "board signed off" in html and "on the public ledger" in html

    run(story)


def test_approve_and_reject_single_requests() -> None:
    async def story(c: Console) -> None:
        _, held = await c.round()
        first, second = sorted(a.request_id for a in held)[:2]
        assert (await post(c.operator, c, "approve", requests=first, reason="fits")).status_code == 303
        assert (await post(c.operator, c, "reject", requests=f" {second}, ", reason="duplicate")).status_code == 303
        record, held = await c.round()
        states = {a.request_id: a.state for a in held}
        assert record.state == RoundState.PROPOSED
        assert (states[first], states[second]) == (AllocationState.APPROVED, AllocationState.REJECTED)

    run(story)


def test_reject_the_whole_round() -> None:
    async def story(c: Console) -> None:
        assert (await post(c.operator, c, "reject", reason="wrong horizon")).status_code == 303
        assert (await c.round())[0].state == RoundState.REJECTED

    run(story)


def test_pin_re_solves_around_the_pinned_allocation() -> None:
    async def story(c: Console) -> None:
        record, held = await c.round()
        moved = next(a for a in held if a.cluster == "alpha" and a.start_slot + (a.end_slot - a.start_slot) <= 6)
        done = await post(c.operator, c, "pin", request=moved.request_id, cluster="beta", gpu_type="H100",
                          start_slot="0", reason="beta is closer to the data")
        assert done.status_code == 303, done.text
        record, held = await c.round()
        pinned = [a for a in held if a.state == AllocationState.PINNED]
        assert record.state == RoundState.PROPOSED
        assert [(a.request_id, a.cluster, a.start_slot) for a in pinned] == [(moved.request_id, "beta", 0)]
        assert any(e.action == "pin" and "beta is closer to the data" in e.reason for e in c.audit())

    run(story)


def test_a_row_fills_the_pin_form() -> None:
    async def story(c: Console) -> None:
        _, held = await c.round()
        a = next(a for a in held if a.cluster == "beta")
        html = (await c.operator.get(f"/rounds/{c.round_id}")).text
        assert f'href="?pin={a.request_id}&amp;page=1&amp;sort=request&amp;q=#actions"' in html
        page = (await c.operator.get(f"/rounds/{c.round_id}?pin={a.request_id}")).text
        form = page.split('/pin" class="action-form">')[1].split("</form>")[0]
        assert f'name="request" required value="{a.request_id}"' in form
        assert "<option selected>beta</option>" in form and f'value="{a.start_slot}"' in form

    run(story)


def test_run_solves_an_open_round_and_the_progress_json_follows_it() -> None:
    async def story(c: Console) -> None:
        before = (await c.operator.get(f"/rounds/{c.round_id}/progress.json")).json()
        assert before == {"state": "open", "phase": "open", "fraction": 0.0, "message": "", "running": False,
                          "error": None}
        html = (await c.operator.get(f"/rounds/{c.round_id}")).text
        assert 'action="/rounds/' in html and "Run the solve" in html
        done = await post(c.operator, c, "run", reason="Monday's round")
        assert done.status_code == 303
        live = c.service.round_run(c.round_id)
        assert live is not None
        await asyncio.wait_for(live.done.wait(), 60)
        after = await c.operator.get(f"/rounds/{c.round_id}/progress.json")
        assert after.headers["cache-control"] == "no-store"
        assert after.json()["state"] == "proposed" and after.json()["fraction"] == 1.0
        assert any(e.action == "run" and e.reason == "Monday's round" for e in c.audit())

    run(story, solve=False)


def test_a_solve_running_in_another_worker_shows_what_it_stored() -> None:
    async def story(c: Console) -> None:
        worker = Principal(id="worker-2", role=Role.OPERATOR)
        c.store.write(lambda t: phases.snapshot(t, worker, c.round_id, "run elsewhere", T0))
        c.store.write(lambda t: t.set_round_progress(c.round_id, 0.5, "improve: 3 assigned"))
        found = (await c.operator.get(f"/rounds/{c.round_id}/progress.json")).json()
        assert found == {"state": "solving", "phase": "solve", "fraction": 0.5, "message": "improve: 3 assigned",
                         "running": True, "error": None}
        html = (await c.operator.get(f"/rounds/{c.round_id}")).text
        assert '<progress max="1" value="0.5" data-progress-bar>' in html and "improve: 3 assigned" in html
        assert f'data-progress-url="/rounds/{c.round_id}/progress.json"' in html and "data-progress-refresh" in html
        assert (await c.applicant.get(f"/rounds/{c.round_id}/progress.json")).status_code == 200  # GetRound's roles
        assert (await c.anonymous.get(f"/rounds/{c.round_id}/progress.json")).status_code == 303

    run(story, solve=False)


ACTIONS = {"approve": {}, "reject": {}, "publish": {}, "run": {},
           "pin": {"request": "req-x", "cluster": "alpha", "gpu_type": "H100", "start_slot": "0"}}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize(("who", "csrf", "reason", "status", "message"), [
    pytest.param("operator", "page", "", 400, "reason: is required", id="missing reason"),
    pytest.param("operator", "page", "   ", 400, "reason: is required", id="blank reason"),
    pytest.param("operator", "page", "two\nlines", 400, "control character", id="reason with a line break"),
    pytest.param("operator", "page", "fine\u202egnp.exe", 400, "direction override", id="reason with a bidi override"),
    pytest.param("operator", None, "why not", 403, "security token is missing", id="no CSRF token"),
    pytest.param("operator", "forged", "why not", 403, "security token is missing", id="wrong CSRF token"),
    pytest.param("applicant", "own", "why not", 403, "the applicant role may not", id="applicant token"),
    pytest.param("anonymous", "own", "why not", 303, "", id="no login: off to the login page"),
])
def test_refused_actions_change_nothing(action: str, who: str, csrf: str | None, reason: str, status: int,
                                        message: str) -> None:
    async def story(c: Console) -> None:
        client = {"operator": c.operator, "applicant": c.applicant, "anonymous": c.anonymous}[who]
        token = await csrf_of(client, "/login") if csrf == "own" else csrf
        before = (await c.round(), len(c.audit()))
        refused = await post(client, c, action, csrf=token, reason=reason, **ACTIONS[action])
        assert refused.status_code == status
        assert message.lower() in refused.text.replace("&#39;", "'").lower()
        assert (await c.round(), len(c.audit())) == before

    run(story)


def test_an_action_refused_by_the_service_shows_its_message_and_changes_nothing() -> None:
    async def story(c: Console) -> None:
        before = (await c.round(), len(c.audit()))
        refused = await post(c.operator, c, "approve", requests="req-unknown", reason="typo")
        assert refused.status_code == 404 and "req-unknown" in refused.text
        refused = await post(c.operator, c, "pin", request="req-x", cluster="alpha", gpu_type="H100", start_slot="-1",
                             reason="bad slot")
        assert refused.status_code == 400 and "start_slot" in refused.text.lower()
        refused = await post(c.operator, c, "pin", request="req x", cluster="alpha", gpu_type="H100", start_slot="0",
                             reason="bad id")
        assert refused.status_code == 400 and "request" in refused.text.lower()
        assert (await c.round(), len(c.audit())) == before

    run(story)


# -- explanations ----------------------------------------------------------------------------------


def test_each_rejection_links_its_tested_counterfactual() -> None:
    async def story(c: Console) -> None:
        record, _ = await c.round()
        rejected = record.plan.rejected[0]
        html = (await c.operator.get(f"/rounds/{c.round_id}")).text
        assert f'data-explain="/rounds/{c.round_id}/explain/{rejected.request}.json"' in html
        assert f'<a href="/rounds/{c.round_id}/explain/{rejected.request}"' in html  # the page without script
        found = (await c.operator.get(f"/rounds/{c.round_id}/explain/{rejected.request}.json")).json()
        direct = await c.service.explain(OPERATOR, c.round_id, rejected.request)
        assert found["reason"] == rejected.reason and found["allocated"] is False
        assert found["counterfactual"] == (direct.counterfactual.text if direct.counterfactual else None)
        page = await c.operator.get(f"/rounds/{c.round_id}/explain/{rejected.request}")
        assert page.status_code == 200 and "What would place it" in page.text

    run(story)

