"""Rich tables for the client and token commands: one renderer per kind of record, fed with proto messages."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console()
err = Console(stderr=True)
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(value: object) -> str:
    """``value`` as text with every control character written out (``\\x1b``): no escape sequence reaches a terminal."""
    text = str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS
        else ch for ch in text)


def safe(value: object) -> str:
    """User text for a markup string (``f"... {safe(detail)}"``): controls shown, brackets never read as markup."""
    return escape(visible(value))


def row(table: Table, *cells: object, style: str | None = None) -> None:
    """A table row whose cells are plain text: what an applicant wrote is shown as written, never as markup."""
    table.add_row(*(c if isinstance(c, Text) else Text(visible(c)) for c in cells), style=style)


def clusters(clusters: list[Any]) -> None:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    table = Table("cluster", "state", "country", "operator", "GPUs", "power cap kW", "PUE", "last heartbeat")
    for c in clusters:
        gpus = ", ".join(f"{p.count}×{p.gpu_type}" for p in c.gpus)
        beat = c.last_heartbeat.ToJsonString() if c.HasField("last_heartbeat") else "-"
        cap = f"{c.power_cap_kw:g}" if c.HasField("power_cap_kw") else "-"
        row(table, c.cluster_id, state(inv.ClusterState.Name(c.state)), c.country, c.operator, gpus, cap,
                      f"{c.pue:g}", beat)
    console.print(table)


def requests(found: list[Any]) -> None:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    table = Table("request", "state", "org", "category", "title", "GPUs", "runtime slots", "round")
    for r in found:
        s = r.spec
        runtime = ", ".join(f"{k}:{v}" for k, v in sorted(s.runtime_slots.items()))
        row(table, r.request_id, state(req.RequestState.Name(r.state)), s.org, s.category, s.title,
                      str(s.gpus), runtime, r.round_id or "-")
    console.print(table)


def rounds(found: list[Any]) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    table = Table("round", "state", "policy", "start", "slots", "requests", "clusters", "progress", "flagged")
    for r in found:
        progress = f"{r.progress.phase} {r.progress.fraction:.0%}".strip() if r.progress.phase else "-"
        row(table, r.round_id, state(rnd.RoundState.Name(r.state)), state(rnd.Policy.Name(r.policy)),
                      r.horizon.start.ToJsonString(), str(r.horizon.slots), str(r.requests), str(r.clusters),
                      progress, ", ".join(r.flagged_requests) or "-")
    console.print(table)
    for r in found:
        if r.error:
            err.print(f"[yellow]{r.round_id}:[/yellow] {safe(r.error)}")


def executions(found: list[Any]) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    table = Table(title="executions")
    for name in ("allocation", "request", "org", "cluster"):
        table.add_column(name, overflow="fold")  # ids are folded onto a second line, never cut
    for name in ("GPUs", "state", "attempts"):
        table.add_column(name)
    table.add_column("submission id", overflow="fold")
    for name in ("window", "started", "ended", "message"):
        table.add_column(name)
    for e in found:
        state_text = state(rnd.AllocationState.Name(e.state)) + (" ⚠ replan" if e.replan else "")
        row(table, e.allocation_id, e.request_id, e.org, e.cluster_id, f"{e.gpus}×{e.gpu_type}", state_text,
                      str(e.attempts), e.submission_id or "-",
                      f"{when(e, 'window_start')} → {when(e, 'window_end')}", when(e, "started_at"),
                      when(e, "ended_at"), e.message or "-")
    console.print(table)


def when(msg: Any, field: str) -> str:
    """A timestamp field as ISO 8601, or ``-`` where it is unset."""
    return str(getattr(msg, field).ToJsonString()) if msg.HasField(field) else "-"


def pages(fetch: Callable[[str], Any], field: str, limit: int | None = None) -> list[Any]:
    out: list[Any] = []
    token = ""
    while True:
        page = fetch(token)
        out.extend(getattr(page, field))
        token = page.next_page_token
        if not token or (limit is not None and len(out) >= limit):
            return out[:limit] if limit is not None else out


def state(name: str) -> str:
    """``ROUND_STATE_PROPOSED`` as ``proposed``."""
    for prefix in ("CLUSTER_STATE_", "REQUEST_STATE_", "ROUND_STATE_", "ALLOCATION_STATE_", "POLICY_"):
        name = name.removeprefix(prefix)
    return name.lower()


def plan(plan: Any) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    table = Table("request", "state", "cluster", "GPU type", "slots", "energy kWh", "CO2 kg", title="allocations")
    for a in plan.assignments:
        flag = " ⚠ stale" if a.flagged_stale else ""
        row(table, a.request_id, state(rnd.AllocationState.Name(a.state)) + flag, a.cluster_id, a.gpu_type,
                      f"[{a.start_slot}, {a.end_slot})", f"{a.energy_kwh:.1f}", f"{a.co2_kg:.1f}")
    console.print(table)
    if plan.rejections:
        table = Table("request", "reason", "detail", title="rejected")
        for r in plan.rejections:
            row(table, r.request_id, r.reason, r.detail)
        console.print(table)
    m = plan.metrics
    console.print(f"GPU-hours {m.gpu_hours:.1f} · energy {m.energy_mwh:.3f} MWh · CO2 {m.co2_t:.3f} t · "
                  f"min attainment {m.min_attainment:.3f} · Jain {m.jain:.3f} · solver {plan.solver.status} "
                  f"in {plan.solver.wall_seconds:.2f}s")


def published(entries: list[Any]) -> None:
    table = Table("round", "published", "slots", "GPU-hours", "energy MWh", "CO2 t", "min attainment", "rejected")
    for e in entries:
        hours = sum(s.gpu_hours for s in e.by_category.values())
        row(table, e.round_id, e.published_at.ToJsonString(), str(e.horizon.slots), f"{hours:.1f}",
                      f"{e.energy_mwh:.3f}", f"{e.co2_t:.3f}", f"{e.min_attainment:.3f}",
                      str(sum(e.rejections_by_reason.values())))
    console.print(table)


def ledger_entry(e: Any) -> None:
    table = Table("request", "title", "org", "category", "cluster", "GPUs", "slots", "energy kWh", "CO2 kg",
                  title=f"round {safe(e.round_id)}, published {e.published_at.ToJsonString()}")
    for a in e.allocations:
        row(table, a.request_id, a.title, a.org, a.category, a.cluster_id, f"{a.gpus}×{a.gpu_type}",
                      f"[{a.start_slot}, {a.end_slot})", f"{a.energy_kwh:.1f}", f"{a.co2_kg:.1f}")
    console.print(table)
    for name, shares in (("category", e.by_category), ("organisation", e.by_org)):
        table = Table(name, "GPU-hours", "share", "requests", "allocated", title=f"shares by {name}")
        for key, s in sorted(shares.items()):
            row(table, key, f"{s.gpu_hours:.1f}", f"{s.share:.1%}", str(s.requests), str(s.allocated))
        console.print(table)
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(e.rejections_by_reason.items())) or "none"
    console.print(f"energy {e.energy_mwh:.3f} MWh · CO2 {e.co2_t:.3f} t · rejections: {reasons}")
    accounts(e)


def accounts(e: Any, out: Console = console) -> None:
    """Planned against actual, per category and in total, and how each side counts energy."""
    from scheduler.ledger import ENERGY_NOTE

    def co2(figures: Any) -> str:
        if not figures.items:
            return "—"
        known = f"{figures.co2_kg:,.2f}" if figures.HasField("co2_kg") else "unknown"
        return known + (f" (+{figures.co2_unknown} unknown)" if figures.HasField("co2_kg") and figures.co2_unknown
                        else "")

    def sci(a: Any) -> str:
        if not a.actual.items:
            return "—"
        return f"{a.sci_actual:,.1f}" if a.HasField("sci_actual") else "unknown"

    table = Table(title=f"round {safe(e.round_id)}: planned against actual", title_justify="left")
    for col in ("category", "allocations", "ran", "GPU-h plan", "GPU-h actual", "kWh plan", "kWh actual",
                "kgCO2e plan", "kgCO2e actual", "SCI g/GPU-h"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for name, a in [*sorted(e.accounts_by_category.items()), ("total", e.accounts)]:
        row(table, name, str(a.planned.items), str(a.actual.items), f"{a.planned.gpu_hours:,.1f}",
                      f"{a.actual.gpu_hours:,.2f}", f"{a.planned.energy_kwh:,.1f}", f"{a.actual.energy_kwh:,.2f}",
                      co2(a.planned), co2(a.actual), sci(a),
                      style="bold" if name == "total" else None)
    out.print(table)
    out.print(f"[dim]{ENERGY_NOTE}[/dim]")


def audit(events: list[Any]) -> None:
    table = Table("#", "when", "who", "role", "action", "subject", "change", "reason")
    for e in events:
        row(table, str(e.seq), e.at.ToJsonString(), e.actor, e.role, e.action,
                      f"{e.subject_kind}/{e.subject_id}", e.detail_json, e.reason)
    console.print(table)


def tokens(found: list[Any]) -> None:
    """Token records from the store (domain objects: this command reads the database, not the API)."""
    table = Table("name", "role", "org / cluster", "created", "state")
    table.add_column("id", overflow="fold")
    for t in found:
        state = Text(f"revoked {t.revoked_at:%Y-%m-%d %H:%M}", "red") if t.revoked else Text("live", "green")
        row(table, t.name, t.role.value, t.org or t.cluster or "", f"{t.created_at:%Y-%m-%d %H:%M}", state, t.id)
    console.print(table)
