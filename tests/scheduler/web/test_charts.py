"""SVG charts: every datum lies inside the plot area, every text is escaped, bad input is a clear error."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from scheduler.web.charts import Bar, Stack, axis, bar_chart, nice_ceiling, series_chart, stacked_bars

NS = "{http://www.w3.org/2000/svg}"
values = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
signed = st.floats(min_value=-1e6, max_value=1e7, allow_nan=False, allow_infinity=False)
labels = st.text(min_size=1, max_size=40)


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


def classes(e: ET.Element) -> set[str]:
    return set(e.get("class", "").split())


def plot_box(root: ET.Element) -> tuple[float, float, float, float]:
    area = next(e for e in root.iter() if "plot-area" in classes(e))
    x, y = float(area.get("x", 0)), float(area.get("y", 0))
    return x, y, x + float(area.get("width", 0)), y + float(area.get("height", 0))


def points(e: ET.Element) -> list[tuple[float, float]]:
    """The corners or ends of a datum's shape."""
    tag = e.tag.removeprefix(NS)
    g = {k: float(v) for k, v in e.attrib.items() if k in ("x", "y", "width", "height", "x1", "y1", "x2", "y2",
                                                           "cx", "cy")}
    if tag == "rect":
        return [(g["x"], g["y"]), (g["x"] + g["width"], g["y"] + g["height"])]
    if tag == "line":
        return [(g["x1"], g["y1"]), (g["x2"], g["y2"])]
    if tag == "circle":
        return [(g["cx"], g["cy"])]
    if tag == "polyline":
        return [(float(a), float(b)) for a, b in (p.split(",") for p in e.get("points", "").split())]
    raise AssertionError(f"unexpected datum {tag}")


def assert_inside(svg: Markup) -> None:
    root = parse(svg)
    data = [e for e in root.iter() if "datum" in classes(e)]
    if not data and not any("plot-area" in classes(e) for e in root.iter()):
        assert any("empty" in classes(e) for e in root.iter()), "an empty chart says so"
        return
    left, top, right, bottom = plot_box(root)
    for e in data:
        for x, y in points(e):
            assert left - 0.06 <= x <= right + 0.06 and top - 0.06 <= y <= bottom + 0.06, (e.tag, e.attrib)
        if e.tag.removeprefix(NS) == "rect":
            assert float(e.get("width", 0)) >= 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(labels, values, st.none() | values), max_size=12))
def test_bars_and_their_references_stay_inside_the_plot(rows: list[tuple[str, float, float | None]]) -> None:
    assert_inside(bar_chart([Bar(label, v, ref) for label, v, ref in rows], title="bars", reference_label="ref"))


@settings(max_examples=60, deadline=None)
@given(st.lists(signed, max_size=60), st.none() | signed)
def test_a_series_and_its_cap_stay_inside_the_plot(series: list[float], cap: float | None) -> None:
    assert_inside(series_chart(series, title="energy per slot", cap=cap, step=True))
    assert_inside(series_chart(series, title="energy per slot", cap=cap, step=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(labels, st.dictionaries(labels, values, max_size=5)), max_size=8))
def test_stacks_stay_inside_the_plot(rows: list[tuple[str, dict[str, float]]]) -> None:
    assert_inside(stacked_bars([Stack(label, parts) for label, parts in rows], title="stacks"))


def test_the_energy_figure_that_once_hid_its_data_now_shows_use_and_cap() -> None:
    """Issue 8: about 105 MWh used against a 100 MWh cap was drawn on a 0-100 axis; both must show."""
    svg = series_chart([20.0, 35.0, 50.0], title="energy", cap=100.0)
    assert axis([105.0, 100.0]) == (0.0, 120.0)
    assert_inside(svg)
    assert_inside(bar_chart([Bar("used", 105.0, 100.0)], title="energy against the cap"))


@pytest.mark.parametrize(("value", "ceiling"), [
    pytest.param(0.0, 1.0, id="nothing to show still has an axis"),
    pytest.param(0.7, 0.8, id="a fraction"),
    pytest.param(1.0, 1.0, id="exactly a round number"),
    pytest.param(105.0, 120.0, id="just past a hundred"),
    pytest.param(-3.0, 1.0, id="only negative data: the positive side is empty"),
    pytest.param(2.1, 2.4, id="two and a bit"),
    pytest.param(4999.0, 5000.0, id="just under five thousand"),
])
def test_axis_ends_at_a_round_number_at_or_above_the_data(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == ceiling


@pytest.mark.parametrize(("values", "ends"), [
    pytest.param([1.0], (0.0, 4.0), id="one rejection: whole ticks 0 to 4"),
    pytest.param([5.0, 2.0], (0.0, 8.0), id="five: whole ticks of 2"),
    pytest.param([0.5], (0.0, 0.5), id="a fraction keeps a fine axis"),
    pytest.param([-3.0, 2.0], (-4.0, 4.0), id="whole numbers on both sides"),
    pytest.param([32.0, 48.0], (0.0, 48.0), id="48 GPUs: ticks of 12"),
    pytest.param([105.0], (0.0, 120.0), id="105: ticks of 30"),
    pytest.param([0.0], (0.0, 4.0), id="nothing but zeros"),
])
def test_counts_get_whole_ticks(values: list[float], ends: tuple[float, float]) -> None:
    assert axis(values) == ends


def test_labels_and_titles_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    for svg in (bar_chart([Bar(evil, 1.0)], title=evil, unit=evil),
                stacked_bars([Stack(evil, {evil: 1.0})], title=evil),
                series_chart([1.0], title=evil, x_label=evil, cap=2.0, cap_label=evil)):
        assert "<script>" not in svg
        parse(svg)  # still well-formed XML
        assert "&lt;script&gt;" in svg


@pytest.mark.parametrize(("draw", "message"), [
    pytest.param(lambda: bar_chart([Bar("a", math.nan)], title="t"), "a value: nan", id="NaN bar"),
    pytest.param(lambda: bar_chart([Bar("a", -1.0)], title="t"), "must not be negative", id="negative bar"),
    pytest.param(lambda: bar_chart([Bar("a", 1.0, math.inf)], title="t"), "a reference: inf", id="infinite mark"),
    pytest.param(lambda: series_chart([1.0, math.inf], title="t"), "slot 1: inf", id="infinite slot"),
    pytest.param(lambda: stacked_bars([Stack("a", {"b": -2.0})], title="t"), "a/b", id="negative part"),
])
def test_bad_data_is_a_clear_error(draw: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        draw()  # type: ignore[operator]


def test_no_inline_style_anywhere() -> None:
    """The CSP allows no inline style: colours come from classes."""
    svg = bar_chart([Bar("a", 1.0, 0.5)], title="t") + series_chart([1.0], title="t", cap=1.0)
    assert "style=" not in svg and "<style" not in svg
