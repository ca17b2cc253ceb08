"""My requests: an applicant sees its own organisation's requests only, by list, by filter and by URL."""

from __future__ import annotations

import html

import pytest

from tests.scheduler.web.harness import XSS, World


def titles_on(html: str, world: World) -> set[str]:
    return {title for title, rid in world.ids.items() if rid in html}


@pytest.mark.parametrize(("who", "sees", "never"), [
    pytest.param("embl", {"fold", XSS}, {"lab", "rag"}, id="embl sees its two, not pisa's or startup-x's"),
    pytest.param("uni-pisa", {"lab"}, {"fold", XSS, "rag"}, id="pisa sees only its lab course"),
    pytest.param("operator", {"fold", XSS, "lab", "rag"}, set(), id="an operator sees every organisation"),
])
def test_the_requests_page_lists_what_the_token_may_see(world: World, who: str, sees: set[str],
                                                        never: set[str]) -> None:
    with world.client(world.tokens[who]) as client:
        page = client.get("/requests")
    assert page.status_code == 200
    shown = titles_on(page.text, world)
    assert sees <= shown
    assert not (never & shown)


def test_an_applicant_cannot_ask_for_another_organisations_list(world: World) -> None:
    with world.client(world.tokens["uni-pisa"]) as client:
        page = client.get("/requests", params={"org": "embl"})
    assert page.status_code == 403
    assert world.ids["fold"] not in page.text
    assert "may not list the requests of 'embl'" in html.unescape(page.text)


def test_an_applicant_cannot_open_another_organisations_request_by_url(world: World) -> None:
    with world.client(world.tokens["uni-pisa"]) as client:
        other = client.get(f"/requests/{world.ids['fold']}")
        unknown = client.get("/requests/req-does-not-exist")
    assert other.status_code == unknown.status_code == 404, "another organisation's request is as an unknown id"
    assert "fold" not in other.text.replace(world.ids["fold"], "")


def test_a_rejected_request_shows_the_same_explanation_as_the_api(world: World) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
    from tests.scheduler.api.harness import auth

    why = world.stubs.rounds.Explain(rnd.ExplainRequest(round_id=world.published, request_id=world.ids["fold"]),
                                     metadata=auth(world.tokens["embl"]))
    with world.client(world.tokens["embl"]) as client:
        page = client.get(f"/requests/{world.ids['fold']}")
    assert page.status_code == 200
    assert "Not allocated" in page.text and world.published in page.text
    assert why.reason in page.text and why.detail in html.unescape(page.text)
    assert "The smallest change that places it" in page.text or "No single change" in page.text


def test_an_allocated_request_shows_where_it_runs(world: World) -> None:
    with world.client(world.tokens["uni-pisa"]) as client:
        page = client.get(f"/requests/{world.ids['lab']}")
    assert "Allocated 4 × A100 on cluster <strong>leo</strong>" in page.text


@pytest.mark.parametrize(("query", "status"), [
    pytest.param({"state": "allocated"}, 200, id="a known state"),
    pytest.param({"state": "bogus"}, 400, id="an unknown state is a clear error"),
    pytest.param({"cursor": "not-a-cursor"}, 400, id="a page token this console never handed out"),
])
def test_filters_are_checked(world: World, query: dict[str, str], status: int) -> None:
    with world.client(world.tokens["operator"]) as client:
        assert client.get("/requests", params=query).status_code == status


def test_withdrawing_needs_a_reason(world: World) -> None:
    from tests.scheduler.web.harness import csrf_of

    world.submit("needs-a-reason", org="embl", category="research", gpus=1, runtime_slots={"H100": 1})
    with world.client(world.tokens["embl"]) as client:
        page = client.get(f"/requests/{world.ids['needs-a-reason']}")
        answer = client.post(f"/requests/{world.ids['needs-a-reason']}/withdraw",
                             data={"csrf": csrf_of(page.text), "reason": "  "})
        assert answer.status_code == 400 and "reason: is required" in answer.text.lower()
        assert "submitted" in client.get(f"/requests/{world.ids['needs-a-reason']}").text


def test_another_organisation_cannot_withdraw_by_posting_to_its_url(world: World) -> None:
    from tests.scheduler.web.harness import csrf_of

    world.submit("not-yours", org="embl", category="research", gpus=1, runtime_slots={"H100": 1})
    with world.client(world.tokens["uni-pisa"]) as client:
        answer = client.post(f"/requests/{world.ids['not-yours']}/withdraw",
                             data={"csrf": csrf_of(client.get("/").text), "reason": "mischief"})
    assert answer.status_code == 404
    with world.client(world.tokens["embl"]) as owner:
        assert '<span class="state state-submitted">' in owner.get(f"/requests/{world.ids['not-yours']}").text
