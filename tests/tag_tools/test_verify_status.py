"""verify_tag with signed status lists: a record's entry decides superseded and revoked in O(1);
records without a status reference, or naming a list the station does not hold, fall back to the
per-cylinder revocation feed (the migration); an expired list refuses like a stale trust list."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tag_tools.claims import StatusReference
from tag_tools.revocations import CylinderRevocation, Revocations
from tag_tools.status_list import StatusArray, StatusList, StatusValue, build_status_list, parse_status_list
from tag_tools.verdict import Verdict
from tag_tools.verify import verify_tag
from tests.testkit import TestPki

UID = bytes.fromhex("04A1B2C3D4E5F6")


def held_list(
    pki: TestPki, values: dict[int, StatusValue], count: int = 64, expires_in: timedelta = timedelta(days=2)
) -> StatusList:
    """A list as the station holds it: signed by the list signer, then parsed and verified."""
    body = StatusList(
        0, 7, pki.now - timedelta(minutes=5), pki.now + expires_in, timedelta(minutes=5), StatusArray.from_mapping(values, count)
    )
    token = build_status_list(body, pki.signer_key, pki.signer_certificate)
    return parse_status_list(token, pki.signer_certificate, now=pki.now, list_id=0)


def verdict(
    pki: TestPki,
    index: int | None,
    lists: dict[int, StatusList],
    revocations: Revocations | None = None,
    now: datetime | None = None,
) -> Verdict:
    reference = StatusReference(0, index) if index is not None else None
    message = pki.ndef_message(UID, status_ref=reference)
    return verify_tag(
        UID,
        message,
        trust=pki.trust_store(),
        now=now or pki.now,
        revocations=revocations or Revocations(),
        status_lists=lists,
    )


@pytest.mark.parametrize(
    "value, decision, reason",
    [
        (StatusValue.VALID, "allow", None),
        (StatusValue.SUPERSEDED, "refuse", "record_superseded"),
        (StatusValue.REVOKED_STOLEN, "refuse", "cylinder_revoked"),
        (StatusValue.REVOKED_SCRAPPED, "refuse", "cylinder_revoked"),
    ],
)
def test_the_entry_decides(test_pki: TestPki, value: StatusValue, decision: str, reason: str | None) -> None:
    result = verdict(test_pki, 5, {0: held_list(test_pki, {5: value})})
    assert result.decision.value == decision
    assert [r.value for r in result.reasons] == ([reason] if reason else [])


def test_an_index_beyond_the_list_is_newer_than_the_list(test_pki: TestPki) -> None:
    assert verdict(test_pki, 500, {0: held_list(test_pki, {}, count=64)}).decision.value == "allow"


def test_an_expired_list_refuses_as_stale_trust_data(test_pki: TestPki) -> None:
    lists = {0: held_list(test_pki, {}, expires_in=timedelta(hours=1))}
    result = verdict(test_pki, 5, lists, now=test_pki.now + timedelta(hours=2))
    assert result.decision.value == "refuse" and [r.value for r in result.reasons] == ["trust_list_stale"]


def test_records_without_an_index_or_list_use_the_feed(test_pki: TestPki) -> None:
    cylinder_id = str(test_pki.record(UID).cylinder_id)
    feed = Revocations({cylinder_id: CylinderRevocation("scrapped")}, {})
    lists = {0: held_list(test_pki, {})}
    assert [r.value for r in verdict(test_pki, None, lists, feed).reasons] == ["cylinder_revoked"]
    assert [r.value for r in verdict(test_pki, 5, {}, feed).reasons] == ["cylinder_revoked"]  # list not held
    assert verdict(test_pki, None, lists).decision.value == "allow"


def test_a_listed_record_is_judged_by_its_entry_not_by_the_cylinder_feed(test_pki: TestPki) -> None:
    """After the bureau reverses a condemnation, the centre re-issues: the new record's entry is
    valid while the feed still names the cylinder condemned. The entry decides, so the re-issued
    record is allowed and the old one (its entry revoked) stays refused."""
    cylinder_id = str(test_pki.record(UID).cylinder_id)
    feed = Revocations({cylinder_id: CylinderRevocation("condemned")}, {})
    lists = {0: held_list(test_pki, {5: StatusValue.REVOKED_SCRAPPED, 6: StatusValue.VALID})}
    assert verdict(test_pki, 6, lists, feed).decision.value == "allow"
    assert [r.value for r in verdict(test_pki, 5, lists, feed).reasons] == ["cylinder_revoked"]
