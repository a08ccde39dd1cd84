"""Charts as inline SVG strings: no JavaScript, no fonts, no network.

Each chart is an ``<svg role="img" aria-label="...">`` with a ``<title>``, scales with its
container (viewBox, width 100 %), and escapes every piece of text it draws, since labels
are configured names that may contain ``<``, ``&`` or quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 480
VALUE_WIDTH = 120  # room right of the longest bar for "1.234 (59,2 %)"
BAR_HEIGHT = 16
ROW_HEIGHT = 44  # label line + bar + gap
GAP = 4
BAR_COLOUR = "#1f5f8b"
# Compliance colours: at or above GOOD green, at or above FAIR amber, below red.
GOOD, FAIR = 90.0, 75.0
GREEN, AMBER, RED = "#2e7d32", "#a35f00", "#c62828"
# Longest label drawn in full; longer ones are shortened with an ellipsis (full text in
# the <title> of the bar, so screen readers and hover still get it).
MAX_LABEL_CHARS = 48


@dataclass(frozen=True, kw_only=True)
class Bar:
    label: str
    value: float
    text: str
    """What is printed after the bar (e.g. "274 (59,2 %)")."""


def compliance_colour(value: float) -> str:
    if value >= GOOD:
        return GREEN
    return AMBER if value >= FAIR else RED


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _open(title: str, height: int) -> str:
    t = escape(title)
    return (
        f'<svg role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" class="chart"><title>{t}</title>'
    )


def hbars(
    title: str, bars: Sequence[Bar], *, maximum: float | None = None, colour_by_value: bool = False
) -> Markup:
    """Horizontal bars, each with its label above it (full text, readable on a phone)."""
    if not bars:
        return Markup("")
    top = maximum if maximum is not None else max((b.value for b in bars), default=0) or 1
    area = WIDTH - VALUE_WIDTH
    height = len(bars) * ROW_HEIGHT + GAP
    parts = [_open(title, height)]
    for i, bar in enumerate(bars):
        y = GAP + i * ROW_HEIGHT
        length = max(area * bar.value / top, 0) if top else 0
        colour = compliance_colour(bar.value) if colour_by_value else BAR_COLOUR
        parts.append(
            f"<g><title>{escape(bar.label)}: {escape(bar.text)}</title>"
            f'<text x="0" y="{y + 14}" class="lbl">{escape(_short(bar.label))}</text>'
            f'<rect x="0" y="{y + 20}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'rx="3" fill="{colour}"/>'
            f'<text x="{length + 6:.1f}" y="{y + 20 + BAR_HEIGHT - 3}" class="val">'
            f"{escape(bar.text)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: str, bars: Sequence[Bar], *, maximum: float = 100.0) -> Markup:
    """Vertical columns (e.g. compliance per month, 0-100 %) with labels underneath."""
    if not bars:
        return Markup("")
    chart_h, base = 170, 200
    step = (WIDTH - 40) / len(bars)
    width = max(min(step * 0.7, 40), 4)
    parts = [_open(title, base + 40)]
    for frac in (0.0, 0.5, 1.0):  # grid lines at 0, 50 and 100 %
        y = base - chart_h * frac
        parts.append(
            f'<line x1="36" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="32" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{maximum * frac:.0f}</text>"
        )
    for i, bar in enumerate(bars):
        x = 40 + i * step + (step - width) / 2
        h = chart_h * max(min(bar.value / maximum, 1.0), 0.0)
        label_size = "axis" if len(bars) <= 7 else "axis tiny"
        parts.append(
            f"<g><title>{escape(bar.label)}: {escape(bar.text)}</title>"
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
            f'fill="{compliance_colour(bar.value)}"/>'
            f'<text x="{x + width / 2:.1f}" y="{base - h - 5:.1f}" text-anchor="middle" '
            f'class="{label_size}">{escape(bar.text)}</text>'
            f'<text x="{x + width / 2:.1f}" y="{base + 16}" text-anchor="middle" '
            f'class="{label_size}">{escape(bar.label)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
