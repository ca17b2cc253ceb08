"""What a run or a sweep writes: CSV tables (and Parquet when pyarrow is installed), PNG plots, and one
self-contained HTML report with the plots embedded, so the report can be mailed or archived alone.

Tables of a run: ``summary`` (one row per run or variant), ``rounds`` (one row per round), ``requests``
(one row per request and its outcome) and ``utilisation`` (site × day).  Tables of a sweep: ``sweep``
(one row per point: its parameters, then its summary) and ``rounds``.
"""

from __future__ import annotations

import base64
import csv
import html
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulations import plots
from simulations.metrics import Summary
from simulations.records import RoundOutcome, RunResult
from simulations.sweep import SweepResult

Row = dict[str, Any]
HEADLINE = [
    ("requests", "requests", "{:,}"), ("acceptance", "acceptance", "{:.1%}"), ("gpu_hours", "GPU-hours", "{:,.0f}"),
    ("wait_p50_h", "wait p50 (h)", "{:.1f}"), ("wait_p90_h", "wait p90 (h)", "{:.1f}"),
    ("utilisation", "utilisation", "{:.1%}"), ("energy_mwh", "energy (MWh)", "{:,.1f}"), ("co2_t", "tCO2", "{:,.2f}"),
    ("sci_g_per_gpu_h", "SCI (g/GPU-h)", "{:.1f}"), ("jain_orgs", "Jain (orgs)", "{:.3f}"),
    ("gini_orgs", "Gini (orgs)", "{:.3f}"), ("top10_share", "top-10 share", "{:.1%}"),
    ("mean_min_attainment", "mean min attainment", "{:.3f}"),
]


def round_rows(rounds: list[RoundOutcome], **key: Any) -> list[Row]:
    rows = []
    for r in rounds:
        row: Row = dict(key) | {
            "round": r.round, "start": r.start.isoformat(), "new": r.new, "carried": r.carried, "offered": r.offered,
            "assigned": r.assigned, "expired": r.expired, "gpu_hours": r.gpu_hours,
            "capacity_gpu_hours": r.capacity_gpu_hours, "energy_mwh": r.energy_mwh,
            "energy_budget_mwh": r.energy_budget_mwh, "co2_t": r.co2_t, "carbon_budget_t": r.carbon_budget_t,
            "min_attainment": r.min_attainment, "solver_seconds": r.solver_seconds,
        }
        row |= {f"attainment.{c}": v for c, v in r.attainment.items()}
        row |= {f"offered.{c}": v for c, v in r.offered_by_category.items()}
        row |= {f"assigned.{c}": v for c, v in r.assigned_by_category.items()}
        row |= {f"utilisation.{c}": v for c, v in r.utilisation.items()}
        rows.append(row)
    return rows


def run_tables(runs: dict[str, RunResult], summaries: dict[str, Summary]) -> dict[str, list[Row]]:
    tables: dict[str, list[Row]] = {"summary": [], "rounds": [], "requests": [], "utilisation": []}
    for name, run in runs.items():
        tables["summary"].append({"run": name, "seed": run.seed} | summaries[name].flat())
        tables["rounds"] += round_rows(run.rounds, run=name)
        tables["requests"] += [{"run": name} | asdict(o) for o in run.outcomes]
        for r in run.rounds:
            for c, days in r.daily_used_gpu_h.items():
                tables["utilisation"] += [
                    {"run": name, "cluster": c, "day": r.first_day + i, "used_gpu_h": u,
                     "offered_gpu_h": r.daily_offered_gpu_h[c][i]} for i, u in enumerate(days)
                ]
    return tables


def sweep_tables(sweep: SweepResult) -> dict[str, list[Row]]:
    tables: dict[str, list[Row]] = {"sweep": [], "rounds": []}
    for p in sweep.points:
        tables["sweep"].append({"point": p.index} | p.params | p.summary.flat())
        tables["rounds"] += round_rows(p.rounds, point=p.index)
    return tables


def write_tables(tables: dict[str, list[Row]], out: Path) -> list[Path]:
    """Each table as CSV, and as Parquet when pyarrow is importable; columns are the union of row keys."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in tables.items():
        columns = list(dict.fromkeys(k for row in rows for k in row))
        full = [{c: row.get(c) for c in columns} for row in rows]
        path = out / f"{name}.csv"
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(full)
        written.append(path)
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            continue
        if full:
            pq.write_table(pa.Table.from_pylist(full), out / f"{name}.parquet")
            written.append(out / f"{name}.parquet")
    return written


def _img(title: str, png: bytes) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"></figure>'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, intro: str, sections: list[str]) -> str:
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:right}th{background:#f3f3f3}img{max-width:100%}figure{margin:1em 0}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"
            + "".join(sections) + "</body></html>")


def _save(figures: dict[str, bytes], out: Path) -> list[str]:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        (out / "plots" / f"{name}.png").write_bytes(png)
    return [_img(name, png) for name, png in figures.items()]


def write_run_report(runs: dict[str, RunResult], summaries: dict[str, Summary], out: Path, intro: str = "") -> Path:
    """Tables, plots and ``report.html`` for one scenario (one run per variant)."""
    write_tables(run_tables(runs, summaries), out)
    headline = _table(["run", *(label for _, label, _ in HEADLINE)],
                      [[n, *(fmt.format(getattr(s, f)) for f, _, fmt in HEADLINE)] for n, s in summaries.items()])
    cats = sorted({c for s in summaries.values() for c in s.acceptance_by_category})
    by_cat = _table(["run", "category", "acceptance", "GPU-hours"], [
        [n, c, f"{s.acceptance_by_category.get(c, 0):.1%}", f"{s.gpu_hours_by_category.get(c, 0):,.0f}"]
        for n, s in summaries.items() for c in cats
    ])
    figures = {
        "attainment": plots.attainment_over_time(runs), "lorenz": plots.lorenz_curves(runs),
        "energy": plots.energy_against_cap(runs), "waiting": plots.waiting_times(runs),
    } | {f"utilisation-{n}": plots.utilisation_heatmap(r) for n, r in runs.items()}
    title = " vs ".join(runs)
    sections = ["<h2>Summary</h2>", headline, "<h2>By category</h2>", by_cat, "<h2>Figures</h2>", *_save(figures, out)]
    path = out / "report.html"
    path.write_text(_page(f"Allmende simulation: {title}", intro, sections))
    return path


def write_sweep_report(sweep: SweepResult, names: list[str], out: Path, intro: str = "") -> Path:
    """Tables, plots and ``report.html`` for a sweep: one row per point, acceptance against the parameters."""
    write_tables(sweep_tables(sweep), out)
    rows = [[str(p.index), *(str(p.params[n]) for n in names), str(p.seed),
             *(fmt.format(getattr(p.summary, f)) for f, _, fmt in HEADLINE)] for p in sweep.points]
    table = _table(["point", *names, "seed", *(label for _, label, _ in HEADLINE)], rows)
    figures = {"acceptance": plots.acceptance_against_parameters(sweep.points, names)}
    note = f"{len(sweep.points)} points, {sweep.mode}, {sweep.wall_seconds:.1f} s wall."
    sections = [f"<p>{html.escape(note)}</p>", "<h2>Points</h2>", table, "<h2>Figures</h2>", *_save(figures, out)]
    path = out / "report.html"
    path.write_text(_page(f"Allmende sweep: {sweep.name}", intro, sections))
    return path
