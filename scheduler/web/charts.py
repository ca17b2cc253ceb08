"""Server-rendered SVG charts: no script, no inline style, every text escaped, axes that always hold the data.

Three shapes cover the console's figures:

- :func:`bar_chart`: horizontal bars with an optional reference mark on each (attainment against share);
- :func:`series_chart`: a series over slots against a cap (energy per slot against the energy cap), drawn as
  steps (a slot's value holds for the whole slot) or as a line;
- :func:`stacked_bars`: horizontal bars split into named parts (GPU-hours per cluster by category).

An axis runs from ``min(0, data)`` to a round number at or above every value it must show (the data, the
references and the cap), so nothing is drawn off the plot.  Colours come from CSS classes (``series-N``,
``reference``, ``cap``) in ``static/console.css``: the Content-Security-Policy allows no inline styles.
Each plotted datum carries ``class="datum"`` and the plot area ``class="plot-area"``, which the tests read.
Bad input (NaN, infinities, negative bars) raises ``ValueError`` naming the datum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH = 640
ROW = 26  # height of one bar row
PAD = 8
TICKS = 4
SERIES = 8  # series-0 .. series-7 in the stylesheet
STEPS = (1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)  # round numbers whose quarters are round too
FINEST = 1e-9  # the smallest axis: finer values are drawn as if they were this
MAX_LABEL = 28  # characters of a label shown; the whole label is in its tooltip
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
Format = Callable[[float], str]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    reference: float | None = None  # a mark across the bar: the target it is read against


@dataclass(frozen=True)
class Stack:
    label: str
    parts: Mapping[str, float] = field(default_factory=dict)  # part name -> value, drawn in the order given


def plain(value: float) -> str:
    """A tick or value label: thousands separated, at most two decimals, no trailing zeros."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nice_ceiling(value: float) -> float:
    """The smallest of :data:`STEPS` × 10^k at or above ``value`` (1 for nothing to show, 10^-9 at least)."""
    if value <= 0:
        return 1.0
    value = max(value, FINEST)
    base = 10.0 ** math.floor(math.log10(value))
    for step in STEPS:
        if step * base >= value * (1 - 1e-12):
            return step * base
    return 10.0 * base  # pragma: no cover - the loop ends at 10 × base, which is always enough


def axis(values: Sequence[float]) -> tuple[float, float]:
    """(low, high) of an axis that holds every value: from ``min(0, values)`` to a nice number above them.

    Whole numbers (counts) get whole, round ticks (12, 24, 36, 48 for 48 GPUs).
    """
    low = min(0.0, *values) if values else 0.0
    high = max(0.0, *values) if values else 0.0
    top = nice_ceiling(high) if high > 0 else (0.0 if low < 0 else 1.0)
    bottom = -nice_ceiling(-low) if low < 0 else 0.0
    if values and all(float(v).is_integer() for v in values):
        top = _whole_end(high) if high > 0 else (0.0 if low < 0 else float(TICKS))
        bottom = -_whole_end(-low)
    return bottom, top


def _whole_end(end: float) -> float:
    """The end of an axis of whole numbers: :data:`TICKS` ticks of a round whole step, at or past ``end``."""
    return TICKS * max(1, math.ceil(nice_ceiling(end / TICKS))) if end > 0 else 0.0


def _text(value: str) -> Markup:
    """Escaped, without the control characters XML cannot hold (a title may carry any of them)."""
    return escape(CONTROL.sub("", str(value)))


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name}: {value} is not a finite number")
    return float(value)


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _nothing(title: str, empty: str) -> Markup:
    note = f'<text class="empty" x="{WIDTH / 2:.0f}" y="24" text-anchor="middle">{_text(empty)}</text>'
    return _svg(title, 40, [note])


def _svg(title: str, height: float, body: list[str]) -> Markup:
    t = _text(title)
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{t}" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>{"".join(body)}</svg>')


def _x_ticks(low: float, high: float, x: Callable[[float], float], top: float, bottom: float,
             fmt: Format) -> list[str]:
    out = []
    for i in range(TICKS + 1):
        v = low + (high - low) * i / TICKS
        px = x(v)
        out.append(f'<line class="grid" x1="{px:.1f}" y1="{top:.1f}" x2="{px:.1f}" y2="{bottom:.1f}"/>'
                   f'<text class="tick" x="{px:.1f}" y="{bottom + 14:.1f}" text-anchor="middle">'
                   f"{_text(fmt(v))}</text>")
    return out


