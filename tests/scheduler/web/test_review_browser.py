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


def read(look: Callable[[], str]) -> str:
    """What ``look`` reads off the page, or "" while the page is being replaced (the progress script reloads it)."""
    from selenium.common.exceptions import WebDriverException

    try:
        return look()
    except WebDriverException:
        return ""


def state(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return read(lambda: driver.find_element(By.CSS_SELECTOR, ".round-head .state").text)


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

    test = browser.find_element(By.CSS_SELECTOR, "#rejections a[data-explain]")
    cell = test.find_element(By.XPATH, "..")
    test.click()  # filled in place where the page may fetch, else the explanation page opens
    wait_for(lambda: "What would place it" in read(lambda: browser.page_source)
             or read(lambda: cell.text) not in ("", "test what would place it", "testing…"), timeout=30)
    browser.get(f"{world.base}/rounds/{round_id}")

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



def test_a_solve_running_elsewhere_shows_its_progress_live(world: World, browser: Any) -> None:
    """Another worker runs the solve (no live run in the console's process): the page follows what it stores."""
    from datetime import UTC, datetime

    from google.protobuf.timestamp_pb2 import Timestamp
    from selenium.webdriver.common.by import By

    from scheduler import phases
    from scheduler.access import Principal
    from scheduler.api.gen.allmende.v1 import common_pb2 as common
    from scheduler.domain import Role
    from scheduler.store import open_store
    from tests.scheduler.web.harness import SHARES, T0

    world.submit("browser-live-a", org="embl", category="research", gpus=2, runtime_slots={"H100": 2})
    world.rounds += 1
    round_id = world.stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp()) + 86400 * world.rounds), slots=6),
        policy=rnd.POLICY_FAIR, policy_config=common.PolicyConfig(category_shares=SHARES),
        solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True)),
        metadata=auth(world.tokens["operator"])).round_id
    store = open_store(world.db_url)
    worker = Principal(id="worker-2", role=Role.OPERATOR)
    try:
        store.write(lambda t: phases.snapshot(t, worker, round_id, "run by another worker", datetime.now(UTC)))
        browser_login(browser, world.base, world.tokens["operator"])
        browser.get(f"{world.base}/rounds/{round_id}")

        def bar() -> float:
            return float(read(lambda: browser.find_element(By.CSS_SELECTOR, "progress[data-progress-bar]")
                              .get_attribute("value")) or -1)

        assert state(browser) == "solving" and bar() == 0.0
        browser.execute_script("window.samePage = true")
        store.write(lambda t: t.set_round_progress(round_id, 0.5, "improve: 1 assigned"))
        wait_for(lambda: bar() == 0.5 and "improve: 1 assigned" in read(lambda: browser.page_source), timeout=30)
        assert browser.execute_script("return window.samePage === true"), \
            "the bar moved in place (the CSP lets the page fetch its own progress), not by reloading the page"
        store.write(lambda t: phases.fail(t, round_id, "stopped by the test", None, datetime.now(UTC)))
        wait_for(lambda: state(browser) == "failed", timeout=30)
        assert "stopped by the test" in browser.page_source
    finally:
        store.close()
