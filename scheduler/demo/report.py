"""The demo's self-contained HTML report: a published round's ledger, planned beside actual, with four plots.

Built only from what the public ledger publishes (``GetLedgerEntry``) plus the round's energy budget,
so it shows nothing the public API does not.  Plots are PNGs embedded as data URIs, so the file can be
mailed or archived alone.  Times are the round's own: with the demo's compressed clock a slot of the
horizon lasts a few seconds of wall-clock time, and actual runs are mapped back onto the horizon.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from typing import Any

from scheduler.api.gen.allmende.v1 import ledger_pb2
from scheduler.ledger import ENERGY_NOTE


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _hours(entry: ledger_pb2.LedgerEntry, when: Any) -> float:
    """Hours since the horizon's start of a Timestamp in round time."""
    return float(when.ToDatetime().timestamp() - entry.horizon.start.ToDatetime().timestamp()) / 3600.0


def gantt(entry: ledger_pb2.LedgerEntry) -> str:
    """Allocation per cluster over time: planned windows as light bars, actual runs as dark ticks inside them."""
    import matplotlib.pyplot as plt

    clusters = sorted({a.cluster_id for a in entry.allocations})
    fig, axes = plt.subplots(len(clusters) or 1, 1, figsize=(9, 1.2 + 1.7 * len(clusters)), squeeze=False,
                             sharex=True, layout="constrained")
    slot_h = entry.horizon.slot_minutes / 60.0
    for ax, cluster in zip(axes[:, 0], clusters, strict=False):
        rows = [a for a in entry.allocations if a.cluster_id == cluster]
        for i, a in enumerate(sorted(rows, key=lambda a: (a.start_slot, a.request_id))):
            ax.barh(i, (a.end_slot - a.start_slot) * slot_h, left=a.start_slot * slot_h, height=0.7,
                    color="#9ecae1", edgecolor="#3182bd")
            if a.HasField("actual"):
                s, e = _hours(entry, a.actual.started_at), _hours(entry, a.actual.ended_at)
                ax.barh(i, max(e - s, 0.05), left=s, height=0.35, color="#08306b")
        ax.set_title(cluster, fontsize=9, loc="left")
        ax.set_yticks([])
        ax.set_xlim(0, entry.horizon.slots * slot_h)
    axes[-1, 0].set_xlabel("hours of the round (light: allocated window, dark: actual run)")
    return _png(fig)


def shares(entry: ledger_pb2.LedgerEntry, targets: dict[str, float]) -> str:
    """GPU-hours by category, planned and actual, with each category's share of the planned total and its target."""
    import matplotlib.pyplot as plt

    cats = sorted(entry.accounts_by_category)
    planned = [entry.accounts_by_category[c].planned.gpu_hours for c in cats]
    actual = [entry.accounts_by_category[c].actual.gpu_hours for c in cats]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    x = range(len(cats))
    ax.bar([i - 0.2 for i in x], planned, width=0.4, label="planned GPU-hours", color="#9ecae1")
    ax.bar([i + 0.2 for i in x], actual, width=0.4, label="actual GPU-hours", color="#08306b")
    total = sum(planned) or 1.0
    for i, c in enumerate(cats):
        target = f", target {targets[c]:.0%}" if c in targets else ""
        ax.annotate(f"{planned[i] / total:.0%}{target}", (i, max(planned[i], actual[i])), ha="center", va="bottom",
                    fontsize=8)
    ax.set_xticks(list(x), cats)
    ax.set_ylim(0, max([*planned, *actual, 1.0]) * 1.2)
    ax.legend(fontsize=8)
    return _png(fig)


def energy(entry: ledger_pb2.LedgerEntry, budget_mwh: float | None) -> str:
    """Cumulative energy over the round, planned and actual, against the programme's energy cap."""
    import matplotlib.pyplot as plt

    slot_h = entry.horizon.slot_minutes / 60.0
    per_slot: dict[int, float] = defaultdict(float)
    for a in entry.allocations:
        for s in range(a.start_slot, a.end_slot):
            per_slot[s] += a.energy_kwh / max(a.end_slot - a.start_slot, 1)
    ts = [s * slot_h for s in range(entry.horizon.slots + 1)]
    planned, run = [], 0.0
    for s in range(entry.horizon.slots + 1):
        planned.append(run)
        run += per_slot.get(s, 0.0)
    ran = sorted((_hours(entry, a.actual.ended_at), a.actual.energy_kwh) for a in entry.allocations
                 if a.HasField("actual"))
    actual_t, actual_y, acc = [0.0], [0.0], 0.0
    for t, kwh in ran:
        acc += kwh
        actual_t.append(t)
        actual_y.append(acc)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(ts, planned, label="planned (cumulative)", color="#3182bd")
    ax.step(actual_t, actual_y, where="post", label="actual (cumulative)", color="#08306b")
    top = max([*planned, *actual_y, 1.0])
    if budget_mwh is not None:
        ax.axhline(budget_mwh * 1000, color="#de2d26", linestyle="--", label=f"energy cap {budget_mwh:,.2f} MWh")
        top = max(top, budget_mwh * 1000)
    ax.set_ylim(0, top * 1.1)
    ax.set_xlim(0, entry.horizon.slots * slot_h)
    ax.set_xlabel("hours of the round")
    ax.set_ylabel("kWh")
    ax.legend(fontsize=8)
    return _png(fig)


