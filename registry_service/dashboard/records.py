"""Read-only histories for the vehicle, cylinder, station and inspection pages, and the list of
suspected clones.

Each history is bounded (a time window and a row limit) because scan_events is the 20 M-rows-a-day
table; the lookups use its (plate, time), (cylinder, time) and (station, time) indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry_service.dashboard.charts import DayCounts
from registry_service.dashboard.filters import PAGE_SIZE, DashboardQuery
from registry_service.dashboard.reports import EXPORT_CAP, daily_counts, region_trail
from registry_service.errors import NotFound
from registry_service.models import (
    Cylinder,
    Inspection,
    InspectionCentre,
    Outcome,
    Region,
    Revocation,
    ScanEvent,
    Station,
    Vehicle,
)
from registry_service.services import clones, places, queries

HISTORY_WINDOW = timedelta(days=366)
HISTORY_LIMIT = 200
# Refusals about the tag itself rather than its cylinder: their rows show the tag's UID, the one
# thing known about a forged, moved or unknown-signer tag (it may have no cylinder row at all).
TAG_REASONS = frozenset(
    {
        "no_record",
        "malformed",
        "unsupported_version",
        "unknown_signer",
        "bad_signature",
        "signer_revoked",
        "uid_mismatch",
        "chip_not_genuine",
        "unregistered",
        "registration_mismatch",
    }
)


@dataclass(frozen=True)
class VehicleHistory:
    vehicle: Vehicle
    cylinders: list[Cylinder]
    inspections: list[dict[str, Any]]
    scans: list[dict[str, Any]]

    @property
    def overrides(self) -> list[dict[str, Any]]:
        return [s for s in self.scans if s["outcome"] == Outcome.OVERRIDDEN.value]


@dataclass(frozen=True)
class CylinderHistory:
    cylinder: Cylinder
    vehicle: Vehicle | None
    inspections: list[dict[str, Any]]
    scans: list[dict[str, Any]]
    revocations: list[Revocation]


@dataclass(frozen=True)
class StationHistory:
    station: Station
    trail: list[Region]
    pumps: int
    days: list[DayCounts]
    problems: list[dict[str, Any]]
    overrides_by_attendant: list[tuple[str, int]]


def _scans(session: Session, now: datetime, *conditions: Any, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ScanEvent, Station.code, Station.name)
        .join(Station, Station.id == ScanEvent.station_id)
        .where(ScanEvent.occurred_at >= now - HISTORY_WINDOW, *conditions)
        .order_by(ScanEvent.occurred_at.desc(), ScanEvent.event_uuid.desc())
        .limit(limit)
    ).all()
    return [queries.event_json(e, code, name) | {"_at": e.occurred_at} for e, code, name in rows]


def _inspections(session: Session, cylinder_pks: list[int], centre_id: int | None) -> list[dict[str, Any]]:
    if not cylinder_pks:
        return []
    query = (
        select(Inspection, Cylinder.cylinder_id, InspectionCentre.code, InspectionCentre.name)
        .join(Cylinder, Cylinder.id == Inspection.cylinder_pk)
        .join(InspectionCentre, InspectionCentre.id == Inspection.centre_id)
        .where(Inspection.cylinder_pk.in_(cylinder_pks))
    )
    if centre_id is not None:
        query = query.where(Inspection.centre_id == centre_id)
    rows = session.execute(query.order_by(Inspection.inspected_on.desc(), Inspection.id.desc()).limit(HISTORY_LIMIT))
    return [_inspection_row(i, cyl, code, name) for i, cyl, code, name in rows]


def _inspection_row(inspection: Inspection, cylinder_id: str, centre_code: str, centre_name: str) -> dict[str, Any]:
    return {
        "report_number": inspection.report_number,
        "cylinder_id": cylinder_id,
        "inspected_on": inspection.inspected_on,
        "result": inspection.result,
        "next_due": inspection.next_due,
        "sequence": inspection.sequence,
        "tag_uid": inspection.tag_uid,
        "centre": centre_code,
        "centre_name": centre_name,
    }


def vehicle_history(session: Session, plate: str, now: datetime) -> VehicleHistory:
    vehicle = session.scalar(select(Vehicle).where(Vehicle.plate == plate))
    if vehicle is None:
        raise NotFound(f"no vehicle {plate}")
    cylinders = list(session.scalars(select(Cylinder).where(Cylinder.vehicle_id == vehicle.id).order_by(Cylinder.position)))
    pks = [c.id for c in cylinders]
    # Scans by plate, and scans of its cylinders where the station typed no (or another) plate.
    match = or_(ScanEvent.plate == plate, ScanEvent.cylinder_pk.in_(pks)) if pks else ScanEvent.plate == plate
    return VehicleHistory(vehicle, cylinders, _inspections(session, pks, None), _scans(session, now, match))


def cylinder_history(session: Session, cylinder_id: str, now: datetime, centre_id: int | None = None) -> CylinderHistory:
    """A centre user (centre_id given) sees the cylinder only if it inspected it, and only its
    own inspections; refuel attempts and revocations are the bureau's."""
    cylinder = session.scalar(select(Cylinder).where(Cylinder.cylinder_id == cylinder_id))
    if cylinder is None:
        raise NotFound(f"no cylinder {cylinder_id}")
    inspections = _inspections(session, [cylinder.id], centre_id)
    if centre_id is not None:
        if not inspections:
            raise NotFound(f"no cylinder {cylinder_id}")
        return CylinderHistory(cylinder, None, inspections, [], [])
    vehicle = session.get(Vehicle, cylinder.vehicle_id) if cylinder.vehicle_id else None
    revocations = list(
        session.scalars(
            select(Revocation).where(Revocation.cylinder_pk == cylinder.id).order_by(Revocation.id.desc()).limit(HISTORY_LIMIT)
        )
    )
    scans = _scans(session, now, ScanEvent.cylinder_pk == cylinder.id)
    return CylinderHistory(cylinder, vehicle, inspections, scans, revocations)


