"""Scan-event ingestion: batches from stations, idempotent by the station's event UUID.

A station retries a batch until it gets an answer, so the same events arrive more than once. An
event is identified by its station and its UUID and, because a partitioned table's unique keys
must contain the partition key, the primary key is (station_id, event_uuid, occurred_at): a retry
(always from the same authenticated station) resends the identical event, conflicts on that key
and is counted as a duplicate, atomically, even for concurrent retries. The same UUID from another
station is that station's event, stored as such: the key keeps station_id so that Citus could
distribute the table by it (migration 0019, docs/scaling.md).

No event is refused for its time. A station's clock may be minutes fast, days slow or back in 1970
after a flat RTC battery; losing its events would hide exactly the fills the bureau must see. Each
event keeps the station's reading (station_time) and the offset the station measured against the
registry (clock_offset_ms), and occurred_at is the corrected time (`Placement`), which always falls
in the accepted window, so it lands in a current daily partition. Events outside the tolerance
are flagged clock_skewed for the bureau.

What is stored is also counted (services/rollups.py), queued for the clone rules
(services/clones.py, judged by the clone watch within about a second) and, for a refused or overridden
fill, made a case (services/case_hooks.py) in the same transaction: only the new events, never a
retry, each on the local day of its corrected time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import Cylinder, Outcome, ScanEvent
from registry_service.services import case_hooks, clones, rollups
from registry_service.services.driver_sql import DriverStatement, driver_rows, json_document
from registry_service.services.idempotent import insert_ignoring_duplicates
from registry_service.services.reasons import mask_of
from registry_service.services.rollups import NewScan, Reckoning

MAX_CLOCK_SKEW = timedelta(minutes=10)
MAX_AGE = timedelta(days=400)


@dataclass(frozen=True)
class Placement:
    """Where an event goes in time: the corrected occurred_at and how it was found."""

    occurred_at: datetime
    clock_skewed: bool
    # occurred_at is the receipt time, which differs on every retry: such an event is deduplicated
    # by its station and UUID, not by the primary key.
    dated_by_receipt: bool


def _accepted(moment: datetime, now: datetime) -> bool:
    return now - MAX_AGE <= moment <= now + MAX_CLOCK_SKEW


@dataclass(frozen=True)
class ScanEventIn:
    event_uuid: uuid.UUID
    occurred_at: datetime  # the station's clock reading, as sent
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
    clock_offset_ms: int | None = None  # station clock minus registry clock, as the station measured it

    def placement(self, now: datetime) -> Placement:
        """station_time - offset when the offset is known; else the station time when it is
        plausible; else (or when a wrong offset corrects it into nonsense) the receipt time."""
        station_ok = _accepted(self.occurred_at, now)
        if self.clock_offset_ms is not None:
            offset = timedelta(milliseconds=self.clock_offset_ms)
            skewed = not station_ok or abs(offset) > MAX_CLOCK_SKEW
            try:
                corrected = self.occurred_at - offset
            except OverflowError:
                corrected = None
            if corrected is not None and _accepted(corrected, now):
                return Placement(corrected, skewed, False)
        elif station_ok:
            return Placement(self.occurred_at, False, False)
        return Placement(now, True, True)

    def check(self, index: int) -> None:
        where = f"events[{index}]"
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


def ingest(session: Session, station_id: int, events: list[ScanEventIn], now: datetime, reckoning: Reckoning) -> dict[str, int]:
    for index, event in enumerate(events):
        event.check(index)
    unique: dict[uuid.UUID, ScanEventIn] = {}
    for event in events:
        unique.setdefault(event.event_uuid, event)
    placed = [(event, event.placement(now)) for event in unique.values()]
    postgresql = session.get_bind().dialect.name == "postgresql"
    if not placed:
        stored: set[uuid.UUID] = set()
    elif postgresql:  # which also counts them (PG_COUNT_STORED) and queues them for the clone watch
        stored = _insert_json_batch(session, station_id, placed, now, reckoning)
    else:
        stored = _insert_rows(session, station_id, placed, now)
    new = [_new_scan(event, where) for event, where in placed if event.event_uuid in stored]
    if new:
        if not postgresql:
            rollups.count_new(session, station_id, new, reckoning, now)
            clones.enqueue(session, station_id, now, new)  # judged by the clone watch's next round
        # Cases for the new problem scans only (a few per cent of events; a retry brings none).
        problems = [_problem(event, where) for event, where in placed if event.event_uuid in stored and _wanted(event)]
        case_hooks.from_scans(session, station_id, problems, now)
    return {"received": len(events), "accepted": len(stored), "duplicates": len(events) - len(stored)}


def _wanted(event: ScanEventIn) -> bool:
    return case_hooks.wanted(event.outcome, event.reasons)


def _problem(event: ScanEventIn, where: Placement) -> case_hooks.ProblemScan:
    return case_hooks.ProblemScan(
        event.outcome,
        event.reasons,
        event.cylinder_id,
        event.plate,
        where.occurred_at,
        event.supervisor,
        event.override_reason,
    )


def _new_scan(event: ScanEventIn, where: Placement) -> NewScan:
    return NewScan(event.event_uuid, where.occurred_at, event.outcome, mask_of(event.reasons), event.cylinder_id, event.tag_uid)


def _insert_rows(session: Session, station_id: int, placed: list[tuple[ScanEventIn, Placement]], now: datetime) -> set[uuid.UUID]:
    """The events' rows, one statement; returns the UUIDs of those that were new."""
    by_receipt = [event.event_uuid for event, where in placed if where.dated_by_receipt]
    if by_receipt:  # retries of events dated by receipt: their key differs, their UUID does not
        known = set(
            session.scalars(
                select(ScanEvent.event_uuid).where(ScanEvent.station_id == station_id, ScanEvent.event_uuid.in_(by_receipt))
            )
        )
        placed = [(event, where) for event, where in placed if event.event_uuid not in known]
    if not placed:
        return set()
    ids = {e.cylinder_id for e, _ in placed if e.cylinder_id}
    pks = (
        dict(session.execute(select(Cylinder.cylinder_id, Cylinder.id).where(Cylinder.cylinder_id.in_(ids))).all()) if ids else {}
    )
    rows = [_row(e, where, station_id, pks.get(e.cylinder_id or ""), now) for e, where in placed]
    # executemany + RETURNING: SQLAlchemy's "insertmanyvalues" batches the rows.
    statement = insert_ignoring_duplicates(session, ScanEvent).returning(ScanEvent.event_uuid)
    return set(session.connection().execute(statement, rows).scalars())