def bar_chart(bars: Sequence[Bar], *, title: str, unit: str = "", fmt: Format = plain,
              reference_label: str = "", empty: str = "Nothing to plot.") -> Markup:
    """Horizontal bars, one row each, with an optional reference mark; the value is written after each bar."""
    if not bars:
        return _nothing(title, empty)
    values = [_finite(f"{b.label} value", b.value) for b in bars]
    refs = [_finite(f"{b.label} reference", b.reference) for b in bars if b.reference is not None]
    if any(v < 0 for v in values):
        raise ValueError("bar values must not be negative")
    _, high = axis([*values, *refs])
    label_w = min(max((len(_label(b.label)) for b in bars), default=4) * 7 + 12, 220)
    left, right = label_w, WIDTH - 70
    top = 10 + (18 if reference_label else 0)
    bottom = top + max(len(bars), 1) * ROW
    def x(v: float) -> float:
        return left + (right - left) * v / high
    body = [f'<rect class="plot-area" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>',
            *_x_ticks(0.0, high, x, top, bottom, fmt)]
    if reference_label:
        body.append(f'<line class="reference" x1="{left}" y1="8" x2="{left}" y2="20"/>'
                    f'<text class="legend" x="{left + 6}" y="18">{_text(reference_label)}</text>')
    for i, b in enumerate(bars):
        y = top + i * ROW
        tip = _text(f"{b.label}: {fmt(b.value)}{unit}" + (f" (reference {fmt(b.reference)}{unit})"
                                                            if b.reference is not None else ""))
        body.append(f'<g><title>{tip}</title>'
                    f'<text class="label" x="{left - 6}" y="{y + ROW / 2 + 4:.1f}" text-anchor="end">'
                    f"{_text(_label(b.label))}</text>"
                    f'<rect class="datum series-{i % SERIES}" x="{left}" y="{y + 5}" width="{x(b.value) - left:.1f}" '
                    f'height="{ROW - 10}"/>'
                    f'<text class="value" x="{x(max(b.value, b.reference or 0.0)) + 5:.1f}" y="{y + ROW / 2 + 4:.1f}">'
                    f"{_text(fmt(b.value) + unit)}</text>")
        if b.reference is not None:
            rx = x(b.reference)
            body.append(f'<line class="datum reference" x1="{rx:.1f}" y1="{y + 2}" x2="{rx:.1f}" y2="{y + ROW - 2}"/>')
        body.append("</g>")
    return _svg(title, bottom + 24, body)


