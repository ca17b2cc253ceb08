"""The console's security, over HTTP against a real server: cookies, headers, CSRF, escaping, login gates."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from scheduler.api.auth import RULES, allowed
from scheduler.web.app import create_app, safe_next
from scheduler.web.security import CSP
from tests.scheduler.web.harness import XSS, World, csrf_of

METHOD = re.compile(r"(/allmende\.v1\.)?[A-Z]\w+Service/[A-Z]\w+")
PAGES = ["/", "/login", "/ledger", "/clusters", "/requests", "/rounds", "/static/console.css", "/static/tables.js",
         "/no-such-page"]


def request_state(world: World, title: str) -> str:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req
    from tests.scheduler.api.harness import auth

    found = world.stubs.requests.GetRequest(req.GetRequestRequest(request_id=world.ids[title]),
                                            metadata=auth(world.tokens["operator"]))
    return str(req.RequestState.Name(found.state))


def test_the_session_cookie_is_httponly_and_samesite_strict(world: World) -> None:
    with world.client() as client:
        page = client.get("/login")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie, "plain HTTP on loopback: a Secure cookie would never come back"
        answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": world.tokens["operator"]})
        assert answer.status_code == 303
        after = answer.headers["set-cookie"].lower()
        assert "httponly" in after and "samesite=strict" in after
        assert world.tokens["operator"].lower() not in after, "the token itself never goes to the browser"
        assert after.split(";")[0] != cookie.split(";")[0], "logging in gives a new session id"


@pytest.mark.parametrize("logged_in", [pytest.param(False, id="public"), pytest.param(True, id="operator")])
@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_strict_csp(world: World, path: str, logged_in: bool) -> None:
    with world.client(world.tokens["operator"] if logged_in else None) as client:
        answer = client.get(path)
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] and answer.headers["x-frame-options"] == "DENY"
    assert "<script>" not in answer.text.replace('<script src="/static/tables.js" defer></script>', ""), (
        "no inline script anywhere")


@pytest.mark.parametrize("path", ["/clusters", "/requests", "/rounds", "/rounds/some-round", "/requests/some-req"])
def test_pages_that_need_a_token_send_the_public_to_login(world: World, path: str) -> None:
    with world.client() as client:
        answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(("form", "headers"), [
    pytest.param({}, {}, id="no CSRF token"),
    pytest.param({"csrf": "forged"}, {}, id="a wrong CSRF token"),
    pytest.param("another session's", {}, id="another session's CSRF token"),
    pytest.param("own", {"origin": "http://evil.example"}, id="the right token from another origin"),
    pytest.param("own", {"sec-fetch-site": "same-site"}, id="the right token from another port of this host"),
])
def test_a_post_without_this_sessions_csrf_token_is_refused_and_changes_nothing(
        world: World, form: dict[str, str] | str, headers: dict[str, str]) -> None:
    title = f"keep-me-{abs(hash(str(form) + str(headers)))}"
    world.submit(title, org="embl", category="research", gpus=1, runtime_slots={"H100": 1})
    with world.client(world.tokens["embl"]) as client, world.client(world.tokens["embl"]) as other:
        page = client.get(f"/requests/{world.ids[title]}")
        if form == "own":
            form = {"csrf": csrf_of(page.text)}
        elif form == "another session's":
            form = {"csrf": csrf_of(other.get("/").text)}
        assert isinstance(form, dict)
        answer = client.post(f"/requests/{world.ids[title]}/withdraw", data={**form, "reason": "forged"},
                             headers=headers)
    assert answer.status_code == 403
    assert request_state(world, title) == "REQUEST_STATE_SUBMITTED"


def test_the_same_post_with_its_csrf_token_goes_through(world: World) -> None:
    world.submit("withdraw-me", org="embl", category="research", gpus=1, runtime_slots={"H100": 1})
    with world.client(world.tokens["embl"]) as client:
        page = client.get(f"/requests/{world.ids['withdraw-me']}")
        answer = client.post(f"/requests/{world.ids['withdraw-me']}/withdraw",
                             data={"csrf": csrf_of(page.text), "reason": "the grant ended"})
    assert answer.status_code == 303
    assert request_state(world, "withdraw-me") == "REQUEST_STATE_WITHDRAWN"


def test_a_logout_needs_the_csrf_token_too(world: World) -> None:
    with world.client(world.tokens["operator"]) as client:
        assert client.post("/logout", data={}).status_code == 403
        assert client.get("/clusters").status_code == 200, "still logged in"
        assert client.post("/logout", data={"csrf": csrf_of(client.get("/").text)}).status_code == 303
        assert client.get("/clusters").status_code == 303, "logged out"


def test_every_post_route_checks_csrf(world: World) -> None:
    """Each POST route of the app refuses a form without the token, whatever it does."""
    app = create_app(None, allowed)  # type: ignore[arg-type]  # only the routes are read
    posts = [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert posts, "the app has forms"
    with world.client(world.tokens["operator"]) as client:
        for path in posts:
            concrete = path.replace("{request_id}", world.ids["fold"]).replace("{round_id}", world.proposed)
            assert client.post(concrete, data={"reason": "x"}).status_code == 403, path


def test_a_title_with_a_script_tag_shows_as_text(world: World) -> None:
    with world.client(world.tokens["embl"]) as client:
        listing = client.get("/requests").text
        detail = client.get(f"/requests/{world.ids[XSS]}").text
    with world.client() as public:
        ledger = public.get(f"/ledger/{world.published}").text
    for page in (listing, detail, ledger):
        assert XSS not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(("token", "why"), [
    pytest.param("", "empty", id="no token"),
    pytest.param("alm_nope.nope", "unknown", id="an unknown token"),
    pytest.param("x" * 5000, "too long", id="a token far too long"),
    pytest.param("not a token\n\u00e9", "malformed", id="a malformed token"),
])
def test_a_bad_token_does_not_log_in(world: World, token: str, why: str) -> None:
    with world.client() as client:
        page = client.get("/login")
        answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": token})
        assert answer.status_code == 401, why
        assert "not valid" in answer.text
        assert client.get("/clusters").status_code == 303


def test_a_revoked_token_ends_its_session(world: World) -> None:
    from datetime import UTC, datetime

    from scheduler.domain import Change, Role
    from scheduler.store import open_store

    store = open_store(world.db_url)
    by = Change(actor="test", role=Role.SYSTEM, at=datetime.now(UTC), action="create_token")
    try:
        issued = store.write(lambda t: t.create_token(Role.OPERATOR, by=by, name="leaving"))
        with world.client(issued.bearer) as client:
            assert client.get("/clusters").status_code == 200
            store.write(lambda t: t.revoke_token(issued.record.id, by))
            assert client.get("/clusters").status_code == 303
    finally:
        store.close()


@pytest.mark.parametrize(("target", "lands"), [
    pytest.param("/clusters", "/clusters", id="a page of this site"),
    pytest.param("//evil.example/x", "/", id="a protocol-relative URL"),
    pytest.param("https://evil.example/", "/", id="another site"),
    pytest.param("/\\evil.example", "/", id="a backslash trick"),
    pytest.param("/\t/evil.example", "/", id="a tab browsers drop, leaving //evil.example"),
    pytest.param("/requests?state=rejected", "/requests?state=rejected", id="a page with its query"),
    pytest.param("", "/", id="nothing"),
])
def test_login_goes_back_only_to_a_page_of_this_site(target: str, lands: str) -> None:
    assert safe_next(target) == lands


def test_every_page_names_an_rpc_of_the_api_role_table() -> None:
    """The console's gate reads RULES by method name: a misspelt name would lock everyone out."""
    import ast
    from pathlib import Path

    from scheduler.web.gate import PREFIX

    names = set()
    for path in (Path(__file__).resolve().parents[3] / "scheduler" / "web").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and METHOD.fullmatch(node.value):
                names.add(node.value.removeprefix(PREFIX))
    assert names and all(PREFIX + n in RULES for n in names), sorted(n for n in names if PREFIX + n not in RULES)