# PostgreSQL: the batch travels as one JSON array; PostgreSQL unpacks it (json_to_recordset) and
# finds each event's cylinder itself (LEFT JOIN), in one constant statement that psycopg prepares
# once per connection. The registry's Python is bound to one core by the GIL, so parsing and
# lookups moved into the database run beside it on another; one json.dumps replaces adapting
# twenty arrays value by value. ON CONFLICT DO NOTHING skips retries.
# An event dated by its receipt (a station clock beyond repair) is skipped when the station stored
# its UUID already (by the primary key's station_id and event_uuid, on every daily partition): CASE
# makes PostgreSQL look only for those few, not for every event of the batch.
# The events that were new are counted in the same statement (rollups.PG_COUNT_STORED and
# PG_TOTAL_STORED) and queued for the clone watch (clones.PG_ENQUEUE_STORED), one round trip for
# all, and named by RETURNING for the cases.
# It is sent with $n placeholders through psycopg's RawCursor (driver_sql.driver_rows): psycopg neither
# rewrites it on each upload (as it would %(name)s placeholders in a statement over its 4,096
# characters) nor SQLAlchemy builds a result's metadata for it.
_PG_EVENT_COLUMNS = {
    "event_uuid": "uuid",
    "occurred_at": "timestamptz",
    "station_time": "timestamptz",
    "clock_offset_ms": "int8",
    "clock_skewed": "bool",
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
_PG_INSERT = DriverStatement.of(
    "WITH stored AS ("
    f"INSERT INTO scan_events (received_at, station_id, cylinder_pk, {', '.join(_PG_EVENT_COLUMNS)}) "
    f"SELECT %(received_at)s, %(station_id)s, c.id, {', '.join(f'e.{column}' for column in _PG_EVENT_COLUMNS)} "
    f"FROM json_to_recordset(%(events)s::json) AS e({', '.join(f'{c} {t}' for c, t in _PG_EVENT_COLUMNS.items())}, by_receipt bool) "
    "LEFT JOIN cylinders c ON c.cylinder_id = e.cylinder_id "
    "WHERE CASE WHEN e.by_receipt THEN NOT EXISTS "
    "(SELECT 1 FROM scan_events s WHERE s.station_id = %(station_id)s AND s.event_uuid = e.event_uuid) "
    "ELSE true END "
    "ON CONFLICT DO NOTHING "
    "RETURNING event_uuid, occurred_at, outcome, reason_mask, tag_uid, cylinder_id), "
    f"counted AS ({rollups.PG_COUNT_STORED}){rollups.PG_TOTAL_STORED}{clones.PG_ENQUEUE_STORED} "
    "SELECT event_uuid FROM stored"
)


def _insert_json_batch(
    session: Session, station_id: int, placed: list[tuple[ScanEventIn, Placement]], now: datetime, reckoning: Reckoning
) -> set[uuid.UUID]:
    values = [{**_event_values(event, where), "by_receipt": where.dated_by_receipt} for event, where in placed]
    parameters = {
        "received_at": now,
        "station_id": station_id,
        "events": json_document(values),
        "utc_offset_hours": reckoning.utc_offset_hours,
    }
    return {row[0] for row in driver_rows(session, _PG_INSERT.sql, _PG_INSERT.values(parameters))}


def _row(event: ScanEventIn, where: Placement, station_id: int, cylinder_pk: int | None, now: datetime) -> dict[str, Any]:
    return {"received_at": now, "station_id": station_id, "cylinder_pk": cylinder_pk, **_event_values(event, where)}


def _event_values(event: ScanEventIn, where: Placement) -> dict[str, Any]:
    """The columns that come from the event itself (keys as in _PG_EVENT_COLUMNS)."""
    return {
        "event_uuid": event.event_uuid,
        "occurred_at": where.occurred_at,
        "station_time": event.occurred_at,
        "clock_offset_ms": event.clock_offset_ms,
        "clock_skewed": where.clock_skewed,
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


def rebuild_rollups(session: Session, reckoning: Reckoning) -> dict[str, int]:
    """Derive again from every stored event what ingest derives from each new one: the day counts
    and the clone suspects (`cylinder-registry rebuild-rollups`). Needed once after upgrading a
    registry with events to revision 0008, and after changing report_utc_offset_hours or
    max_plausible_speed_kmh."""
    return {
        "day_counts": rollups.rebuild_counts(session, reckoning),
        "clone_suspects": clones.rebuild_suspects(session, reckoning),
    }
