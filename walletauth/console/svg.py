"""Charts as inline SVG drawn on the server: no script, no chart library.

A count under 5 (but not 0) is drawn as if it were 5 and labelled "<5", so that no bar
tells one person's presence from another's (the same rule as the tables)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from walletauth.console.html import SMALL_COUNT, count

BAR_HEIGHT: Final = 18
GAP: Final = 6
LABEL_WIDTH: Final = 140
PLOT_WIDTH: Final = 220


def _shown(value: int) -> int:
    return SMALL_COUNT if 0 < value < SMALL_COUNT else value


def bars(title: str, items: Sequence[tuple[str, int]], *, kind: str = "") -> str:
    """Horizontal bars, one per (label, count)."""
    if not items:
        return f"<p class=\"empty\">{escape(title)}: nothing yet.</p>"
    top = max(max(_shown(v) for _, v in items), 1)
    height = len(items) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + PLOT_WIDTH + 60
    parts = [f"<svg role=\"img\" aria-label=\"{escape(title)}\" width=\"{width}\""
             f" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"]
    for index, (label, value) in enumerate(items):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = round(PLOT_WIDTH * _shown(value) / top)
        parts.append(
            f"<text x=\"{LABEL_WIDTH - 6}\" y=\"{y + 13}\" text-anchor=\"end\">"
            f"{escape(label)}</text>"
            f"<rect class=\"bar {kind}\" x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{length}\""
            f" height=\"{BAR_HEIGHT}\"></rect>"
            f"<text x=\"{LABEL_WIDTH + length + 4}\" y=\"{y + 13}\">{count(value)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def columns(title: str, periods: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
            ) -> str:
    """Vertical grouped columns over time: one group per period, one column per series."""
    per_group = len(series)
    column = 10
    group = per_group * column + 8
    plot_height = 140
    width = 40 + group * len(periods)
    height = plot_height + 50
    top = max([_shown(v) for _, values in series for v in values] + [1])
    parts = [f"<svg role=\"img\" aria-label=\"{escape(title)}\" width=\"{width}\""
             f" height=\"{height}\" viewBox=\"0 0 {width} {height}\">",
             f"<line class=\"axis\" x1=\"30\" y1=\"{plot_height + 5}\" x2=\"{width}\""
             f" y2=\"{plot_height + 5}\"></line>",
             f"<text x=\"0\" y=\"12\">{top if top >= SMALL_COUNT else ''}</text>"]
    kinds = ("", "alt", "bad")
    for p_index, period in enumerate(periods):
        x0 = 34 + p_index * group
        for s_index, (_name, values) in enumerate(series):
            value = values[p_index]
            shown = _shown(value)
            bar = round(plot_height * shown / top)
            x = x0 + s_index * column
            parts.append(f"<rect class=\"bar {kinds[s_index % 3]}\" x=\"{x}\""
                         f" y=\"{plot_height + 5 - bar}\" width=\"{column - 1}\""
                         f" height=\"{bar}\"><title>{escape(_name)} {escape(period)}:"
                         f" {count(value).replace('&lt;', '<')}</title></rect>")
        if p_index % 2 == 0:
            parts.append(f"<text x=\"{x0}\" y=\"{plot_height + 20}\">{escape(period)}</text>")
    legend_y = plot_height + 40
    for s_index, (name, _values) in enumerate(series):
        x = 34 + s_index * 110
        parts.append(f"<rect class=\"bar {kinds[s_index % 3]}\" x=\"{x}\" y=\"{legend_y - 9}\""
                     f" width=\"10\" height=\"10\"></rect><text x=\"{x + 14}\" y=\"{legend_y}\">"
                     f"{escape(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)
