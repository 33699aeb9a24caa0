"""Charts as server-rendered SVG: no JavaScript library, no build step, and the same picture in a
browser, a screenshot or a printed report. Every label is escaped; numbers come from queries.

Values are written on the chart (a total above each bar, a number beside each row), never only in a
hover tooltip. A long range is drawn per week or per month so that every bar keeps its label. The
period that contains today is still filling up: it is drawn paler, outlined with a dashed line and
named in the legend, so nobody reads today's morning as a quiet day.

Two drawings of the same numbers: columns for a wide screen (daily_chart) and one row per period
for a phone (daily_rows), where columns would shrink their labels below legibility; the page's CSS
shows one of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from babel.dates import format_skeleton
from markupsafe import Markup, escape

from registry_service.dashboard.i18n import Words

# Problem outcomes in stacking order (members of the "outcome" message family), with their colours
# (also used by the CSS legend).
SERIES: tuple[tuple[str, str], ...] = (
    ("refused", "#c0392b"),
    ("overridden", "#e67e22"),
    ("would_refuse", "#8e7cc3"),
)
MUTED = "#52606d"
PARTIAL_OPACITY = "0.5"
# Up to this many days a bar is a day; up to WEEKLY_UP_TO a week (Monday to Sunday); beyond, a month.
DAILY_UP_TO = 31
WEEKLY_UP_TO = 120


@dataclass(frozen=True)
class DayCounts:
    day: date
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.get(name, 0) for name, _ in SERIES)


@dataclass(frozen=True)
class Bucket:
    """One bar: the days from `start` to `end` (inclusive) that the range covers."""

    start: date
    end: date
    unit: str  # "day", "week" or "month"
    counts: Mapping[str, int]
    partial: bool  # holds today: the period is not over

    @property
    def total(self) -> int:
        return sum(self.counts.get(name, 0) for name, _ in SERIES)


def chart_unit(days: Sequence[DayCounts]) -> str:
    """What one bar stands for over this many days: "day", "week" or "month"."""
    if len(days) <= DAILY_UP_TO:
        return "day"
    return "week" if len(days) <= WEEKLY_UP_TO else "month"


def buckets(days: Sequence[DayCounts], today: date | None = None) -> list[Bucket]:
    """The days summed per day, week or month (chart_unit), in order."""
    unit = chart_unit(days)
    grouped: dict[date, list[DayCounts]] = {}
    for day in days:
        grouped.setdefault(_period_start(day.day, unit), []).append(day)
    result = []
    for members in grouped.values():
        counts = {name: sum(d.counts.get(name, 0) for d in members) for name, _ in SERIES}
        start, end = members[0].day, members[-1].day
        result.append(Bucket(start, end, unit, counts, today is not None and start <= today <= end))
    return result


def _period_start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day


def bucket_label(bucket: Bucket, words: Words) -> str:
    """11月22日 / Nov 22 for a day or the first day of a week, 11月 / Nov for a month."""
    if bucket.unit == "month":
        return format_skeleton("MMM", bucket.start, locale=words.locale)
    return words.day_short(bucket.start)


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


def text_width(text: str, size: float = 12) -> float:
    """Rough advance width: CJK glyphs are square, Latin ones about 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def _title(words: Words, bars: Sequence[Bucket]) -> str:
    unit = bars[0].unit if bars else "day"
    return {"day": words.gettext("per_day"), "week": words.gettext("per_week"), "month": words.gettext("per_month")}[unit]


def _tip(bucket: Bucket, words: Words, name: str, count: int) -> str:
    return f"{bucket_label(bucket, words)} {words.label('outcome', name)}: {words.integer(count)}"