def co2(entry: ledger_pb2.LedgerEntry) -> str:
    """kgCO2e per allocation, planned and actual; allocations on clusters without carbon data are marked unknown."""
    import matplotlib.pyplot as plt

    rows = sorted(entry.allocations, key=lambda a: a.request_id)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    x = list(range(len(rows)))
    planned = [a.co2_kg if a.HasField("co2_kg") else 0.0 for a in rows]
    actual = [a.actual.co2_kg if a.HasField("actual") and a.actual.HasField("co2_kg") else 0.0 for a in rows]
    ax.bar([i - 0.2 for i in x], planned, width=0.4, label="planned", color="#a1d99b")
    ax.bar([i + 0.2 for i in x], actual, width=0.4, label="actual", color="#006d2c")
    top = max([*planned, *actual, 0.001])
    for i, a in enumerate(rows):
        if not a.HasField("co2_kg"):
            ax.annotate("unknown", (i, 0), rotation=90, ha="center", va="bottom", fontsize=7, color="#636363")
    ax.set_xticks(x, [_label(a) for a in rows], rotation=90, fontsize=6)
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("kgCO2e")
    ax.legend(fontsize=8)
    return _png(fig)


def _label(a: ledger_pb2.PublicAllocation) -> str:
    """An allocation as the public reads it: organisation and the start of the title."""
    title = a.title if len(a.title) <= 28 else a.title[:27] + "…"
    return f"{a.org}: {title}"


def _fmt(value: float | None, spec: str = "{:,.1f}") -> str:
    return "unknown" if value is None else spec.format(value)


def _opt(msg: Any, field: str) -> float | None:
    return getattr(msg, field) if msg.HasField(field) else None


def render(entry: ledger_pb2.LedgerEntry, budget_mwh: float | None, targets: dict[str, float]) -> str:
    """The report as one HTML document."""
    e = html.escape
    acc = entry.accounts
    rows = "".join(
        f"<tr><td>{e(a.request_id)}</td><td>{e(a.org)}</td><td>{e(a.category)}</td><td>{e(a.cluster_id)}</td>"
        f"<td>{a.gpus}×{e(a.gpu_type)}</td><td>{a.start_slot}–{a.end_slot}</td>"
        f"<td>{_state(a.state)}</td>"
        f"<td>{a.energy_kwh:,.1f}</td><td>{_fmt(a.actual.energy_kwh) if a.HasField('actual') else '—'}</td>"
        f"<td>{_fmt(_opt(a, 'co2_kg'), '{:,.2f}')}</td>"
        f"<td>{_fmt(_opt(a.actual, 'co2_kg'), '{:,.3f}') if a.HasField('actual') else '—'}</td></tr>"
        for a in sorted(entry.allocations, key=lambda a: a.request_id)
    )
    cats = "".join(
        f"<tr><td>{e(c)}</td><td>{x.planned.gpu_hours:,.1f}</td><td>{x.actual.gpu_hours:,.2f}</td>"
        f"<td>{x.planned.energy_kwh:,.1f}</td><td>{x.actual.energy_kwh:,.2f}</td>"
        f"<td>{_fmt(_opt(x.planned, 'co2_kg'), '{:,.2f}')}</td><td>{_fmt(_opt(x.actual, 'co2_kg'), '{:,.3f}')}</td>"
        f"<td>{_fmt(_opt(x, 'sci_actual'))}</td></tr>"
        for c, x in sorted(entry.accounts_by_category.items())
    )
    reasons = ", ".join(f"{e(k)}: {v}" for k, v in sorted(entry.rejections_by_reason.items())) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Allmende: {e(entry.round_id)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.note{{color:#555;font-size:13px}}img{{max-width:100%}}</style></head>
<body><h1>Allmende: {e(entry.round_id)}</h1>
<p>{len(entry.allocations)} allocations; planned {acc.planned.gpu_hours:,.1f} GPU-hours,
{acc.planned.energy_kwh:,.1f} kWh,
{_fmt(_opt(acc.planned, 'co2_kg'), '{:,.2f}')} kgCO2e; actual {acc.actual.gpu_hours:,.2f} GPU-hours,
{acc.actual.energy_kwh:,.2f} kWh, {_fmt(_opt(acc.actual, 'co2_kg'), '{:,.3f}')} kgCO2e over {acc.actual.items} runs;
SCI {_fmt(_opt(acc, 'sci_actual'))} gCO2e per GPU-hour.
Min attainment {entry.min_attainment:.3f}, Jain {entry.jain:.3f}.
Rejections by reason: {reasons}.</p>
<p class="note">{e(ENERGY_NOTE)}</p>
<h2>Allocation per cluster over time</h2><img alt="allocations per cluster" src="{gantt(entry)}">
<h2>Shares by category</h2><img alt="shares by category" src="{shares(entry, targets)}">
<table><tr><th>category</th><th>planned GPU-h</th><th>actual GPU-h</th><th>planned kWh</th><th>actual kWh</th>
<th>planned kgCO2e</th><th>actual kgCO2e</th><th>SCI g/GPU-h</th></tr>{cats}</table>
<h2>Energy against the cap</h2><img alt="energy against the cap" src="{energy(entry, budget_mwh)}">
<h2>CO2 per allocation</h2><img alt="CO2 per allocation" src="{co2(entry)}">
<h2>Allocations</h2><table><tr><th>request</th><th>org</th><th>category</th><th>cluster</th><th>GPUs</th><th>slots</th>
<th>state</th><th>planned kWh</th><th>actual kWh</th><th>planned kgCO2e</th><th>actual kgCO2e</th></tr>{rows}</table>
</body></html>
"""


def _state(value: int) -> str:
    from scheduler.api.gen.allmende.v1 import rounds_pb2

    return str(rounds_pb2.AllocationState.Name(value)).removeprefix("ALLOCATION_STATE_").lower()
