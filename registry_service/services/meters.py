"""Metered reconciliation at the registry: the last totaliser reading per pump, and the alarms
for gas no allowed session explains (schemas/station-fault-report.md, kind station_event).

- Every stored report carrying `totaliser` moves the pump's last reading (models/meters.py).
- An `agent_started` whose reading is above the last one held by more than the tolerance: gas was
  dispensed while the agent was stopped (or its meter unread). The registry's own finding: a
  `registry`-source unexplained_quantity alarm with the difference.
- An `unexplained_quantity` report: the agent saw the totaliser advance with no allowed session
  (the relay bypassed): an `agent`-source alarm with the report's quantity.

Both alarms carry the report's UUID, so a re-sent report never opens a second one. Reports are
taken in the order the station sent them (its outbox order), so a reading is compared with the
one the station made just before it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from registry_service.models import PumpMeter
from registry_service.services import station_alarms

STATION_EVENT = "station_event"
AGENT_STARTED = "agent_started"
UNEXPLAINED_QUANTITY = "unexplained_quantity"
DEFAULT_TOLERANCE = 0.05  # in the meter's unit (REGISTRY_METER_TOLERANCE)


class MeteredReport(Protocol):
    """What this module reads of a stored report (services/station_faults.py FaultReportIn, which
    calls this module: a protocol here keeps the two apart)."""

    @property
    def problems(self) -> tuple[str, ...]: ...
    @property
    def report_uuid(self) -> uuid.UUID | None: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def code(self) -> str | None: ...
    @property
    def pump(self) -> int | None: ...
    @property
    def occurred_at(self) -> datetime | None: ...
    @property
    def detail(self) -> str: ...
    @property
    def quantity(self) -> float | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def totaliser(self) -> float | None: ...


# Core statements built once, with bound parameters: a heartbeat's fill reports come several a
# minute from every pump, and an ORM load and flush per pump cost more CPU than the database's work.
_METERS: Table = PumpMeter.__table__  # type: ignore[assignment]
_READ = select(_METERS.c.value, _METERS.c.unit, _METERS.c.read_at).where(
    _METERS.c.station_id == bindparam("meter_station"), _METERS.c.pump == bindparam("meter_pump")
)
_INSERT = insert(_METERS)  # the values by column name
# The new reading by column name; the row by (station_id, pump), which is unique.
_UPDATE = update(_METERS).where(_METERS.c.station_id == bindparam("meter_station"), _METERS.c.pump == bindparam("meter_pump"))


@dataclass
class _Meter:
    """A pump's last reading as this call holds it."""

    value: float
    unit: str
    read_at: datetime
    changed: bool = False  # moved since it was read or inserted: to be written


def reconcile(session: Session, station_id: int, reports: Iterable[MeteredReport], now: datetime, tolerance: float) -> int:
    """Apply newly stored, well-formed station_event reports; returns the alarms opened."""
    connection = session.connection()
    opened = 0
    # Each pump's meter row, read once per call: a heartbeat brings several readings of one pump
    # (every fill's start and end), and each is compared with the one before it, here; the rows
    # moved are written once, at the end.
    held: dict[int, _Meter] = {}
    for report in reports:
        if report.problems or report.kind != STATION_EVENT or report.pump is None or report.report_uuid is None:
            continue
        if report.code == UNEXPLAINED_QUANTITY and report.quantity is not None:
            _unexplained(
                session, station_id, report, now, station_alarms.SOURCE_AGENT, report.quantity, report.unit, report.detail
            )
            opened += 1
        if report.totaliser is not None and report.unit is not None and report.occurred_at is not None:
            opened += _reading(
                session, connection, station_id, report, report.totaliser, report.unit, report.occurred_at, now, tolerance, held
            )
    moved = [
        {
            "meter_station": station_id,
            "meter_pump": pump,
            "value": m.value,
            "unit": m.unit,
            "read_at": m.read_at,
            "received_at": now,
        }
        for pump, m in held.items()
        if m.changed
    ]
    if moved:
        connection.execute(_UPDATE, moved)
    return opened


def _reading(
    session: Session,
    connection: Connection,
    station_id: int,
    report: MeteredReport,
    value: float,
    unit: str,
    read_at: datetime,
    now: datetime,
    tolerance: float,
    held: dict[int, _Meter],
) -> int:
    assert report.pump is not None and report.report_uuid is not None
    meter = held.get(report.pump)
    if meter is None:
        row = connection.execute(_READ, {"meter_station": station_id, "meter_pump": report.pump}).first()
        if row is None:
            connection.execute(
                _INSERT,
                {
                    "station_id": station_id,
                    "pump": report.pump,
                    "value": value,
                    "unit": unit,
                    "read_at": read_at,
                    "received_at": now,
                },
            )
            held[report.pump] = _Meter(value, unit, read_at)
            return 0
        meter = held[report.pump] = _Meter(row.value, row.unit, row.read_at)
    opened = 0
    gap = value - meter.value
    # Another unit (the station's config changed) or a lower total (a meter replaced or reset) is a
    # new baseline, not gas; only an advance across a restart is compared.
    if report.code == AGENT_STARTED and meter.unit == unit and math.isfinite(gap) and gap > tolerance:
        detail = (
            f"{gap:g} {unit} dispensed while the agent was stopped: the totaliser read {meter.value:g} at "
            f"{meter.read_at.isoformat()} and {value:g} when the agent started at {read_at.isoformat()}"
        )
        _unexplained(session, station_id, report, now, station_alarms.SOURCE_REGISTRY, gap, unit, detail)
        opened = 1
    meter.value, meter.unit, meter.read_at, meter.changed = value, unit, read_at, True
    return opened


def _unexplained(
    session: Session,
    station_id: int,
    report: MeteredReport,
    now: datetime,
    source: str,
    quantity: float,
    unit: str | None,
    detail: str,
) -> None:
    """An unexplained_quantity alarm of the report's pump, idempotent by the report's UUID."""
    station_alarms.open_alarm(
        session,
        station_id=station_id,
        pump=report.pump,
        kind=station_alarms.UNEXPLAINED_QUANTITY,
        source=source,
        opened_at=now,
        quantity=quantity,
        unit=unit,
        detail=detail,
        report_uuid=report.report_uuid,
    )
