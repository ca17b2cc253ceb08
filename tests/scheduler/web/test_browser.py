"""The console in a real browser: headless Chromium from Debian, driven by Selenium, against ``allmende serve``.

Each story saves screenshots of the pages it walks through (``ALLMENDE_SCREENSHOTS=1`` keeps them in
``docs/screenshots/``).  Where Chromium or its driver is missing, these tests skip and say so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.ports import wait_for
from tests.scheduler.web.harness import XSS, World, browser_login

pytestmark = pytest.mark.slow

Screenshot = Callable[[str], Path]


def by_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def visit(driver: Any, url: str) -> None:
    """Open ``url`` and wait until its page is whole (the footer is the last thing every page has)."""
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete"
             and bool(by_css(driver, "footer")), timeout=20)


def follow(driver: Any, link_text: str) -> None:
    """Click the link, as a person would, and wait for the page it leads to."""
    link = driver.find_element("link text", link_text)
    target = link.get_attribute("href")
    link.click()
    wait_for(lambda: driver.current_url == target and bool(by_css(driver, "footer")), timeout=20)


def no_alert(driver: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018 - the property raises when no alert is open
    except NoAlertPresentException:
        return True
    return False


def org_requests(world: World, org: str) -> set[str]:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req
    from tests.scheduler.api.harness import auth

    found = world.stubs.requests.ListRequests(req.ListRequestsRequest(org=org, page={"page_size": 500}),
                                              metadata=auth(world.tokens["operator"]))
    return {r.request_id for r in found.requests}


def csp_violations(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_an_applicant_logs_in_and_sees_only_their_organisations_requests(
        world: World, browser: Any, screenshot: Screenshot) -> None:
    browser_login(browser, world.base, world.tokens["embl"])
    visit(browser, world.base + "/requests")
    ids = {a.text for a in by_css(browser, "#requests-table tbody td:first-child a")}
    assert world.ids["fold"] in ids and world.ids[XSS] in ids
    assert ids == org_requests(world, "embl"), "exactly embl's requests, as the API lists them for an operator"
    assert "Requests of embl" in browser.find_element("css selector", "h1").text
    screenshot("requests-applicant")
    visit(browser, f"{world.base}/requests/{world.ids['lab']}")  # pisa's request, by URL
    assert "Not found" in browser.find_element("css selector", "h1").text
    visit(browser, f"{world.base}/requests/{world.ids['fold']}")
    assert "Not allocated" in browser.page_source
    screenshot("request-explained")
    assert not csp_violations(browser)


def test_an_operator_sees_every_cluster_and_the_stale_one_flagged(world: World, browser: Any,
                                                                 screenshot: Screenshot) -> None:
    browser_login(browser, world.base, world.tokens["operator"])
    visit(browser, world.base + "/")
    screenshot("home-operator")
    follow(browser, "Clusters")
    rows = {r.find_element("css selector", "td").text: r for r in by_css(browser, "#clusters-table tbody tr")}
    assert set(rows) == {"jsc", "leo", "old"}
    assert rows["old"].get_attribute("class") == "stale" and "stale" in rows["old"].text
    assert "8 × H100" in rows["jsc"].text
    screenshot("clusters")
    visit(browser, world.base + "/rounds")
    assert world.proposed in browser.page_source and world.published in browser.page_source
    screenshot("rounds")
    assert not csp_violations(browser)


def test_the_ledger_opens_with_no_token(world: World, browser: Any, screenshot: Screenshot) -> None:
    browser.delete_all_cookies()
    visit(browser, world.base + "/ledger")
    assert world.published in browser.page_source
    assert "Log in" in browser.find_element("css selector", "header .who").text, "nobody is logged in"
    screenshot("ledger")
    follow(browser, world.published)
    assert len(by_css(browser, "svg.chart")) >= 5
    assert by_css(browser, f"a[href='/ledger/{world.published}/allocations.csv']")
    screenshot("ledger-round")
    follow(browser, "Log in")
    screenshot("login")
    assert not csp_violations(browser)


def test_tables_sort_and_filter_with_the_vendored_script_under_the_csp(world: World, browser: Any) -> None:
    browser.delete_all_cookies()
    visit(browser, f"{world.base}/ledger/{world.published}")
    table = browser.find_element("id", "allocations-table")
    header = table.find_elements("css selector", "th")[6]  # gpus
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    gpus = [int(r.find_elements("css selector", "td")[6].text) for r in table.find_elements("css selector", "tbody tr")]
    assert gpus == sorted(gpus)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    box = browser.find_element("css selector", "input[data-filter='allocations-table']")
    box.send_keys("uni-pisa")
    shown = [r for r in table.find_elements("css selector", "tbody tr") if r.is_displayed()]
    assert shown and all("uni-pisa" in r.text for r in shown)
    assert not csp_violations(browser)


def test_a_title_with_a_script_tag_never_runs(world: World, browser: Any, screenshot: Screenshot) -> None:
    browser_login(browser, world.base, world.tokens["embl"])
    visit(browser, f"{world.base}/requests/{world.ids[XSS]}")
    assert no_alert(browser)
    assert browser.find_element("css selector", "h1").text == XSS, "the title shows as text"
    visit(browser, world.base + "/requests")
    assert no_alert(browser)
    assert XSS in browser.find_element("id", "requests-table").text
    screenshot("requests-xss")
    browser.delete_all_cookies()
    visit(browser, f"{world.base}/ledger/{world.published}")
    assert no_alert(browser)
    assert XSS in browser.find_element("id", "allocations-table").text


@pytest.fixture
def other_origin() -> Iterator[Callable[[str], str]]:
    """A page on another origin (another port of the same host, so the same *site*) that hosts one HTML body."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def host(html: str) -> str:
        pages["/evil.html"] = html.encode()
        return f"http://127.0.0.1:{server.server_address[1]}/evil.html"

    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


def test_a_form_forged_on_another_origin_is_refused(world: World, browser: Any, screenshot: Screenshot,
                                                    other_origin: Callable[[str], str]) -> None:
    victim = world.submit("forge-target", org="embl", category="research", gpus=1, runtime_slots={"H100": 1})
    browser_login(browser, world.base, world.tokens["embl"])
    evil = other_origin(
        "<!doctype html><title>win a prize</title><body>"
        f'<form id="f" method="post" action="{world.base}/requests/{victim}/withdraw">'
        '<input name="reason" value="forged"><input name="csrf" value="guessed"></form>'
        "<script>document.getElementById('f').submit()</script></body>")
    browser.get(evil)
    wait_for(lambda: browser.current_url.startswith(world.base) and bool(by_css(browser, "footer")), timeout=10)
    assert "Not allowed" in browser.find_element("css selector", "h1").text
    screenshot("csrf-refused")
    visit(browser, f"{world.base}/requests/{victim}")
    assert browser.find_element("css selector", "span.state").text == "submitted", "nothing changed"
