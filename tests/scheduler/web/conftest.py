"""Fixtures of the console's tests: ``world`` (a real server with a small world in it), ``browser``, ``screenshot``.

``browser`` is Selenium driving Debian's Chromium (``/usr/bin/chromium``, ``/usr/bin/chromedriver``), headless;
the tests that need it skip with a clear message where either is missing.  ``screenshot(name)`` saves a PNG
of the whole page to ``docs/screenshots/`` with ``ALLMENDE_SCREENSHOTS=1``, else to the test's tmp folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from support.ports import free_port, listening, wait_for
from tests.scheduler.api.harness import Stubs
from tests.scheduler.web.harness import (
    CHROMEDRIVER,
    CHROMIUM,
    ROOT,
    SCREENSHOTS,
    SPECS,
    World,
    issue_tokens,
    mark_stale,
    register,
)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n``, the tests of one server and one browser run on one worker (one of each per run)."""
    for item in items:
        if item.path.is_relative_to(HERE) and {"world", "browser"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("console"))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{folder / 'console.db'}"
    tokens = issue_tokens(url)
    grpc_port, http_port = free_port(), free_port()
    env = {**os.environ, "ALLMENDE_SOLVER_EXECUTOR": "thread", "ALLMENDE_HEARTBEAT_INTERVAL_S": "3600",
           "PYTHONPATH": str(ROOT)}
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "serve", "--db", url, "--port", str(grpc_port),
                             "--http-port", str(http_port)], cwd=ROOT, env=env, stdout=log, stderr=log)
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=60)
        wait_for(lambda: listening(http_port) == 1, timeout=30)
        w = World(base=f"http://127.0.0.1:{http_port}", stubs=Stubs(channel), tokens=tokens, db_url=url)
        register(w.stubs, tokens["operator"])
        mark_stale(url, "old")
        for title, spec in SPECS.items():
            w.submit(title, **spec)
        w.published = w.propose_round()
        w.publish(w.published)
        w.proposed = w.propose_round("protein-design")
        yield w
    except BaseException:
        print((folder / "server.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        channel.close()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# -- the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"browser tests need Debian's chromium and chromium-driver; missing: {', '.join(missing)} "
                    "(apt-get install chromium chromium-driver, which `make test` does where apt is available)")
    pytest.importorskip("selenium", reason="browser tests need selenium (pip install 'allmende[test]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations show in the console log
    driver = webdriver.Chrome(service=DriverService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: Any, tmp_path: Path) -> Callable[[str], Path]:
    """``screenshot("ledger")`` saves the whole page as ``ledger.png``; returns its path."""

    def save(name: str) -> Path:
        folder = SCREENSHOTS if os.environ.get("ALLMENDE_SCREENSHOTS") == "1" else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(max(int(height), 900), 4000))
        path = folder / f"{name}.png"
        browser.save_screenshot(str(path))
        browser.set_window_size(1280, 900)
        return path

    return save


