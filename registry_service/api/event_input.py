"""One scan event as a station sends it (POST /stations/{code}/scan-events, and riding on POST
/status), checked field by field into services.events.ScanEventIn.

The typed fields (attendant, supervisor, override reason, session) are checked with the very rules
the station checks before it acts (tag_tools.fields), and the identifiers are canonicalised with
tag_tools.identifiers, so an event a station could build and act on is never refused here.
"""

from __future__ import annotations

import re

from registry_service.api import parse, wire_time
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services import events
from registry_service.services.reasons import REASON_PATTERN
from tag_tools import identifiers
from tag_tools.fields import (
    ATTENDANT,
    EVENT_MAX_READ_COUNTER,
    EVENT_MAX_REASONS,
    EVENT_MAX_RECORD_SEQUENCE,
    OVERRIDE_REASON,
    SESSION_ID,
    SUPERVISOR,
    FieldError,
    TextRule,
)

REASON = re.compile(REASON_PATTERN)
DECISIONS = ("allow", "allow_with_warning", "refuse")
OUTCOMES = {outcome.value: outcome for outcome in Outcome}

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
MAX_READ_COUNTER = EVENT_MAX_READ_COUNTER
MAX_RECORD_SEQUENCE = EVENT_MAX_RECORD_SEQUENCE
MAX_REASONS = EVENT_MAX_REASONS


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
    if (
        not isinstance(reasons, list)
        or len(reasons) > MAX_REASONS
        or not all(isinstance(r, str) and REASON.match(r) for r in reasons)
    ):
        raise InvalidInput(f"reasons must be a list of at most {MAX_REASONS} reason codes")
    decision = item.get("decision")
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}")
    return events.ScanEventIn(
        event_uuid=parse.event_uuid(item.get("event_id"), "event_id"),
        occurred_at=wire_time.station_clock(item.get("occurred_at"), "occurred_at"),
        pump_number=parse.integer(item, "pump", required=False, nullable=True, low=1, high=64),
        cylinder_id=parse.optional_identifier(item, "cylinder_id", identifiers.cylinder_id, nullable=True),
        tag_uid=parse.optional_identifier(item, "tag_uid", identifiers.tag_uid, nullable=True),
        read_counter=parse.integer(item, "read_counter", required=False, nullable=True, low=0, high=MAX_READ_COUNTER),
        record_sequence=parse.integer(item, "record_sequence", required=False, nullable=True, low=0, high=MAX_RECORD_SEQUENCE),
        plate=parse.optional_identifier(item, "plate", identifiers.plate, nullable=True),
        decision=decision,
        outcome=_outcome(item.get("outcome")),
        reasons=tuple(reasons),
        attendant=_typed(item, ATTENDANT),
        decided_offline=parse.boolean(item, "decided_offline", False),
        supervisor=_typed(item, SUPERVISOR),
        override_reason=_typed(item, OVERRIDE_REASON),
        session_id=_typed(item, SESSION_ID),
        clock_offset_ms=parse.integer(
            item, "clock_offset_ms", required=False, nullable=True, low=-MAX_OFFSET_MS, high=MAX_OFFSET_MS
        ),
    )


def _outcome(value: object) -> Outcome:
    """parse.choice's answer, without spelling out the choices unless the value is not one."""
    if isinstance(value, str) and value in OUTCOMES:
        return OUTCOMES[value]
    return parse.choice(value, "outcome", Outcome)


def _typed(item: dict[str, object], rule: TextRule) -> str | None:
    """A typed field under the station's own rule (TextRule.optional): absent, null or "" is None."""
    try:
        return rule.optional(item.get(rule.field))
    except FieldError as exc:
        raise InvalidInput(str(exc)) from None
