"""Clusters: inventory per cluster and GPU type, heartbeat age, stale clusters flagged, and where each executes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler.domain import ClusterRecord, ExecutionTarget
from scheduler.states import ClusterState
from scheduler.web.charts import Stack, stacked_bars
from scheduler.web.context import console
from scheduler.web.gate import caller
from scheduler.web.pages import page_request, render


@dataclass(frozen=True)
class ClusterRow:
    record: ClusterRecord
    heartbeat_age_s: float | None  # since the latest heartbeat this server has seen, stored or buffered
    executes_on: str

    @property
    def stale(self) -> bool:
        return self.record.state == ClusterState.STALE


def executes_on(target: ExecutionTarget | None) -> str:
    """Where the service runs this cluster's approved allocations."""
    if target is None:
        return "service's Ray head (--execute local)"
    if target.kind == "ray":
        return f"Ray Jobs at {target.address}" if target.address else "service's Ray head"
    where = " ".join(p for p in (f"context {target.context}" if target.context else "",
                                 f"namespace {target.namespace}" if target.namespace else "") if p)
    return "KubeRay RayJobs" + (f" ({where})" if where else "")


def row(record: ClusterRecord, buffered: datetime | None, now: datetime) -> ClusterRow:
    seen = max((t for t in (record.last_heartbeat, buffered) if t is not None), default=None)
    return ClusterRow(record, None if seen is None else (now - seen).total_seconds(), executes_on(record.execution))


CHARTED = 30  # clusters in the inventory chart: past this, the largest


def inventory_chart(records: list[ClusterRecord]) -> Markup:
    shown = records if len(records) <= CHARTED else sorted(records, key=lambda r: -sum(r.gpus.values()))[:CHARTED]
    stacks = [Stack(r.id, {gpu: float(n) for gpu, n in sorted(r.gpus.items())}) for r in shown]
    largest = f" (the {CHARTED} largest of {len(records)})" if shown is not records else ""
    title = "GPUs per cluster, by type" + largest
    return stacked_bars(stacks, title=title, unit=" GPUs")


async def clusters_page(request: Request) -> Response:
    who = await caller(request, "InventoryService/ListClusters")
    service = console(request).service
    found = await service.list_clusters(who, None, page_request(request))
    now = service.clock()
    rows = [row(r, service.heartbeats.last_seen(r.id), now) for r in found.items]
    return render(request, "clusters.html", title="Clusters", rows=rows, next_cursor=found.next_cursor,
                  chart=inventory_chart(found.items) if found.items else None,
                  stale=sum(r.stale for r in rows))


ROUTES = [Route("/clusters", clusters_page)]
