"""The one reason catalogue: its data agrees with the code, and its message catalogues are complete.

The bit table itself is pinned in tests/registry/test_reason_codes.py (the registry stores masks).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from station_agent import reasons as station_reasons
from tag_tools.messages import filled
from tag_tools.reason_catalogue import (
    CATALOGUE_FILE,
    DOMAIN,
    Origin,
    ReasonCatalogueError,
    Severity,
    catalogue,
    interval_text,
    parse,
    reason_text,
)
from tag_tools.verdict import WARNING_REASONS, Reason
from tests.catalogues import assert_catalogues_complete


def test_verdict_reasons_are_exactly_the_catalogues_verifier_codes() -> None:
    assert {r.value for r in Reason} == set(catalogue().codes_where(origin=Origin.VERIFIER))
    assert WARNING_REASONS == {Reason.DUE_SOON, Reason.CHIP_NOT_GENUINE_WARNING}


def test_station_codes_severities_and_overridable_defaults_come_from_the_catalogue() -> None:
    assert set(station_reasons.STATION_CODES) <= set(catalogue().codes) and station_reasons.KNOWN_REASONS == set(
        catalogue().codes
    )
    # The four refusals a supervisor could release before the catalogue existed; nothing else.
    assert set(station_reasons.OVERRIDABLE_BY_DEFAULT) == {
        "trust_list_stale",
        "chip_not_genuine",
        "refilled_too_soon",
        "issued_in_future",
    }
    assert catalogue().codes_where(severity=Severity.INFO) == ("record_newer_than_registry",)


def _document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    "edit, complaint",
    [
        (lambda d: d["reasons"].append({**d["reasons"][-1], "code": "new_code", "msgid": "reason.new_code"}), "bit"),
        (lambda d: d["reasons"].insert(3, d["reasons"].pop()), "bit"),  # a code moved to another bit
        (lambda d: d["reasons"].pop(5), "bit"),  # a code dropped: every later bit moves
        (lambda d: d["reasons"][4].update(code=d["reasons"][3]["code"]), "duplicate code"),
        (lambda d: d["reasons"][17].update(overridable=True), "only a refusal"),
        (lambda d: d["reasons"][0].update(severity="fatal"), "fatal"),
        (lambda d: d["reasons"][0].update(origin="dashboard"), "dashboard"),
        (lambda d: d["reasons"][0].pop("msgid"), "keys"),
        (lambda d: d.update(format=2), "format"),
    ],
)
def test_a_broken_catalogue_is_refused(edit: Any, complaint: str) -> None:
    data = _document()
    parse(data)
    edit(data)
    with pytest.raises(ReasonCatalogueError, match=complaint):
        parse(data)


def test_the_catalogue_is_plain_json_a_script_can_read() -> None:
    data = _document()
    assert [r["code"] for r in data["reasons"]] == list(catalogue().codes)
    assert all(isinstance(r["bit"], int) and r["severity"] in {"refuse", "warning", "info"} for r in data["reasons"])


def test_zh_cn_and_en_are_complete_and_no_message_is_unused() -> None:
    assert_catalogues_complete(DOMAIN, catalogue().msgids())


def test_every_reason_has_words_in_both_languages() -> None:
    for code in catalogue().codes:
        zh, en = reason_text(code, "zh"), reason_text(code, "en")
        assert zh != code and en != code and zh != en
    assert reason_text("from_a_newer_station", "en") == "from_a_newer_station"
    assert reason_text("inspection_overdue", "zh_CN") == reason_text("inspection_overdue", "zh") == "气瓶超期未检"
    assert reason_text("inspection_overdue", "fr") == "Periodic inspection overdue"  # no catalogue: English


def test_the_refill_interval_is_said_not_hard_coded() -> None:
    assert reason_text("refilled_too_soon", "zh", interval=interval_text(timedelta(hours=1), "zh")) == "该气瓶在1小时内已加过气"
    assert reason_text("refilled_too_soon", "en", interval=interval_text(timedelta(minutes=90), "en")) == (
        "Cylinder already filled within 90 minutes"
    )
    assert interval_text(timedelta(hours=2), "en") == "2 hours" and interval_text(timedelta(seconds=1), "en") == "1 second"
    assert interval_text(timedelta(seconds=45), "zh") == "45秒"
    # The bureau's pages do not know a station's interval: the text says so in words, no "{interval}".
    assert reason_text("refilled_too_soon", "zh") == "该气瓶在最短加气间隔内已加过气"


@pytest.mark.parametrize(
    ("text", "values", "shown"),
    [
        ("{n} 条", {"n": 3}, "3 条"),
        ("{count} 条", {"n": 3}, "{count} 条"),  # a translation naming a placeholder the code does not give
        ("{n 条", {"n": 3}, "{n 条"),  # malformed
        ("{0}", {"n": 3}, "{0}"),  # positional
        ("{n.real.x}", {"n": 3}, "{n.real.x}"),  # attribute the value lacks
        ("无需填充", {}, "无需填充"),
    ],
)
def test_a_broken_translation_shows_its_words_instead_of_failing(text: str, values: dict[str, object], shown: str) -> None:
    assert filled(text, values) == shown
