"""Station fault reports (schemas/station-fault-report.md): stored whatever their shape, listed for
the bureau.

A station sends a report when something could not be delivered or could not be done: an event
the registry refused, an event it had to quarantine, a fault of its own (interlock, reader, disk,
clock). The registry is the last place such an account can go, so it never refuses a report for
its content: what parses is kept in columns, a report that does not fully parse is kept as its own
JSON (`raw`, `malformed`), and a report without a usable report_id gets one derived from its bytes
so that a retry is still recognised as a duplicate.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from registry_service.models import Station, StationFault
from registry_service.services import meters
from registry_service.services.driver_sql import DriverStatement, driver_rows, json_document
from registry_service.services.idempotent import dialect_insert
from registry_service.services.queries import EventFilter, newest_first_page

SCHEMA_VERSION = 1
KINDS = ("rejected_event", "quarantined_event", "station_fault", "station_event")
UNITS = ("kg", "Nm3")
MAX_REPORTS = 200
MAX_DETAIL = 1000
MAX_PAYLOAD = 16 * 1024  # decoded bytes kept; beyond this only the hash
MAX_RAW = 16 * 1024  # bytes of a malformed report's JSON kept
# Derived report ids live in their own UUIDv5 namespace, apart from any station-made UUID.
DERIVED_NAMESPACE = uuid.UUID("6f0c1f2e-3c55-5b7e-9a51-0d6c9e4f6a10")


@dataclass(frozen=True)
class FaultReportIn:
    """One report as far as it could be read (api/fault_reports.py); `problems` says what could not."""

    raw: str  # the report's canonical JSON: sorted keys, so a retry gives the same text
    problems: tuple[str, ...] = ()
    report_uuid: uuid.UUID | None = None
    schema_version: int | None = None
    kind: str | None = None
    code: str | None = None
    pump: int | None = None
    occurred_at: datetime | None = None
    cleared_at: datetime | None = None
    detail: str = ""
    subject_id: str | None = None
    payload_sha256: str | None = None
    payload: bytes | None = None
    quantity: float | None = None  # metered station_event reports: gas dispensed, in `unit`
    unit: str | None = None
    totaliser: float | None = None


class StationRef(Protocol):
    """What storing reports needs of the station: a Station, or a row of its id and code."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...


_FAULTS: Table = StationFault.__table__  # type: ignore[assignment]


def record_reports(
    session: Session,
    station: StationRef,
    reports: list[FaultReportIn],
    now: datetime,
    meter_tolerance: float = meters.DEFAULT_TOLERANCE,
) -> dict[str, int]:
    """Store each report once (by report id); returns the same counts as a scan-event upload.
    The reports stored now (not the duplicates) then move the meter readings and may open alarms
    (services/meters.py), in the order the station sent them."""
    values: dict[uuid.UUID, dict[str, Any]] = {}
    first: dict[uuid.UUID, FaultReportIn] = {}
    for report in reports:
        columns = _report_values(report, station.code)
        values.setdefault(columns["report_uuid"], columns)
        first.setdefault(columns["report_uuid"], report)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        stored = _insert_json_batch(session, station.id, list(values.values()), now)
    else:
        rows = [{"station_id": station.id, "received_at": now, **columns} for columns in values.values()]
        stored = set(connection.execute(_store(connection.dialect.name), rows).scalars())
    meters.reconcile(session, station.id, [r for key, r in first.items() if key in stored], now, meter_tolerance)
    accepted = len(stored)
    return {"received": len(reports), "accepted": accepted, "duplicates": len(reports) - accepted}


