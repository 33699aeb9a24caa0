"""Every reason a station can send has its own bit, so the bureau can filter by it."""

from registry_service.services.reasons import OTHER_BIT, REASON_CODES, mask_of
from station_agent.reasons import STATION_REASON_TEXT
from tag_tools.verdict import Reason


def test_every_station_and_tag_reason_has_a_bit():
    known = {r.value for r in Reason} | set(STATION_REASON_TEXT)
    assert known <= set(REASON_CODES)
    assert all(mask_of([code]) != OTHER_BIT for code in known)


def test_codes_are_unique_and_order_is_append_only():
    assert len(REASON_CODES) == len(set(REASON_CODES))
    assert REASON_CODES[:3] == ("no_record", "malformed", "unsupported_version")  # bits never move
