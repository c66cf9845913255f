"""Small inline SVG bar charts for the status page (no JavaScript, no chart library).

A chart library would bring a JavaScript bundle or an image pipeline for a
few rectangles; an SVG of ``<rect>`` elements with ``<title>`` tooltips is
what the page needs, and the browser draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

#: Fill per run status; anything else is grey.
COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "terminated": "#c62828",
    "abandoned": "#c62828",
    "quota_exhausted": "#ef6c00",
    "refused": "#757575",
    "running": "#1565c0",
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a run's value for one stream.

    Attributes:
        value: The bar's height in records (0 draws a stub, so the run still shows).
        status: The run's status, which colours the bar.
        title: The tooltip (run id, time, value).
        href: Where a click goes (the run), or None.
    """

    value: int
    status: str
    title: str
    href: str | None = None


def bar_chart(
    bars: list[Bar], *, slots: int = 20, width: int = 220, height: int = 44, label: str = ""
) -> Markup:
    """An SVG bar chart scaled to the largest value: ``slots`` places, the newest bar at the
    right edge, so charts of streams with fewer runs still line up by recency."""
    gap = 2
    slots = max(len(bars), slots, 1)
    first = slots - len(bars)
    bar_w = max(2.0, (width - gap * (slots - 1)) / slots)
    top = max((b.value for b in bars), default=0) or 1
    svg = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
    ).format(w=width, h=height, label=label)
    for i, bar in enumerate(bars):
        bar_h = max(2.0, (height - 2) * bar.value / top)
        rect = Markup(
            '<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}" '
            'data-status="{status}"><title>{title}</title></rect>'
        ).format(
            x=(first + i) * (bar_w + gap),
            y=height - bar_h,
            w=bar_w,
            h=bar_h,
            fill=COLOURS.get(bar.status, "#9e9e9e"),
            status=bar.status,
            title=bar.title,
        )
        if bar.href:
            rect = Markup('<a href="{href}">{rect}</a>').format(href=bar.href, rect=rect)
        svg += rect
    return svg + Markup("</svg>")
