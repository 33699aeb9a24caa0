"""The lists' cursors (services/queries.py encode_cursor / cursor_fields): one encoding for the
event, station fault and case lists; each list reads back only the shape it issued."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from registry_service.errors import InvalidInput
from registry_service.services.case_queries import decode_cursor as decode_case_cursor
from registry_service.services.queries import decode_station_cursor, encode_cursor

WHEN = datetime(2026, 11, 30, 8, 15, 0, 123000, tzinfo=UTC)
EVENT = uuid.UUID("0b9c0a52-3d0e-4e0c-9a53-4f0d5f0e6a10")


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_each_list_reads_back_the_cursor_it_issued() -> None:
    assert decode_station_cursor(encode_cursor(WHEN, EVENT, 42)) == (WHEN, EVENT, 42)
    assert decode_station_cursor(encode_cursor(WHEN, EVENT, None)) == (WHEN, EVENT, None)  # a station left out
    assert decode_case_cursor(encode_cursor(WHEN, 7)) == (WHEN, 7)


@pytest.mark.parametrize(
    "cursor",
    [
        _raw(f"{WHEN.isoformat()}|7|8"),  # a third field: not a case list's
        _raw(f"{WHEN.isoformat()}"),  # no id
        _raw(f"{WHEN.isoformat()}|{EVENT}"),  # an event list's
        _raw(f"{WHEN.isoformat()}|+7"),
        "not base64 at all!",
        base64.urlsafe_b64encode(b"\xff\xfe|7").decode(),  # not text
    ],
)
def test_the_case_list_refuses_a_cursor_it_did_not_issue(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_case_cursor(cursor)


def test_the_event_list_refuses_a_case_lists_cursor() -> None:
    with pytest.raises(InvalidInput):
        decode_station_cursor(encode_cursor(WHEN, 7))
