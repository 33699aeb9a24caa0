"""Scan events: what the station stores for every read and for every override, and the subset the
registry's POST /stations/{code}/scan-events accepts (see schemas/registry-api.yaml).

The registry receives the attendant and, for an override, the supervisor and the typed reason as
separate fields, with the session and whether the decision was made offline; the local body keeps
the rest (VIN, vehicle cylinders, detail) in the outbox for audits on site.

An event this module builds is one the registry accepts (tests/station_agent/test_event_contract.py):
- typed fields (attendant, supervisor, override reason, session) go through the registry's own
  rules (tag_tools.fields); a value that breaks them raises EventFieldError, never a truncated copy
  (a truncated reason would hide what was typed; an untruncated bad one would be refused for good).
- identifiers read from a tag (plate, cylinder ID, UID) are sent in canonical form
  (tag_tools.identifiers). A read is a fact that must be recorded, so one that is not a valid
  identifier, or a counter outside the registry's range, is left out of the registry's copy and kept
  in the local body under "unreported" instead of making the event unsendable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from station_agent.errors import EventFieldError
from station_agent.session import CylinderResult
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
    has_forbidden_character,
)


@dataclass(frozen=True)
class EventContext:
    station: str
    pump: int
    attendant: str
    session_id: str
    enforcing: bool
    clock_offset_ms: int | None = None  # station clock minus registry clock, when measured recently


def outcome_of(result: CylinderResult, enforcing: bool, overridden: bool = False) -> str:
    if not result.refused:
        return "allowed"
    if overridden:
        return "overridden"
    return "refused" if enforcing else "would_refuse"


def scan_event(
    result: CylinderResult,
    context: EventContext,
    at: datetime,
    *,
    supervisor: str | None = None,
    override_reason: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(event id, local body with the registry's subset under "registry").

    EventFieldError when a typed field breaks the shared rules (nothing is built, so nothing the
    event would record can have been acted on yet)."""
    # Only a refused read can be overridden; an override must name attendant, supervisor and reason
    # (the registry's ScanEventIn.check), so there they are required, elsewhere optional.
    overridden = supervisor is not None and result.refused
    attendant = _typed(ATTENDANT, context.attendant, required=overridden)
    session_id = _typed(SESSION_ID, context.session_id, required=False)
    supervisor_text = _typed(SUPERVISOR, supervisor, required=True) if overridden else None
    reason_text = _typed(OVERRIDE_REASON, override_reason, required=True) if overridden else None
    event_id = str(uuid.uuid4())
    outcome = outcome_of(result, context.enforcing, overridden)
    unreported: dict[str, Any] = {}
    from_tag = {
        "tag_uid": _identifier(identifiers.tag_uid, "tag_uid", result.tag_uid, unreported),
        "cylinder_id": _identifier(identifiers.cylinder_id, "cylinder_id", result.cylinder_id, unreported),
        "plate": _identifier(identifiers.plate, "plate", result.plate, unreported),
        "read_counter": _counter("read_counter", result.read_counter, EVENT_MAX_READ_COUNTER, unreported),
        "record_sequence": _counter("record_sequence", result.record_sequence, EVENT_MAX_RECORD_SEQUENCE, unreported),
    }
    reasons = list(result.reasons)
    if len(reasons) > EVENT_MAX_REASONS:
        unreported["reasons"] = reasons[EVENT_MAX_REASONS:]
    registry: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "pump": context.pump,
        "decision": result.decision,
        "outcome": outcome,
        "reasons": reasons[:EVENT_MAX_REASONS],
        "decided_offline": not result.online,
    }
    optional = {
        **from_tag,
        "attendant": attendant,
        "session_id": session_id,
        "supervisor": supervisor_text,
        "override_reason": reason_text,
        "clock_offset_ms": context.clock_offset_ms,
    }
    registry.update({k: v for k, v in optional.items() if v is not None})
    body: dict[str, Any] = {
        "event_id": event_id,
        "station": context.station,
        "session_id": context.session_id,
        "online": result.online,
        "vin": result.vin,
        "vehicle_cylinders": result.vehicle_cylinders,
        "next_due": result.next_due.isoformat() if result.next_due else None,
        "attendant": attendant,
        "supervisor": supervisor_text,
        "override_reason": reason_text,
        "detail": result.detail,
        "registry": registry,
    }
    if unreported:
        body["unreported"] = unreported
    return event_id, body


def _typed(rule: TextRule, value: str | None, *, required: bool) -> str | None:
    """The value as the registry will store it (TextRule.check / .optional), or EventFieldError."""
    try:
        return rule.check(value) if required else rule.optional(value)
    except FieldError as error:
        raise EventFieldError(rule.field, str(error)) from error


def _identifier(check: Callable[[object, str], str], field: str, value: str | None, unreported: dict[str, Any]) -> str | None:
    if value is None:
        return None
    canonical = identifiers.canonical_or_none(check, value, field)
    if canonical is None:  # kept for the audit on site, escaped if it could not even be stored as text
        unreported[field] = ascii(value) if has_forbidden_character(value) else value
    return canonical


def _counter(field: str, value: int | None, high: int, unreported: dict[str, Any]) -> int | None:
    if value is None or 0 <= value <= high:
        return value
    unreported[field] = value
    return None
