"""Sessions in memory: expiry by idleness and age, and a flood of anonymous sessions never logs anyone out."""

from __future__ import annotations

import time

import pytest

from scheduler.web.session import Sessions


def test_a_session_is_found_by_its_id_only() -> None:
    sessions = Sessions()
    made = sessions.start("alm_x.y")
    assert sessions.get(made.id) is made
    assert sessions.get(None) is None and sessions.get("") is None and sessions.get(made.csrf) is None
    assert made.id != made.csrf and len(made.id) >= 43, "256 random bits, URL-safe"


@pytest.mark.parametrize(("idle_s", "max_age_s", "alive"), [
    pytest.param(60.0, 60.0, True, id="fresh"),
    pytest.param(0.0, 60.0, False, id="idle too long"),
    pytest.param(60.0, 0.0, False, id="too old, however busy"),
])
def test_a_session_expires(idle_s: float, max_age_s: float, alive: bool) -> None:
    sessions = Sessions(idle_s=idle_s, max_age_s=max_age_s)
    made = sessions.start("alm_x.y")
    time.sleep(0.01)
    assert (sessions.get(made.id) is not None) == alive
    if not alive:
        assert len(sessions) == 0, "an expired session is dropped"


def test_a_flood_of_anonymous_sessions_pushes_out_only_anonymous_ones() -> None:
    sessions = Sessions(max_anonymous=3, max_logged_in=3)
    operator = sessions.start("alm_ops.secret")
    first = sessions.start()
    for _ in range(100):
        sessions.start()
    assert sessions.get(operator.id) is operator, "the logged-in session survives"
    assert sessions.get(first.id) is None, "the oldest anonymous one went"
    assert len(sessions) == 4


def test_the_least_recently_seen_login_goes_first_past_the_cap() -> None:
    sessions = Sessions(max_logged_in=2)
    a, b = sessions.start("alm_a.s"), sessions.start("alm_b.s")
    sessions.get(a.id)  # a is seen again, so b is now the least recent
    c = sessions.start("alm_c.s")
    assert sessions.get(b.id) is None and sessions.get(a.id) is a and sessions.get(c.id) is c


def test_ending_a_session_forgets_it() -> None:
    sessions = Sessions()
    made = sessions.start("alm_x.y")
    sessions.end(made.id)
    sessions.end(made.id)  # twice is harmless
    assert sessions.get(made.id) is None


@pytest.mark.parametrize(("secure", "cookie"), [
    pytest.param(False, "allmende_session", id="plain HTTP on loopback"),
    pytest.param(True, "__Host-allmende_session", id="TLS: a __Host- cookie"),
])
def test_the_cookie_name_follows_the_transport(secure: bool, cookie: str) -> None:
    assert Sessions(secure=secure).cookie == cookie
