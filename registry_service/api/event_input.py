"""One scan event as a station sends it (POST /stations/{code}/scan-events, and riding on POST
/status), checked field by field into services.events.ScanEventIn."""

from __future__ import annotations

import re

from registry_service.api import parse, wire_time
from registry_service.api.parse import CYLINDER_TEXT, PLATE
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services import events
from registry_service.services.reasons import REASON_PATTERN

REASON = re.compile(REASON_PATTERN)
DECISIONS = ("allow", "allow_with_warning", "refuse")

EVENT_FIELDS = frozenset(
    {
        "event_id",
        "occurred_at",
        "pump",
        "cylinder_id",
        "tag_uid",
        "read_counter",
        "record_sequence",
        "plate",
        "decision",
        "outcome",
        "reasons",
        "attendant",
        "decided_offline",
        "supervisor",
        "override_reason",
        "session_id",
        "clock_offset_ms",
    }
)
MAX_OFFSET_MS = 2**53 - 1  # what a JSON number holds exactly; 285,000 years


def parse_event(item: object, index: int) -> events.ScanEventIn:
    """One event of a batch; errors name the event (`events[3].occurred_at ...`).

    Runs up to 1,000 times per request, so field names are only formatted into messages on failure.
    """
    try:
        return _checked_event(item)
    except InvalidInput as exc:
        raise InvalidInput(f"events[{index}]: {exc.detail}") from None


def _checked_event(item: object) -> events.ScanEventIn:
    if not isinstance(item, dict):
        raise InvalidInput("each event must be an object")
    if not item.keys() <= EVENT_FIELDS:
        parse.only_fields(item, EVENT_FIELDS)
    reasons = item.get("reasons", [])
    if not isinstance(reasons, list) or len(reasons) > 16 or not all(isinstance(r, str) and REASON.match(r) for r in reasons):
        raise InvalidInput("reasons must be a list of at most 16 reason codes")
    decision = item.get("decision")
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}")
    tag_uid = item.get("tag_uid")
    return events.ScanEventIn(
        event_uuid=parse.event_uuid(item.get("event_id"), "event_id"),
        occurred_at=wire_time.station_clock(item.get("occurred_at"), "occurred_at"),
        pump_number=parse.integer(item, "pump", required=False, nullable=True, low=1, high=64),
        cylinder_id=parse.text(item, "cylinder_id", required=False, nullable=True, max_len=40, pattern=CYLINDER_TEXT) or None,
        tag_uid=parse.tag_uid(tag_uid, "tag_uid") if tag_uid is not None else None,
        read_counter=parse.integer(item, "read_counter", required=False, nullable=True, low=0, high=2**24 - 1),
        record_sequence=parse.integer(item, "record_sequence", required=False, nullable=True, low=0, high=2**31 - 1),
        plate=parse.text(item, "plate", required=False, nullable=True, max_len=16, pattern=PLATE) or None,
        decision=decision,
        outcome=parse.choice(item.get("outcome"), "outcome", Outcome),
        reasons=tuple(reasons),
        attendant=parse.text(item, "attendant", required=False, nullable=True, max_len=64) or None,
        decided_offline=parse.boolean(item, "decided_offline", False),
        supervisor=parse.text(item, "supervisor", required=False, nullable=True, max_len=64) or None,
        override_reason=parse.text(item, "override_reason", required=False, nullable=True, max_len=200) or None,
        session_id=parse.text(item, "session_id", required=False, nullable=True, max_len=64) or None,
        clock_offset_ms=parse.integer(item, "clock_offset_ms", required=False, nullable=True, low=-MAX_OFFSET_MS, high=MAX_OFFSET_MS),
    )
