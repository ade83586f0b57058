"""Small bar charts drawn on the server as SVG (no JavaScript): they scale to their card's width."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, AXIS = 320, 120, 18  # the drawing's own units; the page scales it


@dataclass(frozen=True, slots=True)
class Series:
    """One set of bars: its name (for the legend and each bar's tooltip), colour and a value per label."""

    name: str
    colour: str
    values: Sequence[float]


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, shown: Callable[[float], str] = str
) -> Markup:
    """Bars per label, the series side by side; each bar says its value on hover and to screen readers."""
    top = max((value for one in series for value in one.values), default=0) or 1
    slot = WIDTH / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    plot = HEIGHT - AXIS
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'preserveAspectRatio="none">',
        f"<title>{escape(title)}</title>",
        f'<line x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}" stroke="#c7c7cc" stroke-width="1"/>',
    ]
    for index, label in enumerate(labels):
        left = index * slot + slot * 0.1
        for number, one in enumerate(series):
            value = one.values[index]
            height = plot * value / top
            parts.append(
                f'<rect x="{left + number * bar:.1f}" y="{plot - height:.1f}" width="{bar * 0.92:.1f}" '
                f'height="{height:.1f}" fill="{one.colour}" rx="1.5">'
                f"<title>{escape(label)}: {escape(one.name)} {escape(shown(value))}</title></rect>"
            )
        parts.append(
            f'<text x="{index * slot + slot / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle" '
            f'font-size="10" fill="#6e6e73">{escape(label)}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{one.colour}"></i>{escape(one.name)}</span>'
        for one in series
    )
    return Markup("".join(parts) + f'<div class="legend">{legend}</div>')