def test_the_console_is_off_unless_a_port_is_given() -> None:
    from scheduler.settings import load

    assert load({}, environ={}).http_port == 0
    assert load({"http_port": 8080}, environ={}).console_host == "127.0.0.1"
    assert load({"http_port": 8080, "http_host": "0.0.0.0"}, environ={}).console_host == "0.0.0.0"


@pytest.mark.parametrize(("flags", "message"), [
    pytest.param({"http_port": 70000}, "http_port", id="a port past 65535"),
    pytest.param({"http_port": 50051}, "http_port 50051 is already the port", id="the gRPC port"),
    pytest.param({"http_port": 9464, "metrics_port": 9464}, "already the metrics_port", id="the metrics port"),
])
def test_a_console_port_that_cannot_work_is_refused_at_start(flags: dict[str, int], message: str) -> None:
    from scheduler.settings import SettingsError, load

    with pytest.raises(SettingsError, match=message):
        load(flags, environ={})


def test_the_public_never_gets_a_session_for_reading(world: World) -> None:
    with httpx.Client(base_url=world.base) as client:
        assert "set-cookie" not in client.get(f"/ledger/{world.published}").headers


def test_a_form_far_too_large_is_refused_before_it_is_read(world: World) -> None:
    with world.client(world.tokens["embl"]) as client:
        page = client.get("/login")
        answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": "x" * 100_000})
    assert answer.status_code == 413


def test_an_error_page_still_shows_who_is_logged_in(world: World) -> None:
    with world.client(world.tokens["operator"]) as client:
        missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "ops-anna" in missing.text and "Log out" in missing.text
