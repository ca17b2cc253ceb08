"""Rich tables for the client and token commands: one renderer per kind of record, fed with proto messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from scheduler.cli.output import Col, table
from scheduler.text import is_control

console = Console()
err = Console(stderr=True)


def visible(value: object) -> str:
    """``value`` as text with every control character written out (``\\x1b``): no escape sequence reaches a terminal."""
    text = str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if is_control(ch)
        else ch for ch in text)


def safe(value: object) -> str:
    """User text for a markup string (``f"... {safe(detail)}"``): controls shown, brackets never read as markup."""
    return escape(visible(value))


def row(table: Table, *cells: object, style: str | None = None) -> None:
    """A table row whose cells are plain text: what an applicant wrote is shown as written, never as markup."""
    table.add_row(*(c if isinstance(c, Text) else Text(visible(c)) for c in cells), style=style)


def clusters(clusters: list[Any], wide: bool = False) -> None:
    from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv

    cols = (Col("cluster"), Col("state"), Col("country"), Col("GPUs"), Col("operator", True),
            Col("power cap kW", True), Col("PUE", True), Col("last heartbeat", True))
    rows = [(c.cluster_id, state(inv.ClusterState.Name(c.state)), c.country,
             ", ".join(f"{p.count}×{p.gpu_type}" for p in c.gpus), c.operator,
             f"{c.power_cap_kw:g}" if c.HasField("power_cap_kw") else "-", f"{c.pue:g}", when(c, "last_heartbeat"))
            for c in clusters]
    console.print(table(cols, rows, wide))


def requests(found: list[Any], wide: bool = False) -> None:
    from scheduler.api.gen.allmende.v1 import requests_pb2 as req

    cols = (Col("request"), Col("state"), Col("org"), Col("category"), Col("GPUs"), Col("title"),
            Col("runtime", True), Col("window", True), Col("round", True))
    rows = [(r.request_id, state(req.RequestState.Name(r.state)), r.spec.org, r.spec.category, str(r.spec.gpus),
             r.spec.title, runtime(r.spec), window(r.spec), r.round_id or "-")
            for r in found]
    console.print(table(cols, rows, wide))
    for note in sorted({n for r in found for n in r.notes}):
        err.print(f"[yellow]note:[/yellow] {safe(note)}")


def runtime(spec: Any) -> str:
    """``H100 2.5 h, A100 3 h``; a spec in the deprecated slot fields as ``H100 3 slots``."""
    if spec.runtime_slots:
        return ", ".join(f"{k} {v} slots" for k, v in sorted(spec.runtime_slots.items()))
    return ", ".join(f"{k} {v:g} h" for k, v in sorted(spec.runtime_hours.items()))


def window(spec: Any) -> str:
    """``2026-12-07 09:00 → 2026-12-07 18:00 UTC`` (``…`` for an open end); slots for a deprecated spec."""
    if spec.runtime_slots:
        end = str(spec.deadline_slot) if spec.HasField("deadline_slot") else "end"
        return f"slots {spec.earliest_slot} → {end}"
    if not spec.HasField("earliest") and not spec.HasField("deadline"):
        return "any"
    return f"{instant(spec, 'earliest')} → {instant(spec, 'deadline')} UTC"


def instant(msg: Any, field: str) -> str:
    """A timestamp field as ``2026-12-07 09:00`` in UTC, or ``…`` where it is unset."""
    return f"{getattr(msg, field).ToDatetime():%Y-%m-%d %H:%M}" if msg.HasField(field) else "…"


def rounds(found: list[Any], wide: bool = False) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    cols = (Col("round"), Col("state"), Col("policy"), Col("slots"), Col("requests"), Col("clusters"),
            Col("start", True), Col("progress", True), Col("flagged", True))
    rows = [(r.round_id, state(rnd.RoundState.Name(r.state)), state(rnd.Policy.Name(r.policy)), str(r.horizon.slots),
             str(r.requests), str(r.clusters), r.horizon.start.ToJsonString(),
             f"{r.progress.phase} {r.progress.fraction:.0%}".strip() if r.progress.phase else "-",
             ", ".join(r.flagged_requests) or "-")
            for r in found]
    console.print(table(cols, rows, wide))
    for r in found:
        if r.error:
            err.print(f"[yellow]{r.round_id}:[/yellow] {safe(r.error)}")


def executions(found: list[Any], wide: bool = False) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    cols = (Col("allocation"), Col("request"), Col("org"), Col("cluster"), Col("GPUs"), Col("state"), Col("window"),
            Col("attempts", True), Col("submission id", True), Col("started", True), Col("ended", True),
            Col("message", True))
    rows = [(e.allocation_id, e.request_id, e.org, e.cluster_id, f"{e.gpus}×{e.gpu_type}",
             state(rnd.AllocationState.Name(e.state)) + (" ⚠ replan" if e.replan else ""),
             f"{when(e, 'window_start')} → {when(e, 'window_end')}", str(e.attempts), e.submission_id or "-",
             when(e, "started_at"), when(e, "ended_at"), e.message or "-")
            for e in found]
    console.print(table(cols, rows, wide, title="executions"))


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


def plan(plan: Any, wide: bool = False) -> None:
    from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd

    cols = (Col("request"), Col("state"), Col("cluster"), Col("GPU type"), Col("slots"), Col("time (UTC)"),
            Col("energy kWh", True, "right"), Col("CO2 kg", True, "right"))
    rows = [(a.request_id, state(rnd.AllocationState.Name(a.state)) + (" ⚠ stale" if a.flagged_stale else ""),
             a.cluster_id, a.gpu_type, f"[{a.start_slot}, {a.end_slot})",
             f"{instant(a, 'start')} → {instant(a, 'end')}", f"{a.energy_kwh:.1f}", f"{a.co2_kg:.1f}")
            for a in plan.assignments]
    console.print(table(cols, rows, wide, title="allocations"))
    if plan.rejections:
        reasons = (Col("request"), Col("reason"), Col("detail"))
        console.print(table(reasons, [(r.request_id, r.reason, r.detail) for r in plan.rejections], wide,
                            title="rejected"))
    m = plan.metrics
    console.print(f"GPU-hours {m.gpu_hours:.1f} · energy {m.energy_mwh:.3f} MWh · CO2 {m.co2_t:.3f} t · "
                  f"min attainment {m.min_attainment:.3f} · Jain {m.jain:.3f} · solver {plan.solver.status} "
                  f"in {plan.solver.wall_seconds:.2f}s")


def published(entries: list[Any], wide: bool = False) -> None:
    cols = (Col("round"), Col("slots", justify="right"), Col("GPU-hours", justify="right"),
            Col("energy MWh", justify="right"), Col("CO2 t", justify="right"), Col("rejected", justify="right"),
            Col("published", True), Col("min attainment", True, "right"))
    rows = [(e.round_id, str(e.horizon.slots), f"{sum(s.gpu_hours for s in e.by_category.values()):.1f}",
             f"{e.energy_mwh:.3f}", f"{e.co2_t:.3f}", str(sum(e.rejections_by_reason.values())),
             e.published_at.ToJsonString(), f"{e.min_attainment:.3f}")
            for e in entries]
    console.print(table(cols, rows, wide))


def ledger_entry(e: Any, wide: bool = False) -> None:
    cols = (Col("request"), Col("title"), Col("org"), Col("category"), Col("cluster"), Col("GPUs"),
            Col("slots", True), Col("energy kWh", True, "right"), Col("CO2 kg", True, "right"))
    rows = [(a.request_id, a.title, a.org, a.category, a.cluster_id, f"{a.gpus}×{a.gpu_type}",
             f"[{a.start_slot}, {a.end_slot})", f"{a.energy_kwh:.1f}", f"{a.co2_kg:.1f}") for a in e.allocations]
    console.print(table(cols, rows, wide, title=f"round {safe(e.round_id)}, published "
                                                f"{e.published_at.ToJsonString()}"))
    for name, shares in (("category", e.by_category), ("organisation", e.by_org)):
        share_cols = (Col(name), Col("GPU-hours", justify="right"), Col("share", justify="right"),
                      Col("requests", justify="right"), Col("allocated", justify="right"))
        share_rows = [(key, f"{s.gpu_hours:.1f}", f"{s.share:.1%}", str(s.requests), str(s.allocated))
                      for key, s in sorted(shares.items())]
        console.print(table(share_cols, share_rows, wide, title=f"shares by {name}"))
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(e.rejections_by_reason.items())) or "none"
    console.print(f"energy {e.energy_mwh:.3f} MWh · CO2 {e.co2_t:.3f} t · rejections: {safe(reasons)}")
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

    from scheduler.cli.output import Col, table

    groups = [*sorted(e.accounts_by_category.items()), ("total", e.accounts)]
    cols = [Col("category"), *(Col(name, justify="right") for name in (
        "allocations", "ran", "GPU-h plan", "GPU-h actual", "kWh plan", "kWh actual", "kgCO2e plan", "kgCO2e actual",
        "SCI g/GPU-h"))]
    rows = [(name, str(a.planned.items), str(a.actual.items), f"{a.planned.gpu_hours:,.1f}",
             f"{a.actual.gpu_hours:,.2f}", f"{a.planned.energy_kwh:,.1f}", f"{a.actual.energy_kwh:,.2f}",
             co2(a.planned), co2(a.actual), sci(a)) for name, a in groups]
    out.print(table(cols, rows, True, title=f"round {safe(e.round_id)}: planned against actual",
                    styles=["bold" if name == "total" else None for name, _ in groups]))
    out.print(f"[dim]{ENERGY_NOTE}[/dim]")


def audit(events: list[Any], wide: bool = False) -> None:
    cols = (Col("#", justify="right"), Col("when"), Col("who"), Col("action"), Col("subject"), Col("reason"),
            Col("role", True), Col("change", True))
    rows = [(str(e.seq), e.at.ToJsonString(), e.actor, e.action, f"{e.subject_kind}/{e.subject_id}", e.reason,
             e.role, e.detail_json) for e in events]
    console.print(table(cols, rows, wide))


def tokens(found: list[Any], wide: bool = False) -> None:
    """Token records from the store (domain objects: this command reads the database, not the API)."""
    cols = (Col("id"), Col("name"), Col("role"), Col("org / cluster"), Col("state"), Col("created", True))
    rows = [(t.id, t.name, t.role.value, t.org or t.cluster or "",
             Text(f"revoked {t.revoked_at:%Y-%m-%d %H:%M}", "red") if t.revoked else Text("live", "green"),
             f"{t.created_at:%Y-%m-%d %H:%M}") for t in found]
    console.print(table(cols, rows, wide))
