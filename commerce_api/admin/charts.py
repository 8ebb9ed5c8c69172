"""Server-rendered SVG charts for the reports: a daily series as bars, an optional second series as a
line with dots on the same scale, and marked days (deploys). No script, no colour-only meaning: bars,
dots and dashed markers differ in shape, and every chart is one image (``role="img"``) with a
``<title>`` and a ``<desc>``; the page puts the same numbers in a table right below it.

Charts only draw: they never read a database, and they never decide what is empty (the page shows
its empty state instead of calling them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 16, 28  # room for the axis labels
BAR = "#1f5fbf"
LINE = "#b34700"
MARK = "#1b1f24"


@dataclass(frozen=True)
class Series:
    name: str  # "Views", said in the legend
    values: list[int]


def short_day(day: str) -> str:
    """2026-11-03 → 3 Nov (the year is in the chart's title)."""
    return date.fromisoformat(day).strftime("%-d %b")


def daily(chart_id: str, days: list[str], bars: Series, *, title: str, summary: str, line: Series | None = None,
          marks: dict[str, str] | None = None, label=str) -> Markup:
    """One chart: ``bars`` per day, ``line`` over them on the same scale, a dashed rule on each day of
    ``marks`` (day → what happened). ``label`` formats a value for the axis (money, counts)."""
    marks = marks or {}
    count = max(len(days), 1)
    top = max([*bars.values, *(line.values if line else [])], default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / count
    base = TOP + plot_h

    def y(value: int) -> float:
        return base - plot_h * value / top

    parts = [f'<line x1="{LEFT}" y1="{base + .5}" x2="{WIDTH - RIGHT}" y2="{base + .5}" stroke="#767676"/>',
             f'<line x1="{LEFT - .5}" y1="{TOP}" x2="{LEFT - .5}" y2="{base}" stroke="#767676"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="12">{escape(label(top))}</text>',
             f'<text x="{LEFT - 6}" y="{base}" text-anchor="end" font-size="12">{escape(label(0))}</text>']
    gap = min(2.0, step / 4)
    for n, value in enumerate(bars.values):
        if value:
            parts.append(f'<rect x="{LEFT + n * step + gap:.1f}" y="{y(value):.1f}" width="{step - 2 * gap:.1f}" '
                         f'height="{base - y(value):.1f}" fill="{BAR}"/>')
    if line:
        points = [(LEFT + (n + .5) * step, y(v)) for n, v in enumerate(line.values)]
        parts.append(f'<polyline fill="none" stroke="{LINE}" stroke-width="2" '
                     f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>')
        radius = 3 if count <= 45 else 2
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{radius}" fill="#fff" stroke="{LINE}" stroke-width="2"/>'
                  for px, py in points]
    for n, day in enumerate(days):
        if day in marks:
            x = LEFT + (n + .5) * step
            parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{base}" stroke="{MARK}" '
                         f'stroke-width="1.5" stroke-dasharray="4 3"/>'
                         f'<path d="M{x - 5:.1f} {TOP - 8} h10 l-5 8 z" fill="{MARK}"/>')
    if days:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="12">{escape(short_day(days[0]))}</text>')
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="12">'
                     f'{escape(short_day(days[-1]))}</text>')
    legend = [f'<span class="key"><svg aria-hidden="true" width="14" height="14"><rect width="14" height="14" '
              f'fill="{BAR}"/></svg> {escape(bars.name)} (bars)</span>']
    if line:
        legend.append(f'<span class="key"><svg aria-hidden="true" width="22" height="14"><line x1="0" y1="7" x2="22" '
                      f'y2="7" stroke="{LINE}" stroke-width="2"/><circle cx="11" cy="7" r="4" fill="#fff" '
                      f'stroke="{LINE}" stroke-width="2"/></svg> {escape(line.name)} (line with dots)</span>')
    if marks:
        legend.append(f'<span class="key"><svg aria-hidden="true" width="14" height="14"><path d="M2 0 h10 l-5 8 z" '
                      f'fill="{MARK}"/><line x1="7" y1="8" x2="7" y2="14" stroke="{MARK}" stroke-dasharray="2 2"/>'
                      f'</svg> a deploy went live (dashed rule)</span>')
    return Markup(
        f'<figure class="chart"><svg role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" style="max-width:{WIDTH}px">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(summary)}</desc>'
        f'{"".join(parts)}</svg><figcaption>{" ".join(legend)}</figcaption></figure>')
