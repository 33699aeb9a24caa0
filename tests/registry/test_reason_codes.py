"""Every reason a station can send has its own bit, so the bureau can filter by it; bits never move.

The table below is written out by hand on purpose: the registry has stored masks built from these
bits, so a change to it is a data migration, not an edit. A new code is appended with the next bit.
"""

import pytest

from registry_service.errors import InvalidInput
from registry_service.services.reasons import OTHER_BIT, REASON_CODES, bit_of, mask_of
from station_agent import reasons as station_reasons
from tag_tools.reason_catalogue import catalogue
from tag_tools.verdict import Reason

PINNED_BITS: dict[str, int] = {
    "no_record": 0,
    "malformed": 1,
    "unsupported_version": 2,
    "unknown_signer": 3,
    "bad_signature": 4,
    "signer_revoked": 5,
    "signer_not_valid_at_issue": 6,
    "trust_list_stale": 7,
    "trust_list_not_authentic": 8,
    "issued_in_future": 9,
    "uid_mismatch": 10,
    "inspection_overdue": 11,
    "inspection_failed": 12,
    "past_service_life": 13,
    "cylinder_revoked": 14,
    "record_superseded": 15,
    "chip_not_genuine": 16,
    "due_soon": 17,
    "chip_not_genuine_warning": 18,
    "unregistered": 19,
    "registration_mismatch": 20,
    "tag_unreadable": 21,
    "refilled_too_soon": 22,
    "cylinder_missing": 23,
    "agent_error": 24,
    "record_newer_than_registry": 25,
    "clock_unset": 26,
}


def test_every_bit_is_pinned_and_none_moved_or_reused() -> None:
    # Fails on a code added without a pinned bit, a bit moved or reused, or a code dropped.
    assert {code: bit_of(code) for code in REASON_CODES} == {code: 1 << bit for code, bit in PINNED_BITS.items()}
    assert {e.code: e.bit for e in catalogue().entries} == PINNED_BITS
    assert REASON_CODES == tuple(PINNED_BITS)  # the dashboard's reason list, in bit order
    assert OTHER_BIT not in {1 << bit for bit in PINNED_BITS.values()}


def test_every_station_and_tag_reason_has_a_bit() -> None:
    known = {r.value for r in Reason} | set(station_reasons.STATION_CODES)
    assert known <= set(REASON_CODES)
    assert all(mask_of([code]) != OTHER_BIT for code in known)


def test_an_unknown_code_sets_the_other_bit_and_is_no_filter() -> None:
    assert mask_of(["inspection_overdue", "from_a_newer_station"]) == (1 << 11) | OTHER_BIT
    with pytest.raises(InvalidInput):
        bit_of("from_a_newer_station")
