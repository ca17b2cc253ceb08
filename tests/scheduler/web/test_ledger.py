"""The public ledger on the web: no token, published rounds only, and downloads that say what the gRPC API says."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from scheduler.api.gen.allmende.v1 import ledger_pb2 as led
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.web.ledger import as_csv, csv_cell
from scheduler.web.ledger_figures import FIGURES, Figure
from scheduler.web.pages import energy
from tests.scheduler.web.harness import World

Row = dict[str, Any]


@pytest.fixture(scope="module")
def entry(world: World) -> led.LedgerEntry:
    """The round as the gRPC ledger publishes it, asked with no token."""
    found: led.LedgerEntry = world.stubs.ledger.GetLedgerEntry(led.GetLedgerEntryRequest(round_id=world.published))
    return found


def download(world: World, name: str, kind: str) -> tuple[list[Row], list[Row]]:
    """(CSV rows, JSON rows) of one figure, fetched with no token."""
    with world.client() as client:
        got_csv = client.get(f"/ledger/{world.published}/{name}.csv")
        got_json = client.get(f"/ledger/{world.published}/{name}.json")
    assert got_csv.status_code == got_json.status_code == 200
    assert got_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in got_csv.headers["content-disposition"]
    body = json.loads(got_json.text)
    assert body["round_id"] == world.published
    return list(csv.DictReader(io.StringIO(got_csv.text))), body[name]


def optional(message: Any, name: str) -> float | None:
    return getattr(message, name) if message.HasField(name) else None


def same(csv_value: str, value: Any) -> bool:
    """A CSV cell against the API's value: empty for unknown, numbers to full precision."""
    if value is None:
        return csv_value == ""
    if isinstance(value, float):
        return float(csv_value) == pytest.approx(value, rel=1e-12, abs=1e-12)
    return csv_value == str(value)


def check(world: World, name: str, want: list[Row]) -> None:
    rows_csv, rows_json = download(world, name, "csv")
    assert len(rows_csv) == len(rows_json) == len(want), name
    for got_c, got_j, w in zip(rows_csv, rows_json, want, strict=True):
        assert set(got_j) >= set(w)
        for key, value in w.items():
            assert same(got_c[key], value), (name, key, got_c[key], value)
            assert got_j[key] == (pytest.approx(value) if isinstance(value, float) else value), (name, key)


def test_the_ledger_opens_with_no_token(world: World) -> None:
    with world.client() as client:
        listing = client.get("/ledger")
        page = client.get(f"/ledger/{world.published}")
    assert listing.status_code == page.status_code == 200
    assert world.published in listing.text
    assert world.proposed not in listing.text, "a round under review is not public"
    assert page.text.count('<svg class="chart"') == len(FIGURES), "each figure has its plot"
    for name in FIGURES:
        assert f"/ledger/{world.published}/{name}.csv" in page.text and f"/{name}.json" in page.text


@pytest.mark.parametrize("path", [
    pytest.param("/ledger/{proposed}", id="a proposed round"),
    pytest.param("/ledger/{proposed}/allocations.json", id="a proposed round's download"),
    pytest.param("/ledger/round-unknown", id="an unknown round"),
    pytest.param("/ledger/{published}/secrets.json", id="a figure that does not exist"),
    pytest.param("/ledger/{published}/allocations.xml", id="a format that does not exist"),
])
def test_nothing_unpublished_is_there(world: World, path: str) -> None:
    with world.client() as client:
        answer = client.get(path.format(proposed=world.proposed, published=world.published))
    assert answer.status_code == 404


def test_allocations_match_the_api(world: World, entry: led.LedgerEntry) -> None:
    check(world, "allocations", [
        dict(request_id=a.request_id, title=a.title, org=a.org, category=a.category, cluster_id=a.cluster_id,
             gpu_type=a.gpu_type, gpus=a.gpus, start_slot=a.start_slot, end_slot=a.end_slot, energy_kwh=a.energy_kwh,
             co2_kg=optional(a, "co2_kg"), allocation_id=a.allocation_id,
             state=rnd.AllocationState.Name(a.state).removeprefix("ALLOCATION_STATE_").lower())
        for a in entry.allocations])


@pytest.mark.parametrize(("name", "key", "field"), [
    pytest.param("by_category", "category", "by_category", id="by category"),
    pytest.param("by_org", "org", "by_org", id="by organisation"),
])
def test_shares_match_the_api(world: World, entry: led.LedgerEntry, name: str, key: str, field: str) -> None:
    shares = getattr(entry, field)
    check(world, name, [{key: k, "gpu_hours": s.gpu_hours, "share": s.share, "requests": s.requests,
                         "allocated": s.allocated} for k, s in sorted(shares.items())])


