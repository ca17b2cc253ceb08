"""The clusters page: inventory per cluster and GPU type, heartbeat age, stale clusters, where each executes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain import ClusterRecord, ExecutionTarget
from scheduler.web.clusters import executes_on, row
from tests.scheduler.web.harness import World

NOW = datetime(2025, 3, 3, 12, tzinfo=UTC)


def cluster_row(html: str, cluster_id: str) -> str:
    found = re.search(rf'<tr[^>]*>\s*<td class="mono">{cluster_id}</td>.*?</tr>', html, re.S)
    assert found, f"no row for {cluster_id}"
    return found.group(0)


def test_every_cluster_with_its_gpus_and_state(world: World) -> None:
    with world.client(world.tokens["operator"]) as client:
        page = client.get("/clusters").text
    assert "8 × H100" in cluster_row(page, "jsc") and "(700 W)" in cluster_row(page, "jsc")
    assert "4 × A100" in cluster_row(page, "leo")
    old = cluster_row(page, "old")
    assert 'class="stale"' in old and "state-stale" in old, "the stale cluster is flagged"
    assert "1 stale" in page
    assert "never" in old, "it never sent a heartbeat"
    assert page.count('<svg class="chart"') == 1


@pytest.mark.parametrize("who", ["operator", "analyst", "embl"])
def test_the_page_opens_for_the_roles_the_api_lets_list_clusters(world: World, who: str) -> None:
    with world.client(world.tokens[who]) as client:
        assert client.get("/clusters").status_code == 200


@pytest.mark.parametrize(("target", "says"), [
    pytest.param(None, "service's Ray head (--execute local)", id="no target of its own"),
    pytest.param(ExecutionTarget(kind="ray", address="http://ray.jsc:8265"), "Ray Jobs at http://ray.jsc:8265",
                 id="a Ray head of its own"),
    pytest.param(ExecutionTarget(kind="kuberay", context="leo", namespace="ml"),
                 "KubeRay RayJobs (context leo namespace ml)", id="KubeRay"),
])
def test_where_a_cluster_executes(target: ExecutionTarget | None, says: str) -> None:
    assert executes_on(target) == says


@pytest.mark.parametrize(("stored", "buffered", "age"), [
    pytest.param(None, None, None, id="never heard from"),
    pytest.param(NOW - timedelta(minutes=5), None, 300.0, id="a stored heartbeat"),
    pytest.param(NOW - timedelta(minutes=5), NOW - timedelta(seconds=3), 3.0,
                 id="a newer heartbeat still in the buffer wins"),
])
def test_heartbeat_age_reads_the_latest_the_server_has_seen(stored: datetime | None, buffered: datetime | None,
                                                            age: float | None) -> None:
    record = ClusterRecord(id="jsc", country="DE", gpu_types={"H100": {"tdp_watts": 700}}, gpus={"H100": 8},
                           registered_at=NOW - timedelta(days=1), last_heartbeat=stored)
    assert row(record, buffered, NOW).heartbeat_age_s == age


def test_past_thirty_clusters_the_chart_shows_the_largest() -> None:
    from scheduler.web.clusters import CHARTED, inventory_chart

    records = [ClusterRecord(id=f"c{i:03d}", country="DE", gpu_types={"H100": {"tdp_watts": 700}}, gpus={"H100": i + 1},
                             registered_at=NOW) for i in range(CHARTED + 10)]
    svg = inventory_chart(records)
    assert f"the {CHARTED} largest of {CHARTED + 10}" in svg
    assert "c039" in svg and ">c000<" not in svg