def stacked_bars(stacks: Sequence[Stack], *, title: str, unit: str = "", fmt: Format = plain,
                 empty: str = "Nothing to plot.") -> Markup:
    """Horizontal bars split into parts; each part name keeps its colour across bars, with a legend on top.

    Parts take colours in sorted order, as the bars of a sorted list do, so that on a page that plots the same
    categories both ways a category has one colour.
    """
    if not stacks:
        return _nothing(title, empty)
    names = sorted({n for s in stacks for n in s.parts})
    for s in stacks:
        for n, v in s.parts.items():
            if _finite(f"{s.label}/{n}", v) < 0:
                raise ValueError(f"{s.label}/{n}: stacked parts must not be negative")
    totals = [sum(s.parts.values()) for s in stacks]
    _, high = axis(totals)
    label_w = min(max((len(_label(s.label)) for s in stacks), default=4) * 7 + 12, 220)
    left, right = label_w, WIDTH - 70
    legend_rows = max(1, math.ceil(len(names) / 4))
    top = 10 + 18 * legend_rows
    bottom = top + max(len(stacks), 1) * ROW
    def x(v: float) -> float:
        return left + (right - left) * v / high
    body = [f'<rect class="plot-area" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>',
            *_x_ticks(0.0, high, x, top, bottom, fmt)]
    colour = {n: i % SERIES for i, n in enumerate(names)}
    for i, n in enumerate(names):
        lx, ly = left + (i % 4) * 140, 8 + 18 * (i // 4)
        body.append(f'<rect class="series-{colour[n]}" x="{lx}" y="{ly}" width="10" height="10"/>'
                    f'<text class="legend" x="{lx + 14}" y="{ly + 9}">{_text(_label(n))}</text>')
    for i, (s, total) in enumerate(zip(stacks, totals, strict=True)):
        y = top + i * ROW
        body.append(f'<text class="label" x="{left - 6}" y="{y + ROW / 2 + 4:.1f}" text-anchor="end">'
                    f"<title>{_text(s.label)}</title>{_text(_label(s.label))}</text>")
        start = 0.0
        for n, v in s.parts.items():
            if v <= 0:
                continue
            body.append(f'<rect class="datum series-{colour[n]}" x="{x(start):.1f}" y="{y + 5}" '
                        f'width="{x(start + v) - x(start):.1f}" height="{ROW - 10}">'
                        f"<title>{_text(f'{s.label} / {n}: {fmt(v)}{unit}')}</title></rect>")
            start += v
        body.append(f'<text class="value" x="{x(total) + 4:.1f}" y="{y + ROW / 2 + 4:.1f}">'
                    f"{_text(fmt(total) + unit)}</text>")
    return _svg(title, bottom + 24, body)


def series_chart(values: Sequence[float], *, title: str, cap: float | None = None, unit: str = "",
                 x_label: str = "slot", cap_label: str = "cap", step: bool = True, fmt: Format = plain) -> Markup:
    """One value per slot against an optional cap; ``step`` holds each value across its slot."""
    points = [_finite(f"{x_label} {i}", v) for i, v in enumerate(values)]
    limit = None if cap is None else _finite(cap_label, cap)
    low, high = axis([*points, *([] if limit is None else [limit])])
    left, right, top, bottom = 64, WIDTH - 16, 28, 208
    n = max(len(points), 1)
    def x(i: float) -> float:
        return left + (right - left) * i / n
    def y(v: float) -> float:
        return bottom - (bottom - top) * (v - low) / (high - low)
    body = [f'<rect class="plot-area" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>']
    for i in range(TICKS + 1):
        v = low + (high - low) * i / TICKS
        body.append(f'<line class="grid" x1="{left}" y1="{y(v):.1f}" x2="{right}" y2="{y(v):.1f}"/>'
                    f'<text class="tick" x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_text(fmt(v))}</text>')
    every = max(1, math.ceil(n / 12))
    for i in range(0, n + 1, every):
        body.append(f'<text class="tick" x="{x(i):.1f}" y="{bottom + 14}" text-anchor="middle">{i}</text>')
    body.append(f'<text class="axis-label" x="{right}" y="{bottom + 30}" text-anchor="end">{_text(x_label)}</text>')
    if points:
        if step:
            coords = [f"{x(i):.1f},{y(v):.1f} {x(i + 1):.1f},{y(v):.1f}" for i, v in enumerate(points)]
        else:
            coords = [f"{x(i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(points)]
        body.append(f'<polyline class="datum series-line" points="{" ".join(coords)}"/>')
        for i, v in enumerate(points):
            cx = x(i + 0.5)
            body.append(f'<circle class="datum series-point" cx="{cx:.1f}" cy="{y(v):.1f}" r="3">'
                        f"<title>{_text(f'{x_label} {i}: {fmt(v)}{unit}')}</title></circle>")
    legend = f'<line class="series-line" x1="{left}" y1="12" x2="{left + 18}" y2="12"/>' \
             f'<text class="legend" x="{left + 22}" y="16">{_text(title)}</text>'
    if limit is not None:
        body.append(f'<line class="datum cap" x1="{left}" y1="{y(limit):.1f}" x2="{right}" y2="{y(limit):.1f}">'
                    f"<title>{_text(f'{cap_label}: {fmt(limit)}{unit}')}</title></line>")
        legend += (f'<line class="cap" x1="{left + 260}" y1="12" x2="{left + 278}" y2="12"/>'
                   f'<text class="legend" x="{left + 282}" y="16">{_text(f"{cap_label} ({fmt(limit)}{unit})")}</text>')
    body.append(legend)
    return _svg(title, bottom + 36, body)
