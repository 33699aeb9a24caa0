"""Pure parts: SVG charts, locale formatting, language choice, filters (the sign-in throttle lives in
the database now: tests/registry/test_login_throttle.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from registry_service.dashboard import charts, i18n
from registry_service.dashboard.filters import parse_query
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services.queries import EventFilter

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "ceiling", "ticks"),
    [(0, 1, 1), (1, 1, 1), (2, 2, 2), (3, 5, 5), (7, 10, 5), (11, 20, 4), (99, 100, 5), (101, 200, 4), (4999, 5000, 5)],
)
def test_axis_is_round(value: int, ceiling: int, ticks: int) -> None:
    assert charts.nice_ceiling(value) == ceiling
    assert charts.axis_ticks(ceiling) == ticks


def test_daily_chart_stacks_series_and_escapes_nothing_unsafe() -> None:
    days = [
        charts.DayCounts(date(2026, 11, 20), {"refused": 3, "overridden": 1}),
        charts.DayCounts(date(2026, 11, 21), {"would_refuse": 2}),
    ]
    svg = str(charts.daily_chart(days, "zh"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'data-max="5"' in svg
    assert 'data-series="refused" data-day="2026-11-20" data-count="3"' in svg
    assert 'data-series="would_refuse" data-day="2026-11-21" data-count="2"' in svg
    assert "11月20日" in svg and "<script" not in svg
    assert "20 Nov" in str(charts.daily_chart(days, "en"))


def test_stacked_bar_widths_share_one_scale() -> None:
    svg = str(charts.stacked_bar({"refused": 5, "overridden": 5}, 20, width=200))
    assert 'width="50.0" height="16" fill="#c0392b"' in svg
    assert 'x="50.0" y="0" width="50.0"' in svg


def test_formats_per_locale() -> None:
    when = datetime(2026, 11, 21, 18, 5, 9, tzinfo=UTC)
    assert i18n.format_datetime(when, "zh", 8) == "2026年11月22日 02:05:09"
    assert i18n.format_datetime(when, "en", 8) == "22 Nov 2026 02:05:09"
    assert i18n.format_int(1234567, "zh") == "1,234,567"
    assert i18n.format_date(None, "en") == "–"


def test_language_choice_and_reason_text() -> None:
    assert i18n.pick_lang(None, None) == "zh"
    assert i18n.pick_lang("en", "zh") == "en"
    assert i18n.pick_lang("fr", "en") == "en"
    assert i18n.reason_label("inspection_overdue", "zh") == "气瓶超期未检"
    assert i18n.reason_label("unregistered", "en") == "Cylinder not registered with the bureau"  # the station's words
    assert i18n.reason_label("brand_new_code", "zh") == "brand_new_code"


def test_every_message_has_both_languages() -> None:
    for key, pair in i18n.MESSAGES.items():
        assert len(pair) == 2 and all(pair), key


def test_filters_default_to_two_weeks_of_local_days() -> None:
    query = parse_query({}, NOW, 8)
    assert (query.since, query.until) == (date(2026, 11, 9), date(2026, 11, 22))
    flt = query.event_filter(8)
    assert flt.since == datetime(2026, 11, 8, 16, 0, tzinfo=UTC) and flt.until == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert parse_query({"plate": " ", "outcome": ""}, NOW, 8).events == EventFilter()  # empty form fields mean no filter
    # The fields are read as the API reads them (api/event_filter.py): canonical plate, the same checks.
    assert parse_query({"plate": "粤ｂ 12345", "outcome": "refused"}, NOW, 8).events == EventFilter(
        outcomes=(Outcome.REFUSED,), plate="粤B12345"
    )
    with pytest.raises(InvalidInput, match="station is not a code"):
        parse_query({"station": "ST 1"}, NOW, 8)
    assert query.query_string(region="410105", page=1) == "since=2026-11-09&until=2026-11-22&region=410105"
    with pytest.raises(InvalidInput):
        parse_query({"since": "2026-11-23", "until": "2026-11-22"}, NOW, 8)


@pytest.mark.parametrize(
    ("detail", "zh"),
    [
        ("28.8 km in 5 min (345 km/h)", "5 分钟内相距 28.8 公里（约 345 公里/小时）"),
        ("read counter 63 after 68", "读取计数 63，低于上次的 68"),
        ("two fills 28 min apart", "两次加气相隔 28 分钟"),
        ("6 fills on 2026-11-20", "2026-11-20 加气 6 次"),
        ("something new", "something new"),
    ],
)
def test_clone_details_read_in_chinese(detail: str, zh: str) -> None:
    assert i18n.clone_detail(detail, "zh") == zh
    assert i18n.clone_detail(detail, "en") == detail
