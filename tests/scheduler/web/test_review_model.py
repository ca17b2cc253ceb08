"""The review page's data and its Gantt SVG, without a server: rows, pages, sorting, filtering, figures, lanes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from scheduler.domain import AllocationRecord, RoundRecord
from scheduler.errors import InvalidInput
from scheduler.states import AllocationState, RoundState
from scheduler.web import gantt, review
from solver.plan import CategoryMetrics, Metrics, Plan, Rejection, SolverInfo
from solver.problem import Cluster, GpuType, Horizon, PolicyConfig, Problem, Request

T0 = datetime(2025, 3, 3, tzinfo=UTC)
HORIZON = Horizon(start=T0, slot_minutes=60, slots=8)


def request(id: str, category: str = "research", gpus: int = 2, org: str = "uni") -> Request:
    return Request(id=id, org=org, category=category, gpus=gpus, runtime_slots={"H100": 2})


def allocation(request_id: str, start: int, end: int, state: AllocationState = AllocationState.PROPOSED,
               cluster: str = "alpha", energy: float = 2.8) -> AllocationRecord:
    return AllocationRecord(id=f"alloc-{request_id}-{state}", round_id="round-1", request_id=request_id,
                            cluster=cluster, gpu_type="H100", start_slot=start, end_slot=end, state=state,
                            energy_kwh=energy)


def round_record(requests: list[Request], rejected: list[Rejection], *, cap_kw: float | None = 10.0,
                 budget_mwh: float | None = None, metrics: Metrics | None = None) -> RoundRecord:
    problem = Problem(horizon=HORIZON, gpu_types={"H100": GpuType(tdp_watts=700)},
                      clusters=[Cluster(id="alpha", country="DE", gpus={"H100": 8}, power_cap_kw=cap_kw, pue=1.25),
                                Cluster(id="beta", country="DE", gpus={"H100": 8})],
                      requests=requests, policy=PolicyConfig(energy_budget_mwh=budget_mwh))
    plan = Plan(rejected=rejected, metrics=metrics or Metrics(), solver=SolverInfo(status="FEASIBLE", bound=100.0))
    return RoundRecord(id="round-1", horizon=HORIZON, state=RoundState.PROPOSED, problem=problem, plan=plan,
                       created_at=T0, updated_at=T0)


REQUESTS = [request("req-a", gpus=4), request("req-b", "teaching", org="school"), request("req-c"),
            request("req-d", "industry", org="startup")]
REJECTED = [Rejection(request="req-c", reason="capacity", detail="every H100 is taken in slots 0-8")]
HELD = [allocation("req-a", 0, 2), allocation("req-b", 4, 6, AllocationState.APPROVED),
        allocation("req-d", 1, 3, AllocationState.SUPERSEDED), allocation("req-d", 2, 4, AllocationState.REJECTED)]
TITLES = {"req-a": "Protein folding", "req-b": "Course <b>lab</b>", "req-c": "Climate ensemble", "req-d": "LLM"}


def test_every_request_is_one_row_superseded_allocations_are_history() -> None:
    rows = {r.request_id: r for r in review.plan_rows(round_record(REQUESTS, REJECTED), HELD, TITLES)}
    assert list(rows) == ["req-a", "req-b", "req-c", "req-d"]
    assert (rows["req-a"].state, rows["req-a"].cluster, rows["req-a"].start_slot) == ("proposed", "alpha", 0)
    assert rows["req-a"].start == T0 and rows["req-a"].end == datetime(2025, 3, 3, 2, tzinfo=UTC)
    assert (rows["req-c"].state, rows["req-c"].reason, rows["req-c"].planned) == ("not planned", "capacity", False)
    assert (rows["req-d"].state, rows["req-d"].start_slot) == ("rejected", 2)  # the review verdict, not the old plan


def test_a_round_without_a_plan_has_no_rows() -> None:
    record = round_record(REQUESTS, REJECTED).model_copy(update={"plan": None, "state": RoundState.OPEN})
    assert review.plan_rows(record, [], {}) == []
    assert review.metrics(record) == [] and review.categories(record) == []
    assert review.rejections(record, 1).total == 0


@pytest.mark.parametrize(("params", "want"), [
    pytest.param({}, review.TableQuery(), id="no parameters: first page by request id"),
    pytest.param({"page": "3", "sort": "-energy", "q": " lab "},
                 review.TableQuery(page=3, sort="energy", descending=True, q="lab"),
                 id="descending sort, trimmed query"),
    pytest.param({"sort": "", "page": "", "rpage": "2"}, review.TableQuery(rejections_page=2),
                 id="empty values read as the defaults"),
])
def test_query_parameters(params: dict[str, str], want: review.TableQuery) -> None:
    assert review.parse_query(params) == want


@pytest.mark.parametrize(("params", "field"), [
    pytest.param({"sort": "password"}, "sort", id="unknown column"),
    pytest.param({"page": "0"}, "page", id="page zero"),
    pytest.param({"page": "-1"}, "page", id="negative page"),
    pytest.param({"page": "two"}, "page", id="page in words"),
    pytest.param({"rpage": "1.5"}, "rpage", id="fractional rejection page"),
    pytest.param({"q": "x" * 201}, "q", id="query longer than 200 characters"),
])
def test_bad_query_parameters_name_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        review.parse_query(params)
    assert caught.value.field == field


def rows_of(n: int) -> list[review.PlanRow]:
    return [review.PlanRow(request_id=f"req-{i:05d}", title=f"job {i}", org=f"org{i % 3}", category="research",
                           gpus=1 + i % 4, merit=0.5, state="proposed", cluster="alpha", gpu_type="H100",
                           start_slot=i % 7, end_slot=i % 7 + 1, energy_kwh=float(i % 11)) for i in range(n)]


@pytest.mark.parametrize(("query", "total", "pages", "first_ids"), [
    pytest.param(review.TableQuery(), 450, 3, ["req-00000", "req-00001"], id="first page in id order"),
    pytest.param(review.TableQuery(page=3), 450, 3, ["req-00400", "req-00401"], id="last page holds the rest"),
    pytest.param(review.TableQuery(sort="energy", descending=True), 450, 3, ["req-00010", "req-00021"],
                 id="sorted over the whole round before paging, ties by id"),
    pytest.param(review.TableQuery(q="ORG2"), 150, 1, ["req-00002", "req-00005"], id="filter is case-insensitive"),
    pytest.param(review.TableQuery(q="job 44"), 11, 1, ["req-00044", "req-00440"], id="filter matches titles"),
    pytest.param(review.TableQuery(q="nothing like it"), 0, 1, [], id="no match is one empty page"),
])
def test_table_pages_sorts_and_filters_the_whole_round(query: review.TableQuery, total: int, pages: int,
                                                       first_ids: list[str]) -> None:
    page = review.table(rows_of(450), query)
    assert (page.total, page.pages) == (total, pages)
    assert [r.request_id for r in page.items[:2]] == first_ids
    assert len(page.items) == min(review.PAGE_SIZE, total - (query.page - 1) * review.PAGE_SIZE)


def test_a_page_past_the_last_is_an_error_not_an_empty_page() -> None:
    with pytest.raises(InvalidInput, match="page 4 does not exist: there are 3"):
        review.table(rows_of(450), review.TableQuery(page=4))


def test_rejections_carry_the_reason_sentence_and_the_solver_detail() -> None:
    page = review.retitle(review.rejections(round_record(REQUESTS, REJECTED), 1), TITLES)
    assert page.total == 1
    (x,) = page.items
    assert (x.request_id, x.title, x.org, x.reason) == ("req-c", "Climate ensemble", "uni", "capacity")
    assert x.sentence.startswith("every eligible cluster, type and start is full")
    assert x.detail == "every H100 is taken in slots 0-8"


def test_categories_without_a_share_show_no_attainment_or_level() -> None:
    cats = {"research": CategoryMetrics(share=0.6, demand_work=40, fair_share_work=30, work=24, gpu_hours=24,
                                        attainment=0.8, requests=3, assigned=2),
            "teaching": CategoryMetrics(share=0.0, demand_work=8, fair_share_work=0, work=8, gpu_hours=8,
                                        attainment=0.0, requests=1, assigned=1)}
    rows = {c.name: c for c in review.categories(round_record(REQUESTS, REJECTED, metrics=Metrics(categories=cats)))}
    assert rows["research"].attainment == 0.8 and rows["research"].level == pytest.approx(40.0)
    assert rows["research"].work_share == pytest.approx(0.75)
    assert rows["teaching"].attainment is None and rows["teaching"].level is None
    assert rows["teaching"].fair_share_work is None


def test_metrics_name_every_figure_an_operator_reads() -> None:
    labels = [label for label, _, _ in review.metrics(round_record(REQUESTS, REJECTED, metrics=Metrics(value=90.0)))]
    for wanted in ("value", "bound", "gap", "wasted", "justified complaints", "level spread", "min attainment",
                   "Jain's index"):
        assert wanted in labels
    figures = {label: value for label, value, _ in review.metrics(round_record(REQUESTS, REJECTED,
                                                                               metrics=Metrics(value=90.0)))}
    assert figures["gap"] == "10.0%"  # 1 - value / bound, as the live progress line reads it


def test_energy_per_slot_counts_standing_allocations_against_each_cap() -> None:
    record = round_record(REQUESTS, REJECTED, budget_mwh=0.8)
    series = {s.name: s for s in review.energy(record, HELD)}
    assert set(series) == {"all clusters", "alpha"}  # beta has no power cap
    # req-a: 4 GPUs × 700 W × 1 h × PUE 1.25 = 3.5 kWh in slots 0-1; req-b: 2 GPUs → 1.75 kWh in slots 4-5
    assert series["alpha"].kwh == pytest.approx([3.5, 3.5, 0, 0, 1.75, 1.75, 0, 0])
    assert series["alpha"].cap_kwh == pytest.approx(10.0 * 1.25)
    assert series["all clusters"].cap_kwh == pytest.approx(800 / 8)  # the budget spread over the horizon


def test_gantt_bars_skip_superseded_and_fade_review_rejected() -> None:
    bars = review.gantt_bars(round_record(REQUESTS, REJECTED), HELD)
    assert set(bars) == {"alpha", "beta"} and bars["beta"] == []
    assert [(b.request_id, b.faded) for b in bars["alpha"]] == [("req-a", False), ("req-b", False), ("req-d", True)]


def bar(id: str, start: int, end: int, org: str = "t", category: str = "research") -> gantt.Bar:
    return gantt.Bar(request_id=id, org=org, category=category, gpus=1, gpu_type="H100", start_slot=start,
                     end_slot=end, state="proposed")


@pytest.mark.parametrize(("spans", "lanes"), [
    pytest.param([(0, 2), (2, 4), (4, 8)], [["a", "b", "c"]], id="back-to-back allocations share a lane"),
    pytest.param([(0, 4), (1, 3), (3, 5)], [["a"], ["b", "c"]], id="an overlap opens a lane, a freed lane is reused"),
    pytest.param([(0, 8), (0, 8), (0, 8)], [["a"], ["b"], ["c"]], id="concurrent allocations, one lane each"),
    pytest.param([], [], id="an idle cluster has no lanes"),
])
def test_pack_never_overlaps_within_a_lane(spans: list[tuple[int, int]], lanes: list[list[str]]) -> None:
    bars = [bar("abc"[i], s, e) for i, (s, e) in enumerate(spans)]
    assert [[b.request_id for b in lane] for lane in gantt.pack(bars)] == lanes


def test_gantt_escapes_labels_and_reads_slots_and_dates() -> None:
    svg = str(gantt.chart("alpha", [bar("req-x", 0, 8, org='<script>alert(1)</script> & "q"')], HORIZON,
                          gantt.colours(["research"])))
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    assert "slot 0" in svg and "slot 8" in svg and "03 Mar 00:00" in svg and ">08:00<" in svg
    assert 'style=' not in svg  # the CSP forbids inline styles: colours are presentation attributes


@pytest.mark.parametrize(("slots", "minutes", "labels"), [
    pytest.param(6, 60, ["03 Mar 00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00"],
                 id="within a day only the first tick has a date"),
    pytest.param(48, 60, ["03 Mar 00:00", "04:00", "08:00", "12:00", "16:00", "20:00", "04 Mar 00:00", "04:00",
                          "08:00", "12:00", "16:00", "20:00", "05 Mar 00:00"], id="a new day names its date"),
])
def test_tick_dates_stay_short_enough_not_to_overlap(slots: int, minutes: int, labels: list[str]) -> None:
    horizon = HORIZON.model_copy(update={"slots": slots, "slot_minutes": minutes})
    ticks = range(0, slots + 1, gantt.tick_step(slots))
    assert gantt.slot_labels(horizon, ticks) == labels


def test_a_crowded_cluster_shrinks_its_lanes_instead_of_growing_without_bound() -> None:
    svg = str(gantt.chart("alpha", [bar(f"r{i}", 0, 8) for i in range(400)], HORIZON, {}))
    height = float(re.search(r'viewBox="0 0 \d+ ([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    assert svg.count("<rect") == 401  # the background and one bar each
    assert height == pytest.approx(gantt.TOP + 400 * gantt.MIN_LANE_PX + gantt.AXIS)  # not 400 × LANE_PX


def test_each_category_keeps_its_colour() -> None:
    assert gantt.colours(["b", "a", "b"]) == {"a": gantt.PALETTE[0], "b": gantt.PALETTE[1]}
