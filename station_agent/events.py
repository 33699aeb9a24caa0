"""Scan events: what the station stores for every read and for every override, and the subset the
registry's POST /stations/{code}/scan-events accepts (see schemas/registry-api.yaml).

The registry receives the attendant and, for an override, the supervisor and the typed reason as
separate fields, with the session and whether the decision was made offline; the local body keeps
the rest (VIN, vehicle cylinders, detail) in the outbox for audits on site.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from station_agent.session import CylinderResult


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
    """(event id, local body with the registry's subset under "registry")."""
    event_id = str(uuid.uuid4())
    overridden = supervisor is not None
    outcome = outcome_of(result, context.enforcing, overridden)
    registry: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "pump": context.pump,
        "tag_uid": result.tag_uid,
        "decision": result.decision,
        "outcome": outcome,
        "reasons": list(result.reasons)[:16],
        "attendant": context.attendant[:64],
        "decided_offline": not result.online,
        "session_id": context.session_id[:64],
    }
    optional = {"cylinder_id": result.cylinder_id, "read_counter": result.read_counter,
                "record_sequence": result.record_sequence, "plate": result.plate,
                "supervisor": supervisor[:64] if overridden and supervisor else None,
                "override_reason": override_reason[:200] if overridden and override_reason else None,
                "clock_offset_ms": context.clock_offset_ms}
    registry.update({k: v for k, v in optional.items() if v is not None})
    body: dict[str, Any] = {
        "event_id": event_id,
        "station": context.station,
        "session_id": context.session_id,
        "online": result.online,
        "vin": result.vin,
        "vehicle_cylinders": result.vehicle_cylinders,
        "next_due": result.next_due.isoformat() if result.next_due else None,
        "attendant": context.attendant,
        "supervisor": supervisor,
        "override_reason": override_reason,
        "detail": result.detail,
        "registry": registry,
    }
    return event_id, body