def daily_chart(
    days: Sequence[DayCounts], words: Words, today: date | None = None, width: int = 860, height: int = 270
) -> Markup:
    """Stacked columns per period (refused, overridden, would-refuse) with a y axis, a legend and
    each column's total written above it."""
    bars = buckets(days, today)
    left, right, legend_h, bottom = 48, 12, 30, 34
    slot = (width - left - right) / max(len(bars), 1)
    bar_w = max(2.0, slot * 0.7)
    value_size = 11.0
    widest = max((text_width(words.integer(b.total), value_size) for b in bars), default=0.0)
    upright = widest + 2 <= slot  # else the totals stand on end above their columns
    top = legend_h + (value_size + 4 if upright else widest + 6)
    plot_h = height - top - bottom
    top_value = nice_ceiling(max((b.total for b in bars), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" data-max="{top_value}">',
        f"<title>{escape(_title(words, bars))}</title>",
    ]
    ticks = axis_ticks(top_value)
    for i in range(ticks + 1):
        value = top_value * i // ticks
        y = top + plot_h - plot_h * i / ticks
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{words.integer(value)}</text>')
    labelled = _labelled(bars)
    for index, bucket in enumerate(bars):
        x = left + index * slot + (slot - bar_w) / 2
        y = top + plot_h
        opacity = f' fill-opacity="{PARTIAL_OPACITY}"' if bucket.partial else ""
        for name, colour in SERIES:
            count = bucket.counts.get(name, 0)
            if not count:
                continue
            h = plot_h * count / top_value
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"{opacity} '
                f'data-series="{name}" data-day="{bucket.start.isoformat()}" data-count="{count}">'
                f"<title>{escape(_tip(bucket, words, name, count))}</title></rect>"
            )
        if bucket.partial:
            parts.append(
                f'<rect x="{x - 1:.1f}" y="{top:.1f}" width="{bar_w + 2:.1f}" height="{plot_h:.1f}" class="partial" '
                f'fill="none" stroke="{MUTED}" stroke-dasharray="4 3" data-partial="{bucket.start.isoformat()}"/>'
            )
        centre = x + bar_w / 2
        total = escape(words.integer(bucket.total))
        if upright:
            parts.append(f'<text x="{centre:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="value">{total}</text>')
        else:
            parts.append(
                f'<text x="{centre + 4:.1f}" y="{y - 4:.1f}" transform="rotate(-90 {centre + 4:.1f} {y - 4:.1f})" '
                f'class="value">{total}</text>'
            )
        if index in labelled:
            parts.append(
                f'<text x="{centre:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">'
                f"{escape(bucket_label(bucket, words))}</text>"
            )
    parts.append(_legend(left, 16, words, any(b.partial for b in bars))[0])
    parts.append("</svg>")
    return Markup("".join(parts))


def _labelled(bars: Sequence[Bucket]) -> set[int]:
    """Which columns get a date under them: about ten evenly spaced, and always the unfinished one
    (a neighbour too close to it gives way)."""
    every = max(1, round(len(bars) / 10))
    chosen = set(range(0, len(bars), every))
    for index, bucket in enumerate(bars):
        if bucket.partial:
            chosen = {i for i in chosen if abs(i - index) * 2 >= every} | {index}
    return chosen


def daily_rows(days: Sequence[DayCounts], words: Words, today: date | None = None, width: int = 360) -> Markup:
    """The same periods as rows for a narrow screen: its date, a stacked bar and its total."""
    bars = buckets(days, today)
    row_h, label_w, value_w = 24, 64, 52
    plot_w = width - label_w - value_w
    legend, legend_bottom = _legend(0, 16, words, any(b.partial for b in bars), wrap_at=width)
    legend_h = legend_bottom + 10
    height = legend_h + row_h * len(bars) + 4
    scale = max((b.total for b in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-rows" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f"<title>{escape(_title(words, bars))}</title>",
        legend,
    ]
    for index, bucket in enumerate(bars):
        y = legend_h + index * row_h
        x = float(label_w)
        opacity = f' fill-opacity="{PARTIAL_OPACITY}"' if bucket.partial else ""
        parts.append(f'<text x="0" y="{y + 16}" class="axis">{escape(bucket_label(bucket, words))}</text>')
        for name, colour in SERIES:
            count = bucket.counts.get(name, 0)
            if not count:
                continue
            w = plot_w * count / scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"{opacity} '
                f'data-series="{name}" data-day="{bucket.start.isoformat()}" data-count="{count}">'
                f"<title>{escape(_tip(bucket, words, name, count))}</title></rect>"
            )
            x += w
        if bucket.partial:
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="{row_h - 6}" class="partial" fill="none" '
                f'stroke="{MUTED}" stroke-dasharray="4 3" data-partial="{bucket.start.isoformat()}"/>'
            )
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 16}" class="value">{escape(words.integer(bucket.total))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(x: float, y: float, words: Words, partial: bool, wrap_at: float | None = None) -> tuple[str, float]:
    """The series' colours and names, and the dashed mark of a period not over yet (when there is
    one); with the baseline of its last line (it wraps at `wrap_at`)."""
    start = x
    items = []
    entries: list[tuple[str, str]] = [(colour, str(escape(words.label("outcome", name)))) for name, colour in SERIES]
    if partial:
        entries.append(("", str(escape(words.gettext("chart_partial")))))
    for colour, label in entries:
        size = 16 + text_width(label) + 20
        if wrap_at is not None and x > start and x + size > wrap_at:
            x, y = start, y + 20
        if colour:
            items.append(f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{colour}"/>')
        else:
            items.append(
                f'<rect x="{x + 0.5:.1f}" y="{y - 9.5:.1f}" width="11" height="11" fill="none" stroke="{MUTED}" '
                'stroke-dasharray="3 2"/>'
            )
        items.append(f'<text x="{x + 16:.0f}" y="{y:.0f}" class="legend">{label}</text>')
        x += size
    return "".join(items), y


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
