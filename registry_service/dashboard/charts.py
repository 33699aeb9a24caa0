"""Charts as server-rendered SVG: no JavaScript library, no build step, and the same picture in a
browser, a screenshot or a printed report. Every label is escaped; numbers come from queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from registry_service.dashboard.i18n import Lang, format_day_short, format_int, translate

# Problem outcomes in stacking order, with their colours (also used by the CSS legend).
SERIES: tuple[tuple[str, str], ...] = (
    ("refused", "#c0392b"),
    ("overridden", "#e67e22"),
    ("would_refuse", "#8e7cc3"),
)


@dataclass(frozen=True)
class DayCounts:
    day: date
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.get(name, 0) for name, _ in SERIES)


def nice_ceiling(value: int) -> int:
    """A round axis maximum (1, 2, 5 x 10^n) at or above `value`, so gridlines read easily."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def axis_ticks(top_value: int) -> int:
    """How many gridline steps split `top_value` into whole numbers (1, 2, 5 x 10^n maxima)."""
    if str(top_value)[0] == "2" and top_value % 4 == 0:
        return 4  # 0, 5, 10, 15, 20
    for ticks in (5, 4):
        if top_value % ticks == 0:
            return ticks  # 0, 2, 4, 6, 8, 10 / 0, 1, 2, 3, 4, 5
    return top_value


def daily_chart(days: Sequence[DayCounts], lang: Lang, width: int = 860, height: int = 260) -> Markup:
    """Stacked bars per day (refused, overridden, would-refuse) with a y axis and a legend."""
    left, right, top, bottom = 48, 12, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((d.total for d in days), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" data-max="{top_value}">',
        f"<title>{escape(translate('per_day', lang))}</title>",
    ]
    ticks = axis_ticks(top_value)
    for i in range(ticks + 1):
        value = top_value * i // ticks
        y = top + plot_h - plot_h * i / ticks
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{format_int(value, lang)}</text>')
    slot = plot_w / max(len(days), 1)
    bar_w = max(2.0, slot * 0.7)
    label_every = max(1, round(len(days) / 10))
    for index, day in enumerate(days):
        x = left + index * slot + (slot - bar_w) / 2
        y = top + plot_h
        for name, colour in SERIES:
            count = day.counts.get(name, 0)
            if not count:
                continue
            h = plot_h * count / top_value
            y -= h
            tip = f"{format_day_short(day.day, lang)} {translate(name, lang)}: {format_int(count, lang)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}" '
                f'data-series="{name}" data-day="{day.day.isoformat()}" data-count="{count}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">'
                f"{escape(format_day_short(day.day, lang))}</text>"
            )
    parts.append(_legend(left, 16, lang))
    parts.append("</svg>")
    return Markup("".join(parts))


def text_width(text: str, size: float = 12) -> float:
    """Rough advance width: CJK glyphs are square, Latin ones about 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def _legend(x: float, y: float, lang: Lang) -> str:
    items = []
    for name, colour in SERIES:
        label = escape(translate(name, lang))
        items.append(
            f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.0f}" y="{y:.0f}" class="legend">{label}</text>'
        )
        x += 36 + text_width(str(label))
    return "".join(items)


def stacked_bar(counts: Mapping[str, int], scale_max: int, width: int = 260, height: int = 16) -> Markup:
    """One horizontal stacked bar for a table row; all rows share `scale_max` so they compare."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-hidden="true">',
        f'<rect x="0" y="0" width="{width}" height="{height}" class="track"/>',
    ]
    x = 0.0
    for name, colour in SERIES:
        count = counts.get(name, 0)
        if count <= 0:
            continue
        w = width * count / max(scale_max, 1)
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{colour}" data-series="{name}"/>')
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))
