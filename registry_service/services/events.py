"""Scan-event ingestion: batches from stations, idempotent by event UUID.

A station retries a batch until it gets an answer, so the same events arrive more than once. An
event is identified by its UUID and, because a partitioned table's unique keys must contain the
partition key, the primary key is (event_uuid, occurred_at): a retry resends the identical event,
conflicts on that key and is counted as a duplicate, atomically, even for concurrent retries.
"""

from __future__ import annotations

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
    ids = {e.cylinder_id for e in unique.values() if e.cylinder_id}
    pks = (
        dict(session.execute(select(Cylinder.cylinder_id, Cylinder.id).where(Cylinder.cylinder_id.in_(ids))).all()) if ids else {}
    )
    rows = [_row(e, station_id, pks.get(e.cylinder_id or ""), now) for e in unique.values()]
    if not rows:
        accepted = 0
    elif session.get_bind().dialect.name == "postgresql":
        accepted = _insert_unnest(session, rows)
    else:
        # executemany + RETURNING: SQLAlchemy's "insertmanyvalues" batches the rows.
        statement = _insert_ignoring_duplicates(session).returning(ScanEvent.event_uuid)
        accepted = len(session.connection().execute(statement, rows).all())
    return {"received": len(events), "accepted": accepted, "duplicates": len(events) - accepted}


# PostgreSQL: one constant statement with one array per column. The query text never changes, so
# psycopg prepares it once per connection, and a 1,000-event batch is one round trip.
_PG_TYPES = {
    "event_uuid": "uuid",
    "occurred_at": "timestamptz",
    "received_at": "timestamptz",
    "station_id": "int4",
    "pump_number": "int2",
    "cylinder_pk": "int4",
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
_PG_UNNEST = (
    f"INSERT INTO scan_events ({', '.join(_PG_TYPES)}) "
    f"SELECT * FROM unnest({', '.join(f'%({c})s::{t}[]' for c, t in _PG_TYPES.items())}) "
    "ON CONFLICT DO NOTHING RETURNING event_uuid"
)


def _insert_unnest(session: Session, rows: list[dict[str, Any]]) -> int:
    columns = {column: [row[column] for row in rows] for column in _PG_TYPES}
    columns["outcome"] = [outcome.value for outcome in columns["outcome"]]
    return len(session.connection().exec_driver_sql(_PG_UNNEST, columns).all())


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(ScanEvent).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(ScanEvent).on_conflict_do_nothing()
    raise NotImplementedError(f"scan-event ingestion supports PostgreSQL and SQLite, not {dialect}")


def _row(event: ScanEventIn, station_id: int, cylinder_pk: int | None, now: datetime) -> dict[str, Any]:
    return {
        "event_uuid": event.event_uuid,
        "occurred_at": event.occurred_at,
        "received_at": now,
        "station_id": station_id,
        "pump_number": event.pump_number,
        "cylinder_pk": cylinder_pk,
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
