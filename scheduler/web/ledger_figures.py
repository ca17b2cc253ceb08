"""The public ledger's figures: each a table (for CSV and JSON) and a plot, built from one ledger entry only.

Everything here is read off :class:`scheduler.ledger.LedgerEntry`, the record the ledger's gRPC API
publishes, and nothing else: the console shows no figure the API does not.  Columns are named as
the API's fields are (``cluster_id``, ``gpu_hours``, ``co2_kg``), so a download reads like the API's
JSON; an unknown CO2 or SCI is empty in CSV and ``null`` in JSON, never 0, and a state is written as the
CLI shows it (``approved``, ``succeeded``) rather than as the enum's name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from markupsafe import Markup

from scheduler.ledger import Accounts, LedgerEntry, Share
from scheduler.web.charts import Bar, Stack, bar_chart, stacked_bars

Cell = str | int | float | None


@dataclass(frozen=True)
class Figure:
    name: str  # the download's file name: /ledger/{round}/{name}.csv|json
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    plot: Markup
    note: str = ""

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


def _percent(v: float) -> str:
    return f"{100 * v:.0f}%"


def allocations(e: LedgerEntry) -> Figure:
    columns = ["request_id", "title", "org", "category", "cluster_id", "gpu_type", "gpus", "start_slot", "end_slot",
               "energy_kwh", "co2_kg", "allocation_id", "state"]
    rows: list[list[Cell]] = [[a.request_id, a.title, a.org, a.category, a.cluster, a.gpu_type, a.gpus, a.start_slot,
                               a.end_slot, a.energy_kwh, a.co2_kg, a.allocation_id, a.state] for a in e.allocations]
    hours: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for a in e.allocations:
        hours[a.cluster][a.category] += a.gpus * (a.end_slot - a.start_slot) * e.horizon.slot_hours
    plot = stacked_bars([Stack(c, dict(sorted(parts.items()))) for c, parts in sorted(hours.items())],
                        title="GPU-hours per cluster, by category", unit=" GPU-h")
    return Figure("allocations", "Allocations", columns, rows, plot)


def _shares(name: str, title: str, key: str, shares: Mapping[str, Share]) -> Figure:
    columns = [key, "gpu_hours", "share", "requests", "allocated"]
    rows: list[list[Cell]] = [[k, s.gpu_hours, s.share, s.requests, s.allocated] for k, s in shares.items()]
    plot = bar_chart([Bar(k, s.share) for k, s in shares.items()], title=f"Share of allocated GPU-hours by {key}",
                     fmt=_percent)
    return Figure(name, title, columns, rows, plot)


def by_category(e: LedgerEntry) -> Figure:
    return _shares("by_category", "Allocations by category", "category", e.by_category)


def by_org(e: LedgerEntry) -> Figure:
    return _shares("by_org", "Allocations by organisation", "org", e.by_org)


def _account_row(scope: str, name: str, a: Accounts) -> list[Cell]:
    p, x = a.planned, a.actual
    return [scope, name, p.items, p.gpu_hours, p.energy_kwh, p.co2_known, p.co2_unknown, x.items, x.gpu_hours,
            x.energy_kwh, x.co2_known, x.co2_unknown, a.sci_planned, a.sci_actual]


def energy(e: LedgerEntry) -> Figure:
    """Planned against actual, for the round, per category and per organisation."""
    columns = ["scope", "name", "planned_items", "planned_gpu_hours", "planned_energy_kwh", "planned_co2_kg",
               "planned_co2_unknown", "actual_items", "actual_gpu_hours", "actual_energy_kwh", "actual_co2_kg",
               "actual_co2_unknown", "sci_planned", "sci_actual"]
    rows = [_account_row("round", e.round_id, e.accounts)]
    rows += [_account_row("category", k, a) for k, a in e.accounts_by_category.items()]
    rows += [_account_row("org", k, a) for k, a in e.accounts_by_org.items()]
    bars = [Bar(k, a.planned.energy_kwh, a.actual.energy_kwh if a.actual.items else None)
            for k, a in e.accounts_by_category.items()]
    plot = bar_chart(bars, title="Energy by category (kWh): planned, with actual marked", unit=" kWh",
                     reference_label="actual, where run" if any(b.reference is not None for b in bars) else "")
    note = ("SCI is in gCO2e per GPU-hour (ISO/IEC 21031, embodied carbon included); an empty CO2 or SCI is unknown: "
            "the cluster reports no carbon data.")
    return Figure("energy", "Energy, CO₂ and SCI per GPU-hour", columns, rows, plot, note)


def carbon(e: LedgerEntry) -> Figure:
    """SCI per GPU-hour by category, where CO2 is known."""
    columns = ["category", "sci_planned", "sci_actual", "planned_co2_kg", "actual_co2_kg"]
    rows: list[list[Cell]] = [[k, a.sci_planned, a.sci_actual, a.planned.co2_known, a.actual.co2_known]
                              for k, a in e.accounts_by_category.items()]
    known = [(k, a) for k, a in e.accounts_by_category.items() if a.sci_planned is not None]
    bars = [Bar(k, a.sci_planned or 0.0, a.sci_actual) for k, a in known]
    plot = bar_chart(bars, title="SCI by category (gCO2e per GPU-hour): planned, with actual marked",
                     unit=" g", reference_label="actual, where run" if any(b.reference is not None for b in bars)
                     else "", empty="No category's CO₂ is known: their clusters report no carbon data.")
    return Figure("sci", "Carbon intensity (SCI) by category", columns, rows, plot,
                  "Categories whose CO₂ is unknown are left out of the plot.")


def rejections(e: LedgerEntry) -> Figure:
    rows: list[list[Cell]] = [[k, v] for k, v in e.rejections_by_reason.items()]
    plot = bar_chart([Bar(k, float(v)) for k, v in e.rejections_by_reason.items()], title="Rejections by reason",
                     fmt=lambda v: f"{v:.0f}")
    return Figure("rejections", "Rejections by reason", ["reason", "requests"], rows, plot,
                  "rejected_in_review counts allocations an operator rejected in review.")


def fairness(e: LedgerEntry) -> Figure:
    rows: list[list[Cell]] = [["min_attainment", e.min_attainment], ["jain", e.jain]]
    plot = bar_chart([Bar("min attainment", e.min_attainment), Bar("Jain's index", e.jain)],
                     title="Fairness of what stands after review (1 is perfectly fair)", fmt=lambda v: f"{v:.2f}")
    return Figure("fairness", "Fairness", ["figure", "value"], rows, plot,
                  "Min attainment: the least any category got of its fair share; Jain's index over categories.")


FIGURES: dict[str, Callable[[LedgerEntry], Figure]] = {
    "allocations": allocations, "by_category": by_category, "by_org": by_org, "energy": energy, "sci": carbon,
    "rejections": rejections, "fairness": fairness,
}


def figures(e: LedgerEntry) -> list[Figure]:
    return [build(e) for build in FIGURES.values()]