def station_history(session: Session, code: str, query: DashboardQuery, now: datetime, utc_offset_hours: int) -> StationHistory:
    station = places.station_by_code(session, code)
    scoped = DashboardQuery(query.since, query.until, queries.EventFilter(station=code))
    flt = scoped.event_filter(utc_offset_hours, (Outcome.REFUSED, Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE))
    problems = queries.refuel_attempts(session, flt, now, PAGE_SIZE, None)["attempts"]
    attendants: dict[str, int] = {}
    override_filter = DashboardQuery(query.since, query.until, queries.EventFilter(outcomes=(Outcome.OVERRIDDEN,), station=code))
    cond = queries.conditions(session, override_filter.event_filter(utc_offset_hours), now)
    for (attendant,) in session.execute(select(ScanEvent.attendant).where(*cond.where)):
        key = attendant or "?"
        attendants[key] = attendants.get(key, 0) + 1
    return StationHistory(
        station=station,
        trail=region_trail(session, station.region),
        pumps=len(station.pumps),
        days=daily_counts(session, scoped, now, utc_offset_hours),
        problems=problems,
        overrides_by_attendant=sorted(attendants.items(), key=lambda kv: (-kv[1], kv[0])),
    )


def centre_inspections(session: Session, centre_id: int | None, query: DashboardQuery) -> list[dict[str, Any]]:
    """Inspections reported in the date range: all for the bureau, a centre's own for a centre."""
    statement = (
        select(Inspection, Cylinder.cylinder_id, InspectionCentre.code, InspectionCentre.name)
        .join(Cylinder, Cylinder.id == Inspection.cylinder_pk)
        .join(InspectionCentre, InspectionCentre.id == Inspection.centre_id)
        .where(Inspection.inspected_on >= query.since, Inspection.inspected_on <= query.until)
    )
    if centre_id is not None:
        statement = statement.where(Inspection.centre_id == centre_id)
    if query.events.cylinder_id:
        statement = statement.where(Cylinder.cylinder_id == query.events.cylinder_id)
    statement = statement.order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
    statement = statement.offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return [_inspection_row(i, cyl, code, name) for i, cyl, code, name in session.execute(statement)]


@dataclass(frozen=True)
class ClonePage:
    rows: list[clones.Suspect]
    total: int
    page: int
    station_names: dict[str, str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def clone_page(session: Session, query: DashboardQuery, now: datetime, utc_offset_hours: int) -> ClonePage:
    """One page of the period's suspects (stored as events arrive: services/clones.py), newest first."""
    flt = query.event_filter(utc_offset_hours)
    rows = clones.find_suspects(session, flt, now, PAGE_SIZE, (query.page - 1) * PAGE_SIZE)
    return ClonePage(rows, clones.count_suspects(session, flt, now), query.page, station_names(session, rows))


def clones_for_export(
    session: Session, query: DashboardQuery, now: datetime, utc_offset_hours: int
) -> tuple[list[clones.Suspect], dict[str, str]]:
    """Every suspect of the period, newest first, up to EXPORT_CAP; with the names of their stations."""
    found = clones.find_suspects(session, query.event_filter(utc_offset_hours), now, EXPORT_CAP)
    return found, station_names(session, found)


def station_names(session: Session, rows: list[clones.Suspect]) -> dict[str, str]:
    """Names of the stations the suspects name by code (their name is what people know them by)."""
    codes = {s.station for s in rows} | {s.previous_station for s in rows if s.previous_station}
    if not codes:
        return {}
    return dict(session.execute(select(Station.code, Station.name).where(Station.code.in_(codes))).all())
