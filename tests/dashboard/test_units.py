"""Pure parts: SVG charts, locale formatting, which locales serve a ?lang=, filters (the sign-in
throttle lives in the database now: tests/registry/test_login_throttle.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from registry_service.dashboard import charts, i18n
from registry_service.dashboard.filters import parse_query
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services.clones import Suspect
from registry_service.services.queries import EventFilter
from tag_tools.messages import LOCALE_PATH_ENV, own_name

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ZH, EN = i18n.Words.of("zh_CN"), i18n.Words.of("en")


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
    svg = str(charts.daily_chart(days, ZH))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'data-max="5"' in svg
    assert 'data-series="refused" data-day="2026-11-20" data-count="3"' in svg
    assert 'data-series="would_refuse" data-day="2026-11-21" data-count="2"' in svg
    assert "11月20日" in svg and "拒绝加气" in svg and "<script" not in svg
    english = str(charts.daily_chart(days, EN))
    assert "Nov 20" in english and "Refused" in english


def test_stacked_bar_widths_share_one_scale() -> None:
    svg = str(charts.stacked_bar({"refused": 5, "overridden": 5}, 20, width=200))
    assert 'width="50.0" height="16" fill="#c0392b"' in svg
    assert 'x="50.0" y="0" width="50.0"' in svg


def test_formats_per_locale_are_cldr_s() -> None:
    when = datetime(2026, 11, 21, 18, 5, 9, tzinfo=UTC)
    assert ZH.timestamp(when, 8) == "2026年11月22日 02:05:09"  # in the bureau's time zone
    assert EN.timestamp(when, 8) == "Nov 22, 2026, 2:05:09\u202fAM"
    assert ZH.day(date(2026, 11, 22)) == "2026年11月22日" and EN.day(date(2026, 11, 22)) == "Nov 22, 2026"
    assert ZH.integer(1234567) == EN.integer(1234567) == "1,234,567"
    assert ZH.percent(0.1234) == "12.3%" and EN.percent(0.5) == "50.0%"
    assert ZH.joined(["甲", "乙"]) == "甲和乙" and EN.joined(["A", "B", "C"]) == "A, B, and C"
    assert EN.day(None) == EN.timestamp(None, 8) == EN.integer(None) == "–"
    # A locale CLDR does not know still gets formats (English ones) and is named by its code.
    unknown = i18n.Words.of("xx")
    assert unknown.integer(1234) == "1,234" and own_name("xx") == "xx"


def test_which_installed_locale_serves_a_lang_value() -> None:
    assert set(i18n.installed()) >= {"zh_CN", "en"}
    assert i18n.resolve("zh") == i18n.resolve("zh-CN") == i18n.resolve("zh_CN") == "zh_CN"
    assert i18n.resolve("en") == i18n.resolve("en_GB") == "en"
    assert i18n.resolve("fr") is None and i18n.resolve("../../etc") is None and i18n.resolve(None) is None
    assert own_name("en") == "English" and own_name("zh_CN") == "中文" and i18n.language_tag("zh_CN") == "zh-CN"


def test_words_come_from_the_catalogue_and_families() -> None:
    assert ZH.gettext("overview") == "总览" and EN.gettext("overview") == "Overview"
    assert EN.ngettext("results", 1, count=1) == "1 attempt" and EN.ngettext("results", 1234, count=1234) == "1,234 attempts"
    assert ZH.ngettext("results", 1234, count=1234) == "共 1,234 条记录"
    assert ZH.label("outcome", "refused") == "拒绝加气" and EN.label("use", "taxi") == "Taxi"
    assert ZH.label("fault", "interlock_fault") == "加气机联锁故障"
    # A value a family does not list (a station's own fault code) is shown as sent, never as a page word.
    assert ZH.label("fault", "overview") == "overview" and ZH.label("fault", None) == "–"
    assert ZH.reason("inspection_overdue") == "气瓶超期未检"
    assert EN.reason("unregistered") == "Cylinder not registered with the bureau"  # the station's words
    assert ZH.reason("brand_new_code") == "brand_new_code"


def test_a_broken_placeholder_in_a_catalogue_shows_its_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "dashboard.po").write_text('msgid "page_of"\nmsgstr "Página {pagina}"\n', encoding="utf-8")
    monkeypatch.setenv(LOCALE_PATH_ENV, str(tmp_path))
    assert i18n.Words.of("es").gettext("page_of", page=2) == "Página {pagina}"


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
    ("kind", "facts", "sent", "zh", "en"),
    [
        (
            "impossible_travel",
            {"km": 28.75, "minutes": 5, "speed": 345},
            "28.8 km in 5 min (345 km/h)",
            "5 分钟内相距 28.8 公里（约 345 公里/小时）",
            "28.8 km in 5 min (345 km/h)",
        ),
        ("counter_not_increasing", {"now": 63, "before": 68}, "read counter 63 after 68", "读取计数 63，低于上次的 68", None),
        ("fills_within_hour", {"minutes": 28}, "two fills 28 min apart", "两次加气相隔 28 分钟", None),
        (
            "too_many_fills_per_day",
            {"count": 6, "day": date(2026, 11, 20)},
            "6 fills on 2026-11-20",
            "2026年11月20日 加气 6 次",
            "6 fills on Nov 20, 2026",
        ),
    ],
)
def test_clone_details_are_worded_from_their_facts(
    kind: str, facts: dict[str, int | float | date], sent: str, zh: str, en: str | None
) -> None:
    suspect = Suspect(kind, "tag_uid", "04A1", NOW, "ST-1", None, None, "e1", facts)
    assert suspect.detail == sent  # the API's English sentence, as before
    assert ZH.clone_detail(suspect) == zh
    assert EN.clone_detail(suspect) == (en or sent)
