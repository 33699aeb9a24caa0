"""Station alarms (models/health.py StationAlarm): open one, clear a station's open ones.

Who raises what: services/station_health.py a `silent` alarm (source "registry"); the metering
work an `unexplained_quantity` alarm from a station's report (source "agent", idempotent by the
report's UUID) or from comparing meter readings (source "registry").
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry_service.models import StationAlarm
from registry_service.services import case_hooks

SILENT = "silent"
UNEXPLAINED_QUANTITY = "unexplained_quantity"
SOURCE_REGISTRY = "registry"
SOURCE_AGENT = "agent"
MAX_DETAIL = 1000


def open_alarm(
    session: Session,
    *,
    station_id: int,
    pump: int | None,
    kind: str,
    source: str,
    opened_at: datetime,
    quantity: float | None = None,
    unit: str | None = None,
    detail: str = "",
    report_uuid: uuid.UUID | None = None,
    silent_since: datetime | None = None,
) -> StationAlarm:
    """A new open alarm; the one already stored when the station's `report_uuid` was seen before (a
    re-sent report). Another station's report with the same UUID is another report (migration 0019)."""
    if report_uuid is not None:
        known = session.scalar(
            select(StationAlarm).where(StationAlarm.station_id == station_id, StationAlarm.report_uuid == report_uuid)
        )
        if known is not None:
            return known
    alarm = StationAlarm(
        station_id=station_id,
        pump=pump,
        kind=kind,
        source=source,
        opened_at=opened_at,
        quantity=quantity,
        unit=unit,
        detail=detail[:MAX_DETAIL],
        report_uuid=report_uuid,
        silent_since=silent_since,
    )
    session.add(alarm)
    session.flush()
    case_hooks.from_alarm(session, station_id=station_id, pump=pump, kind=kind, now=opened_at, detail=alarm.detail)
    return alarm


def clear_alarms(session: Session, station_id: int, kind: str, at: datetime) -> int:
    """Clear the station's open alarms of `kind` as of `at`; returns how many were open."""
    result = session.execute(
        update(StationAlarm)
        .where(StationAlarm.station_id == station_id, StationAlarm.kind == kind, StationAlarm.cleared_at.is_(None))
        .values(cleared_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_alarms(session: Session, station_id: int, kind: str) -> list[StationAlarm]:
    """The station's alarms of `kind` that are not cleared, oldest first."""
    return list(
        session.scalars(
            select(StationAlarm)
            .where(StationAlarm.station_id == station_id, StationAlarm.kind == kind, StationAlarm.cleared_at.is_(None))
            .order_by(StationAlarm.opened_at, StationAlarm.id)
        )
    )
