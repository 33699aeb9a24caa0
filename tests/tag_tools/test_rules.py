"""tag_tools.rules: the date rules station and registry share, and the local-date rule for a
record issued early in the morning in a zone ahead of UTC."""

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tag_tools import rules
from tag_tools.verdict import Decision, Reason
from tag_tools.verify import VerificationPolicy
from tests.testkit import TYPICAL_UID, TestPki

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 22)


def test_local_today_is_the_date_in_the_zone() -> None:
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert rules.local_today(late, UTC) == DAY
    assert rules.local_today(late, SHANGHAI) == DAY + timedelta(days=1)
    assert rules.local_today(late, ZoneInfo("America/Los_Angeles")) == DAY
    with pytest.raises(ValueError, match="timezone-aware"):
        rules.local_today(datetime(2026, 11, 22, 12), UTC)


@pytest.mark.parametrize(("days", "overdue"), [(-1, True), (0, False), (1, False)])
def test_next_due_and_end_of_life_are_the_last_valid_day(days: Any, overdue: Any) -> None:
    assert rules.is_overdue(DAY, DAY + timedelta(days=days)) is overdue
    assert rules.is_past_service_life(DAY, DAY + timedelta(days=days)) is overdue


def test_due_soon_looks_at_both_deadlines_and_never_at_a_refusal() -> None:
    far = DAY + timedelta(days=365)
    assert rules.is_due_soon(DAY, DAY + timedelta(days=30), far, 30, refused=False)
    assert not rules.is_due_soon(DAY, DAY + timedelta(days=31), far, 30, refused=False)
    assert rules.is_due_soon(DAY, far, DAY + timedelta(days=30), 30, refused=False)  # end of life close
    assert rules.is_due_soon(DAY, DAY, far, 0, refused=False)  # the last day itself
    assert not rules.is_due_soon(DAY, DAY, far, 30, refused=True)


def test_issued_before_inspection_uses_the_local_date() -> None:
    morning = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)  # 07:30 on the 22nd in Shanghai
    assert not rules.issued_before_inspection(morning, DAY, SHANGHAI)
    assert rules.issued_before_inspection(morning, DAY, UTC)
    assert not rules.issued_before_inspection(morning, DAY, rules.LATEST_ZONE)
    assert rules.issued_before_inspection(morning, DAY + timedelta(days=1), rules.LATEST_ZONE)  # no zone makes it right
    assert rules.LATEST_ZONE.utcoffset(None) == timezone(timedelta(hours=14)).utcoffset(None)


@pytest.fixture(scope="module")
def test_pki() -> TestPki:
    return TestPki.create(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))


def test_a_record_signed_early_in_the_morning_reads_in_the_stations_zone(test_pki: TestPki) -> None:
    issued = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)  # 07:30 on the 22nd in Shanghai, inspected that day
    message = test_pki.ndef_message(TYPICAL_UID, inspected=DAY, next_due=DAY + timedelta(days=365), issued_at=issued)
    in_shanghai = test_pki.verify(TYPICAL_UID, message, policy=VerificationPolicy(local_timezone=SHANGHAI))
    assert in_shanghai.decision is Decision.ALLOW, in_shanghai
    in_utc = test_pki.verify(TYPICAL_UID, message)  # a station whose zone says it is still the 21st
    assert in_utc.decision is Decision.REFUSE and in_utc.reasons == (Reason.MALFORMED,)
    assert "before its inspection" in in_utc.detail


def test_due_soon_is_not_added_to_a_refusal(test_pki: TestPki) -> None:
    from tag_tools.revocations import CylinderRevocation, Revocations

    message = test_pki.ndef_message(TYPICAL_UID, next_due=DAY + timedelta(days=5))
    revoked = Revocations(cylinders={"156-4101-19012345": CylinderRevocation.CONDEMNED})
    verdict = test_pki.verify(TYPICAL_UID, message, revocations=revoked)
    assert verdict.reasons == (Reason.CYLINDER_REVOKED,)
