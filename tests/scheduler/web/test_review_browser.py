"""An operator reviews a round in a real browser: logs in, opens a solved round, approves it, publishes it,
and finds both decisions in the round's audit trail on the page and through the service's own API.

Runs against the console's real server (``world``) in headless Chromium (``browser``); the review page is
saved as ``docs/screenshots/round-review.png`` with ``ALLMENDE_SCREENSHOTS=1``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from support.ports import wait_for
from tests.scheduler.api.harness import auth
from tests.scheduler.web.harness import XSS, World, browser_login

MORE = [("embl", "research", 4, "H100", 2), ("embl", "research", 2, "H100", 3), ("startup-x", "industry", 4, "H100", 2),
        ("startup-x", "industry", 8, "H100", 5), ("uni-pisa", "education", 2, "A100", 2),
        ("uni-pisa", "education", 2, "A100", 3), ("uni-pisa", "education", 4, "A100", 4),
        ("embl", "research", 4, "H100", 4)]  # more than fits: some are rejected, with reasons to read


def decide(driver: Any, action: str, reason: str) -> None:
    """Fill the action's reason and submit its form, as a person does; wait for the page it leads to."""
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.CSS_SELECTOR, f"form[action$='/{action}']")
    form.find_element(By.NAME, "reason").send_keys(reason)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: f"done={action}" in driver.current_url, timeout=30)


def test_an_operator_approves_and_publishes_a_round_and_finds_the_audit_entries(
        world: World, browser: Any, screenshot: Callable[[str], Path]) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    for i, (org, category, gpus, gpu, slots) in enumerate(MORE):
        world.submit(f"{category} run {i}", org=org, category=category, gpus=gpus, runtime_slots={gpu: slots},
                     **({"countries": ["IT"]} if gpu == "A100" else {}))
    round_id = world.propose_round("browser-review-a", "browser-review-b")
    browser_login(browser, world.base, world.tokens["operator"])
    browser.get(f"{world.base}/rounds/{round_id}")
    assert browser.find_element(By.CSS_SELECTOR, ".round-head .state").text == "proposed"
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.gantt")) >= 1
    assert browser.find_elements(By.CSS_SELECTOR, "#plan-table tbody tr")
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#plan-table tbody td:nth-child(2)")]
    assert "browser-review-a" in titles
    screenshot("round-review")

    decide(browser, "approve", "capacity checked with the sites")
    assert browser.find_element(By.CSS_SELECTOR, ".round-head .state").text == "approved"
    decide(browser, "publish", "weekly ledger, approved by the board")
    assert browser.find_element(By.CSS_SELECTOR, ".round-head .state").text == "published"

    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    assert any("publish" in r and "weekly ledger, approved by the board" in r and "ops-anna" in r for r in rows)
    assert any("approve" in r and "capacity checked with the sites" in r for r in rows)
    try:  # the page names a request titled <script>: shown as text, never run
        browser.switch_to.alert.dismiss()
        raise AssertionError("a script ran on the review page")
    except NoAlertPresentException:
        pass
    if XSS in titles:
        assert XSS in browser.page_source.replace("&lt;", "<").replace("&gt;", ">")

    events = world.stubs.review.ListAuditEvents(rev.ListAuditEventsRequest(subject_id=round_id),
                                                metadata=auth(world.tokens["operator"])).events
    mine = [(e.action, e.actor, e.reason) for e in events
            if e.role == "operator" and e.action in ("approve", "publish")]
    assert mine == [("approve", "ops-anna", "capacity checked with the sites"),
                    ("publish", "ops-anna", "weekly ledger, approved by the board")]
    state = world.stubs.rounds.GetRound(rnd.GetRoundRequest(round_id=round_id), metadata=auth(world.tokens["operator"]))
    assert state.state == rnd.ROUND_STATE_PUBLISHED


def test_an_empty_reason_is_refused_by_the_form_and_by_the_server(world: World, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    round_id = world.propose_round("browser-review-c")
    browser_login(browser, world.base, world.tokens["operator"])
    browser.get(f"{world.base}/rounds/{round_id}")
    form = browser.find_element(By.CSS_SELECTOR, "form[action$='/approve']")
    reason = form.find_element(By.NAME, "reason")
    assert reason.get_attribute("required") is not None  # the browser asks for one before posting
    browser.execute_script("arguments[0].removeAttribute('required')", reason)
    reason.send_keys("   ")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "reason: is required" in browser.page_source.lower(), timeout=10)
    browser.get(f"{world.base}/rounds/{round_id}")
    assert browser.find_element(By.CSS_SELECTOR, ".round-head .state").text == "proposed"
