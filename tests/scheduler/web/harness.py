"""The console's test world: a real ``allmende serve --http-port`` on loopback, and helpers to drive it.

The world is made the way a programme's staff make it: tokens on the database (as ``allmende token
create`` does), everything else over gRPC with those tokens: two clusters and a third that went stale,
requests of three organisations (one titled ``<script>alert(1)</script>``), one round solved, approved and
published, and one left proposed.  ``World.propose_round`` makes another proposed round for a test that
reviews one.

The fixtures (``world``, ``browser``, ``screenshot``) are in ``conftest.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.domain import Change, Role
from scheduler.states import ClusterState
from scheduler.store import open_store
from support.ports import wait_for
from tests.scheduler.api.harness import Stubs, auth

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "docs" / "screenshots"
XSS = "<script>alert(1)</script>"
T0 = datetime(2025, 3, 3, tzinfo=UTC)

SPECS: dict[str, dict[str, Any]] = {
    "fold": dict(org="embl", category="research", gpus=8, runtime_slots={"H100": 3}),
    XSS: dict(org="embl", category="research", gpus=1, runtime_slots={"A100": 1}),
    "lab": dict(org="uni-pisa", category="education", gpus=4, runtime_slots={"A100": 2}, countries=["IT"]),
    "rag": dict(org="startup-x", category="industry", gpus=8, runtime_slots={"H100": 4}, deadline_slot=6),
}
SHARES = {"research": 0.5, "industry": 0.25, "education": 0.25}


@dataclass
class World:
    """The running server and what is in it."""

    base: str  # http://127.0.0.1:PORT, the console
    stubs: Stubs
    tokens: dict[str, str]  # "operator", "analyst", and one applicant token per organisation
    ids: dict[str, str] = field(default_factory=dict)  # request title -> id
    published: str = ""
    proposed: str = ""  # stays proposed: a test that reviews a round makes its own with propose_round()
    db_url: str = ""
    rounds: int = 0

    def submit(self, title: str, **spec: Any) -> str:
        token = self.tokens[spec["org"]]
        made = self.stubs.requests.SubmitRequest(req.SubmitRequestRequest(
            idempotency_key=title, spec=req.RequestSpec(title=title, entrypoint="python train.py", **spec)),
            metadata=auth(token))
        self.ids[title] = made.request_id
        return str(made.request_id)

    def propose_round(self, *titles: str) -> str:
        """Submit ``titles`` (small research requests of embl) and solve a round over the open pool."""
        for title in titles:
            self.submit(title, org="embl", category="research", gpus=2, runtime_slots={"H100": 1})
        self.rounds += 1
        md = auth(self.tokens["operator"])
        opened = self.stubs.rounds.OpenRound(rnd.OpenRoundRequest(
            horizon=common.Horizon(start=Timestamp(seconds=int(T0.timestamp()) + 86400 * self.rounds), slots=6),
            policy=rnd.POLICY_FAIR, policy_config=common.PolicyConfig(category_shares=SHARES),
            solver=common.SolverParams(time_limit_s=2, workers=1, deterministic=True)), metadata=md)
        progress = list(self.stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=md))
        assert progress[-1].state == rnd.ROUND_STATE_PROPOSED, progress[-1]
        return str(opened.round_id)

    def publish(self, round_id: str) -> None:
        md = auth(self.tokens["operator"])
        self.stubs.review.Approve(rev.ApproveRequest(round_id=round_id, reason="fits the programme"), metadata=md)
        self.stubs.review.Publish(rev.PublishRequest(round_id=round_id, reason="weekly ledger"), metadata=md)

    @contextmanager
    def client(self, token: str | None = None) -> Iterator[httpx.Client]:
        """An HTTP client of the console, logged in with ``token`` (through the login form) when given."""
        with httpx.Client(base_url=self.base, follow_redirects=False, timeout=30) as client:
            if token is not None:
                login(client, token)
            yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(client: httpx.Client, token: str) -> None:
    page = client.get("/login")
    answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": token, "next": "/"})
    assert answer.status_code == 303, answer.text


def issue_tokens(url: str) -> dict[str, str]:
    store = open_store(url)
    by = Change(actor="test", role=Role.SYSTEM, at=datetime.now(UTC), action="create_token")

    def issue(role: Role, name: str, org: str | None = None) -> str:
        return store.write(lambda t: t.create_token(role, by=by, org=org, name=name)).bearer

    try:
        made = {"operator": issue(Role.OPERATOR, "ops-anna"), "analyst": issue(Role.ANALYST, "analyst-ben")}
        for org in sorted({str(s["org"]) for s in SPECS.values()}):
            made[org] = issue(Role.APPLICANT, f"applicant-{org}", org)
        return made
    finally:
        store.close()


def mark_stale(url: str, cluster_id: str) -> None:
    """What the staleness sweep writes for a silent cluster (the test's server never waits that long)."""
    store = open_store(url)
    by = Change(actor="allmende", role=Role.SYSTEM, at=datetime.now(UTC), action="stale", reason="no heartbeat")
    try:
        store.write(lambda t: t.update_cluster(t.get_cluster(cluster_id).model_copy(
            update={"state": ClusterState.STALE}), by))
    finally:
        store.close()


def register(stubs: Stubs, operator: str) -> None:
    md = auth(operator)
    pools = (("jsc", "DE", "JSC", "H100", 8, 700), ("leo", "IT", "CINECA", "A100", 4, 400),
             ("old", "FR", "GENCI", "V100", 16, 300))
    for cid, country, who, gpu, count, tdp in pools:
        stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
            cluster_id=cid, country=country, operator=who,
            gpus=[inv.GpuPool(gpu_type=gpu, count=count, tdp_watts=tdp)]), metadata=md)


def browser_login(driver: Any, base: str, token: str) -> None:
    """Log ``driver`` in through the login form, as a person would."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(base + "/login")
    wait_for(lambda: bool(driver.find_elements(By.ID, "token")), timeout=10)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    wait_for(lambda: "/login" not in driver.current_url and bool(driver.find_elements(By.TAG_NAME, "footer")),
             timeout=10)
