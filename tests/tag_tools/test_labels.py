"""The tag's words (claim labels, decisions, cylinder-tag's own lines) come from the "tag" gettext
catalogues: complete in zh_CN and en, nothing unused, and asked for by locale or language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tag_tools.labels import DOMAIN, claim_label, decision_text, dynamic_msgids
from tag_tools.verdict import Decision
from tests.catalogues import assert_catalogues_complete
from tests.tag_tools.extraction import python_msgids
from tests.testkit import TYPICAL_UID, typical_record


def test_tag_catalogues_are_complete_and_nothing_unused() -> None:
    assert_catalogues_complete(DOMAIN, python_msgids({"tag_text": None}) | dynamic_msgids())


def test_every_claim_a_record_carries_has_a_label() -> None:
    record = typical_record(TYPICAL_UID, datetime(2026, 11, 22, tzinfo=UTC)).to_json()
    for name in record:
        assert claim_label(name, "en") != name and claim_label(name, "zh") != claim_label(name, "en"), name


@pytest.mark.parametrize("locale", ["zh", "zh_CN", "zh-CN"])
def test_chinese_by_locale_or_language(locale: str) -> None:
    assert decision_text(Decision.REFUSE, locale) == "禁止加气"
    assert claim_label("next_due", locale) == "下次检验日期"


def test_english_and_the_defaults() -> None:
    assert decision_text(Decision.ALLOW_WITH_WARNING, "en") == "Fill (note the warning)"
    assert decision_text(Decision.ALLOW) == "可以加气"  # Chinese unless asked
    assert claim_label("a_claim_from_a_newer_format", "en") == "a_claim_from_a_newer_format"
    assert decision_text(Decision.REFUSE, "fr") == "Do not fill"  # no French catalogue: English
