"""Scan-event ingestion: batches from stations, idempotent by event UUID.

A station retries a batch until it gets an answer, so the same events arrive more than once. An
event is identified by its UUID and, because a partitioned table's unique keys must contain the
partition key, the primary key is (event_uuid, occurred_at): a retry resends the identical event,
conflicts on that key and is counted as a duplicate, atomically, even for concurrent retries.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import Cylinder, Outcome, ScanEvent
from registry_service.services.reasons import mask_of

MAX_CLOCK_SKEW = timedelta(minutes=10)
MAX_AGE = timedelta(days=400)


@dataclass(frozen=True)
class ScanEventIn:
    event_uuid: uuid.UUID
    occurred_at: datetime
    pump_number: int | None
    cylinder_id: str | None
    tag_uid: str | None
    read_counter: int | None
    record_sequence: int | None
    plate: str | None
    decision: str
    outcome: Outcome
    reasons: tuple[str, ...]
    attendant: str | None
    decided_offline: bool = False
    supervisor: str | None = None
    override_reason: str | None = None
    session_id: str | None = None

    def check(self, index: int, now: datetime) -> None:
        where = f"events[{index}]"
        if self.occurred_at > now + MAX_CLOCK_SKEW:
            raise InvalidInput(f"{where}.occurred_at is in the future (check the station clock)")
        if self.occurred_at < now - MAX_AGE:
            raise InvalidInput(f"{where}.occurred_at is more than {MAX_AGE.days} days old")
        refused = self.decision == "refuse"
        if self.outcome in (Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE, Outcome.REFUSED) and not refused:
            raise InvalidInput(f"{where}: outcome {self.outcome.value} needs decision refuse")
        if self.outcome is Outcome.ALLOWED and refused:
            raise InvalidInput(f"{where}: a refused decision cannot have outcome allowed")
        if self.outcome is Outcome.OVERRIDDEN:
            if not self.attendant:
                raise InvalidInput(f"{where}: an override must name the attendant")
            if not self.supervisor:
                raise InvalidInput(f"{where}: an override must name the supervisor")
            if not self.override_reason:
                raise InvalidInput(f"{where}: an override must give the override_reason")
        elif self.supervisor or self.override_reason:
            raise InvalidInput(f"{where}: supervisor and override_reason belong to overridden events only")


def ingest(session: Session, station_id: int, events: list[ScanEventIn], now: datetime) -> dict[str, int]:
    for index, event in enumerate(events):
        event.check(index, now)
    unique: dict[uuid.UUID, ScanEventIn] = {}
    for event in events:
        unique.setdefault(event.event_uuid, event)
    if not unique:
        accepted = 0
    elif session.get_bind().dialect.name == "postgresql":
        accepted = _insert_json_batch(session, station_id, list(unique.values()), now)
    else:
        ids = {e.cylinder_id for e in unique.values() if e.cylinder_id}
        pks = dict(session.execute(select(Cylinder.cylinder_id, Cylinder.id).where(Cylinder.cylinder_id.in_(ids))).all()) if ids else {}
        rows = [_row(e, station_id, pks.get(e.cylinder_id or ""), now) for e in unique.values()]
        # executemany + RETURNING: SQLAlchemy's "insertmanyvalues" batches the rows.
        statement = _insert_ignoring_duplicates(session).returning(ScanEvent.event_uuid)
        accepted = len(session.connection().execute(statement, rows).all())
    return {"received": len(events), "accepted": accepted, "duplicates": len(events) - accepted}


# PostgreSQL: the batch travels as one JSON array; PostgreSQL unpacks it (json_to_recordset) and
# finds each event's cylinder itself (LEFT JOIN), in one constant statement that psycopg prepares
# once per connection. The registry's Python is bound to one core by the GIL, so parsing and
# lookups moved into the database run beside it on another; one json.dumps replaces adapting
# twenty arrays value by value. ON CONFLICT DO NOTHING skips retries; the row count is what was new.
_PG_EVENT_COLUMNS = {
    "event_uuid": "uuid",
    "occurred_at": "timestamptz",
    "pump_number": "int2",
    "cylinder_id": "text",
    "tag_uid": "text",
    "read_counter": "int4",
    "record_sequence": "int4",
    "plate": "text",
    "decision": "text",
    "outcome": "text",
    "reasons": "text",
    "reason_mask": "int8",
    "attendant": "text",
    "decided_offline": "bool",
    "supervisor": "text",
    "override_reason": "text",
    "session_id": "text",
}
_PG_INSERT = (
    f"INSERT INTO scan_events (received_at, station_id, cylinder_pk, {', '.join(_PG_EVENT_COLUMNS)}) "
    f"SELECT %(received_at)s, %(station_id)s, c.id, {', '.join(f'e.{column}' for column in _PG_EVENT_COLUMNS)} "
    f"FROM json_to_recordset(%(events)s::json) AS e({', '.join(f'{c} {t}' for c, t in _PG_EVENT_COLUMNS.items())}) "
    "LEFT JOIN cylinders c ON c.cylinder_id = e.cylinder_id "
    "ON CONFLICT DO NOTHING"
)


def _insert_json_batch(session: Session, station_id: int, events: list[ScanEventIn], now: datetime) -> int:
    document = json.dumps([_event_values(event) for event in events], ensure_ascii=False, separators=(",", ":"),
                          default=_json_value)
    result = session.connection().exec_driver_sql(_PG_INSERT, {"received_at": now, "station_id": station_id, "events": document})
    return int(result.rowcount)


def _json_value(value: object) -> str:
    """json.dumps's fallback for the two column types JSON lacks."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(ScanEvent).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(ScanEvent).on_conflict_do_nothing()
    raise NotImplementedError(f"scan-event ingestion supports PostgreSQL and SQLite, not {dialect}")


def _row(event: ScanEventIn, station_id: int, cylinder_pk: int | None, now: datetime) -> dict[str, Any]:
    return {"received_at": now, "station_id": station_id, "cylinder_pk": cylinder_pk, **_event_values(event)}


def _event_values(event: ScanEventIn) -> dict[str, Any]:
    """The columns that come from the event itself (keys as in _PG_EVENT_COLUMNS)."""
    return {
        "event_uuid": event.event_uuid,
        "occurred_at": event.occurred_at,
        "pump_number": event.pump_number,
        "cylinder_id": event.cylinder_id,
        "tag_uid": event.tag_uid,
        "read_counter": event.read_counter,
        "record_sequence": event.record_sequence,
        "plate": event.plate,
        "decision": event.decision,
        "outcome": event.outcome,
        "reasons": ",".join(event.reasons),
        "reason_mask": mask_of(event.reasons),
        "attendant": event.attendant,
        "decided_offline": event.decided_offline,
        "supervisor": event.supervisor,
        "override_reason": event.override_reason,
        "session_id": event.session_id,
    }