@functools.cache
def _store(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING report_uuid, built once per dialect: a Core
    statement on the table, whose cache key SQLAlchemy then computes once, not per request;
    executemany with it sends the rows as multi-row VALUES ("insertmanyvalues")."""
    return dialect_insert(dialect)(_FAULTS).on_conflict_do_nothing().returning(_FAULTS.c.report_uuid)


# PostgreSQL: the reports travel as one JSON array that PostgreSQL unpacks (json_to_recordset), in
# one constant statement whatever their number, as scan events do (services/events.py). Core's
# executemany sent them as multi-row VALUES of 19 parameters a row, in several statements: psycopg
# parses a query of more than 50 parameters anew on every execution, so they went two rows at a
# time, each page one more round trip and SQLAlchemy's per-statement work. The statement is sent
# with $n placeholders through psycopg's RawCursor (driver_sql.driver_rows), prepared once per
# connection. WITH ORDINALITY ... ORDER BY inserts the rows in the order sent, so that their ids
# (the table's sequence) keep that order as the executemany's did. The payload's bytes travel as
# hex (JSON has no bytes), decoded by the statement.
_PG_REPORT_COLUMNS = {
    "report_uuid": "uuid",
    "pump": "int4",
    "schema_version": "int4",
    "kind": "text",
    "code": "text",
    "occurred_at": "timestamptz",
    "cleared_at": "timestamptz",
    "detail": "text",
    "subject_id": "text",
    "payload_sha256": "text",
    "payload": "text",
    "raw": "text",
    "malformed": "bool",
    "quantity": "float8",
    "unit": "text",
    "totaliser": "float8",
}
_PG_FROM_JSON = {"payload": "decode(r.payload, 'hex')"}
_PG_INSERT = DriverStatement.of(
    f"INSERT INTO station_faults (station_id, received_at, {', '.join(_PG_REPORT_COLUMNS)}) "
    f"SELECT %(station_id)s, %(received_at)s, {', '.join(_PG_FROM_JSON.get(c, f'r.{c}') for c in _PG_REPORT_COLUMNS)} "
    f"FROM ROWS FROM (json_to_recordset(%(reports)s::json) "
    f"AS ({', '.join(f'{c} {t}' for c, t in _PG_REPORT_COLUMNS.items())})) WITH ORDINALITY AS r "
    "ORDER BY r.ordinality "
    "ON CONFLICT DO NOTHING "
    "RETURNING report_uuid"
)


def _insert_json_batch(session: Session, station_id: int, values: list[dict[str, Any]], now: datetime) -> set[uuid.UUID]:
    """The reports (`_report_values`) stored in one statement; returns the report ids that were new."""
    document = json_document(
        [
            # Instants in UTC: an RFC 3339 offset may have seconds and a fraction of one, which
            # Python reads and PostgreSQL's timestamptz input refuses (the Core path converts too).
            {
                **columns,
                "payload": _hex(columns["payload"]),
                "occurred_at": _utc(columns["occurred_at"]),
                "cleared_at": _utc(columns["cleared_at"]),
            }
            for columns in values
        ]
    )
    parameters = {"station_id": station_id, "received_at": now, "reports": document}
    return {row[0] for row in driver_rows(session, _PG_INSERT.sql, _PG_INSERT.values(parameters))}


def _hex(payload: bytes | None) -> str | None:
    return payload.hex() if payload is not None else None


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def derived_report_uuid(station_code: str, raw: str) -> uuid.UUID:
    """The id of a report without a usable report_id: stable across retries of the same report; the
    station code keeps two stations' identical broken reports apart."""
    return uuid.uuid5(DERIVED_NAMESPACE, hashlib.sha256(f"{station_code}\n{raw}".encode("utf-8", "backslashreplace")).hexdigest())


def _report_values(report: FaultReportIn, station_code: str) -> dict[str, Any]:
    """A report's columns, those of the station and the receipt aside (keys as in _PG_REPORT_COLUMNS)."""
    malformed = bool(report.problems)
    return {
        "report_uuid": report.report_uuid or derived_report_uuid(station_code, report.raw),
        "pump": report.pump,
        "schema_version": report.schema_version,
        "kind": report.kind,
        "code": report.code,
        "occurred_at": report.occurred_at,
        "cleared_at": report.cleared_at,
        "detail": report.detail,
        "subject_id": report.subject_id,
        "payload_sha256": report.payload_sha256,
        "payload": report.payload,
        # Kept when the columns may not tell the whole story: a broken report or an unknown version.
        "raw": truncate_utf8(storable(report.raw), MAX_RAW) if malformed or report.schema_version != SCHEMA_VERSION else None,
        "malformed": malformed,
        "quantity": report.quantity,
        "unit": report.unit,
        "totaliser": report.totaliser,
    }


def storable(text: str) -> str:
    """Text every database takes: no NUL (PostgreSQL refuses it), no lone surrogates (not UTF-8)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "backslashreplace").decode("utf-8")


def truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


# The bureau's list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultFilter:
    station: str | None = None
    kind: str | None = None
    since: datetime | None = None  # on the registry's receiving clock: a station's clock may be the fault
    until: datetime | None = None


def list_faults(session: Session, flt: FaultFilter, now: datetime, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest received first, `limit` per page; the time window is bounded like the event queries."""
    since, until = EventFilter(since=flt.since, until=flt.until).window(now)
    query = (
        select(StationFault, Station.code, Station.name)
        .join(Station, Station.id == StationFault.station_id)
        .where(StationFault.received_at >= since, StationFault.received_at < until)
    )
    if flt.station:
        query = query.where(Station.code == flt.station)
    if flt.kind:
        query = query.where(StationFault.kind == flt.kind)
    # A report UUID is unique per station only (migration 0019): station_id makes the order total.
    page, next_cursor = newest_first_page(
        session, query, limit, cursor, StationFault.received_at, StationFault.report_uuid, StationFault.station_id
    )
    return {"faults": [fault_json(fault, code, name) for fault, code, name in page], "next_cursor": next_cursor}


def fault_json(fault: StationFault, station_code: str, station_name: str) -> dict[str, Any]:
    return {
        "report_id": str(fault.report_uuid),
        "station": station_code,
        "station_name": station_name,
        "schema": fault.schema_version,
        "kind": fault.kind,
        "code": fault.code,
        "pump": fault.pump,
        "occurred_at": _iso(fault.occurred_at),
        "received_at": fault.received_at.isoformat(),
        "cleared_at": _iso(fault.cleared_at),
        "detail": fault.detail,
        "subject_id": fault.subject_id,
        "payload_sha256": fault.payload_sha256,
        "payload_size": len(fault.payload) if fault.payload is not None else None,
        "payload_b64": base64.b64encode(fault.payload).decode() if fault.payload is not None else None,
        "raw": fault.raw,
        "malformed": fault.malformed,
        "quantity": fault.quantity,
        "unit": fault.unit,
        "totaliser": fault.totaliser,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
