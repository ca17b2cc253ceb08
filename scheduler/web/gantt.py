"""Per-cluster Gantt charts of a round's allocations, as server-rendered SVG.

Each cluster gets one chart: its allocations packed into lanes (an allocation takes the
first lane free from its start slot on, so concurrent allocations never overlap and a lane
holds a sequence of them), coloured by category, labelled with the organisation where the bar
is wide enough (the tooltip names the request),
over a time axis that reads in slots and in the dates they stand for.  A chart of hundreds
of lanes shrinks its lanes instead of growing without bound, so a 10,000-request round
stays a page one can scroll.  Colours are presentation attributes, never ``style``: the
console's Content-Security-Policy allows no inline styles.  Pure: strings in, SVG out.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from html import escape

from markupsafe import Markup

from solver.problem import Horizon

PALETTE = ("#1f5fa8", "#e07b24", "#2e9e6a", "#9a4fb5", "#c8374e", "#4aa3c8", "#8a7a2b", "#6b7280")
# the console's series colours (--s0 .. --s7 in console.css), so a category has one colour in every chart
WIDTH, LEFT, RIGHT, TOP, AXIS = 960, 8, 8, 6, 38  # px of the viewBox
LANE_PX, MIN_LANE_PX, MAX_LANES_PX = 18.0, 3.0, 480.0
TICK_STEPS = (1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 96, 168, 336, 672)  # slots between ticks: hours, days, weeks
MAX_TICKS = 12
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"


@dataclass(frozen=True)
class Bar:
    """One allocation as the chart draws it; ``faded`` for one rejected in review, ``pinned`` for a pinned one."""

    request_id: str
    org: str  # the label: who gets the capacity
    category: str
    gpus: int
    gpu_type: str
    start_slot: int
    end_slot: int
    state: str
    pinned: bool = False
    faded: bool = False


def colours(categories: Iterable[str]) -> dict[str, str]:
    """One colour per category, by sorted name, so a category keeps its colour across the clusters of a page."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(set(categories)))}


def pack(bars: Iterable[Bar]) -> list[list[Bar]]:
    """Lanes of non-overlapping bars: each bar, by start, takes the lane that came free first (lowest on ties)."""
    lanes: list[list[Bar]] = []
    free: list[tuple[int, int]] = []  # (slot the lane is free from, lane index)
    for bar in sorted(bars, key=lambda b: (b.start_slot, b.end_slot, b.request_id)):
        if free and free[0][0] <= bar.start_slot:
            _, lane = heapq.heappop(free)
        else:
            lane = len(lanes)
            lanes.append([])
        lanes[lane].append(bar)
        heapq.heappush(free, (bar.end_slot, lane))
    return lanes


def tick_step(slots: int) -> int:
    """The smallest step of :data:`TICK_STEPS` that puts at most :data:`MAX_TICKS` ticks on the axis."""
    return next((s for s in TICK_STEPS if slots / s <= MAX_TICKS), TICK_STEPS[-1])


def slot_labels(horizon: Horizon, slots: Sequence[int]) -> list[str]:
    """When each tick's slot starts, short enough for ticks 80 px apart: the date only where the day changes.

    ``["04 Jan 00:00", "02:00", ..., "05 Jan 00:00"]``: a date on every tick would run the labels into each other.
    """
    labels, day = [], None
    for slot in slots:
        at = horizon.start + timedelta(minutes=slot * horizon.slot_minutes)
        labels.append(at.strftime("%H:%M") if at.date() == day else at.strftime("%d %b %H:%M"))
        day = at.date()
    return labels


def chart(cluster: str, bars: Sequence[Bar], horizon: Horizon, palette: dict[str, str]) -> Markup:
    """The SVG Gantt chart of one cluster's allocations over the round's horizon."""
    lanes = pack(bars)
    lane_h = LANE_PX if len(lanes) * LANE_PX <= MAX_LANES_PX else max(MIN_LANE_PX, MAX_LANES_PX / max(len(lanes), 1))
    plot_w = WIDTH - LEFT - RIGHT
    per_slot = plot_w / horizon.slots
    height = TOP + max(len(lanes), 1) * lane_h + AXIS
    base = TOP + max(len(lanes), 1) * lane_h
    name = escape(cluster)
    out = [f'<svg class="gantt" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
           f'aria-label="Allocations on {name} over the horizon" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="{FONT}" font-size="11">',
           f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{base - TOP:.1f}" fill="#f7f8fa"/>']
    step = tick_step(horizon.slots)
    ticks = range(0, horizon.slots + 1, step)
    for slot, label in zip(ticks, slot_labels(horizon, ticks), strict=True):
        x = LEFT + slot * per_slot
        anchor = "start" if slot == 0 else "end" if slot + step > horizon.slots and slot > 0 else "middle"
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{base + 4:.1f}" stroke="#d0d4db" '
                   f'stroke-width="1"/>')
        out.append(f'<text x="{x:.1f}" y="{base + 16:.1f}" text-anchor="{anchor}" fill="#333">slot {slot}</text>')
        out.append(f'<text x="{x:.1f}" y="{base + 30:.1f}" text-anchor="{anchor}" fill="#666" font-size="10">'
                   f'{escape(label)}</text>')
    for i, lane in enumerate(lanes):
        y = TOP + i * lane_h
        for bar in lane:
            out.append(_bar(bar, y, lane_h, per_slot, palette))
    out.append("</svg>")
    return Markup("".join(out))


def _bar(bar: Bar, y: float, lane_h: float, per_slot: float, palette: dict[str, str]) -> str:
    x = LEFT + bar.start_slot * per_slot
    w = max((bar.end_slot - bar.start_slot) * per_slot, 1.0)
    h = max(lane_h - (2 if lane_h >= 8 else 0.5), 1.0)
    fill = palette.get(bar.category, "#888")
    tip = escape(f"{bar.request_id} · {bar.org} ({bar.category}) · {bar.gpus}×{bar.gpu_type} · "
                 f"slots {bar.start_slot}–{bar.end_slot} · {bar.state}")  # the axis below reads the slots as dates
    extra = ' fill-opacity="0.3" stroke="#555" stroke-dasharray="3 2"' if bar.faded else \
        ' stroke="#111" stroke-width="1.5"' if bar.pinned else ""
    rect = (f'<rect x="{x:.1f}" y="{y + 0.5:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2" fill="{fill}"{extra}>'
            f"<title>{tip}</title></rect>")
    fits = int((w - 6) / 6.2)  # characters that fit, at about 6.2 px each
    if lane_h < 13 or fits < 4:
        return rect
    text = bar.org if len(bar.org) <= fits else bar.org[: fits - 1] + "…"
    return (f'<g>{rect}<text x="{x + 3:.1f}" y="{y + h / 2 + 4.5:.1f}" fill="#fff" font-size="10" '
            f'pointer-events="none">{escape(text)}</text></g>')