def accounts_row(scope: str, name: str, a: led.Accounts) -> Row:
    p, x = a.planned, a.actual
    return dict(scope=scope, name=name, planned_items=p.items, planned_gpu_hours=p.gpu_hours,
                planned_energy_kwh=p.energy_kwh, planned_co2_kg=optional(p, "co2_kg"),
                planned_co2_unknown=p.co2_unknown, actual_items=x.items, actual_gpu_hours=x.gpu_hours,
                actual_energy_kwh=x.energy_kwh, actual_co2_kg=optional(x, "co2_kg"), actual_co2_unknown=x.co2_unknown,
                sci_planned=optional(a, "sci_planned"), sci_actual=optional(a, "sci_actual"))


def test_energy_co2_and_sci_match_the_api(world: World, entry: led.LedgerEntry) -> None:
    check(world, "energy", [
        accounts_row("round", world.published, entry.accounts),
        *(accounts_row("category", k, a) for k, a in sorted(entry.accounts_by_category.items())),
        *(accounts_row("org", k, a) for k, a in sorted(entry.accounts_by_org.items())),
    ])


def test_rejections_and_fairness_match_the_api(world: World, entry: led.LedgerEntry) -> None:
    assert sum(entry.rejections_by_reason.values()) >= 1, "the world's round rejected the folding job"
    check(world, "rejections", [{"reason": k, "requests": v} for k, v in sorted(entry.rejections_by_reason.items())])
    check(world, "fairness", [{"figure": "min_attainment", "value": entry.min_attainment},
                              {"figure": "jain", "value": entry.jain}])


def test_the_ledger_page_shows_the_apis_headline_figures(world: World, entry: led.LedgerEntry) -> None:
    with world.client() as client:
        page = client.get(f"/ledger/{world.published}").text
    assert energy(entry.energy_mwh) in page
    assert f"{entry.min_attainment:,.3f}" in page and f"{entry.jain:,.3f}" in page


@pytest.mark.parametrize(("value", "cell"), [
    pytest.param("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")", id="a formula is defused"),
    pytest.param("-1+2", "'-1+2", id="a leading minus in text too"),
    pytest.param("fold", "fold", id="plain text stays"),
    pytest.param(-1.5, -1.5, id="a negative number stays a number"),
    pytest.param(None, "", id="unknown is empty"),
])
def test_csv_cells_a_spreadsheet_would_run_are_defused(value: Any, cell: Any) -> None:
    assert csv_cell(value) == cell


def test_csv_quotes_commas_and_newlines() -> None:
    from markupsafe import Markup

    figure = Figure("x", "x", ["title"], [["a, b\nc"]], Markup(""))
    assert list(csv.reader(io.StringIO(as_csv(figure)))) == [["title"], ["a, b\nc"]]


def test_a_round_of_ten_thousand_allocations_renders_fast_and_pages_its_tables() -> None:
    import time
    from datetime import UTC, datetime

    from scheduler.access import PUBLIC
    from scheduler.ledger import LedgerEntry, PublicAllocation, Share
    from scheduler.web.ledger import MAX_ROWS
    from scheduler.web.ledger_figures import figures
    from scheduler.web.pages import ENV
    from solver.problem import Horizon

    allocations = [PublicAllocation(request_id=f"req-{i}", title=f"job {i}", org=f"org-{i % 50}",
                                    category=("research", "industry", "education")[i % 3], cluster=f"c{i % 7}",
                                    gpu_type="H100", gpus=1 + i % 8, start_slot=i % 20, end_slot=i % 20 + 4,
                                    energy_kwh=1.5, co2_kg=0.3) for i in range(10_000)]
    entry = LedgerEntry(round_id="round-big", published_at=datetime(2025, 3, 3, tzinfo=UTC),
                        horizon=Horizon(start=datetime(2025, 3, 3, tzinfo=UTC), slots=24), objective="fair",
                        allocations=allocations, by_org={f"org-{i}": Share(gpu_hours=1.0) for i in range(50)})
    started = time.perf_counter()
    page = ENV.get_template("ledger_round.html").render(
        entry=entry, figures=figures(entry), gpu_hours=0.0, max_rows=MAX_ROWS, who=PUBLIC, nav=[], csrf="",
        csrf_field="csrf", path="/ledger/round-big", request=None)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert f"The first {MAX_ROWS} of 10000 rows" in page
    assert page.count("<tr>") < 3 * MAX_ROWS
