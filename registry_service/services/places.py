"""Regions (the bureau's grid), stations with pumps, inspection centres."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, InvalidInput, NotFound
from registry_service.models import InspectionCentre, Pump, Region, RegionLevel, Station
from registry_service.principal import Principal
from registry_service.services import audit
from registry_service.services.station_health import canonical_opening_hours

_CHILD_LEVEL = {
    None: RegionLevel.CITY,
    RegionLevel.CITY: RegionLevel.DISTRICT,
    # A district's children default to cells (data from before streets existed stays valid); a
    # street is created by naming its level, and its children are cells.
    RegionLevel.DISTRICT: RegionLevel.CELL,
    RegionLevel.STREET: RegionLevel.CELL,
    RegionLevel.CELL: RegionLevel.CELL,
}


def ensure_region(
    session: Session, code: str, name: str, parent: Region | None = None, level: RegionLevel | None = None
) -> Region:
    """Get or create a region; its path is the parent's path plus its own code."""
    region = session.scalar(select(Region).where(Region.code == code))
    if region is not None:
        return region
    level = level or _CHILD_LEVEL[parent.level if parent else None]
    path = f"{parent.path}/{code}" if parent else code
    region = Region(code=code, name=name, level=level, parent_id=parent.id if parent else None, path=path)
    session.add(region)
    session.flush()
    return region


def region_by_code(session: Session, code: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(f"no region {code}")
    return region


def station_by_code(session: Session, code: str) -> Station:
    station = session.scalar(select(Station).where(Station.code == code))
    if station is None:
        raise NotFound(f"no station {code}")
    return station


def centre_by_code(session: Session, code: str) -> InspectionCentre:
    centre = session.scalar(select(InspectionCentre).where(InspectionCentre.code == code))
    if centre is None:
        raise NotFound(f"no inspection centre {code}")
    return centre


def create_station(
    session: Session,
    actor: Principal | str,
    now: datetime,
    *,
    code: str,
    name: str,
    region_code: str,
    latitude: float | None = None,
    longitude: float | None = None,
    pumps: int = 2,
    monitor_mode: bool = False,
    opening_hours: str | None = None,
) -> Station:
    if session.scalar(select(Station.id).where(Station.code == code)) is not None:
        raise Conflict(f"station {code} already exists")
    if (latitude is not None and not -90 <= latitude <= 90) or (longitude is not None and not -180 <= longitude <= 180):
        raise InvalidInput("latitude/longitude out of range")
    if not 1 <= pumps <= 64:
        raise InvalidInput("a station has 1 to 64 pumps")
    hours = canonical_opening_hours(opening_hours)  # OpeningHoursError (422) names what is wrong
    region = region_by_code(session, region_code)
    station = Station(
        code=code,
        name=name,
        region_id=region.id,
        latitude=latitude,
        longitude=longitude,
        monitor_mode=monitor_mode,
        active=True,
        opening_hours=hours,
    )
    session.add(station)
    session.flush()
    session.add_all(Pump(station_id=station.id, number=n, label=f"{n}号枪") for n in range(1, pumps + 1))
    audit.record(session, actor, "create_station", "station", code, now, region=region_code)
    return station


def create_centre(
    session: Session, actor: Principal | str, now: datetime, *, code: str, name: str, region_code: str | None = None
) -> InspectionCentre:
    if session.scalar(select(InspectionCentre.id).where(InspectionCentre.code == code)) is not None:
        raise Conflict(f"inspection centre {code} already exists")
    region_id = region_by_code(session, region_code).id if region_code else None
    centre = InspectionCentre(code=code, name=name, region_id=region_id, active=True)
    session.add(centre)
    session.flush()
    audit.record(session, actor, "create_centre", "inspection_centre", code, now, name=name)
    return centre


def set_centre_active(
    session: Session, actor: Principal | str, now: datetime, code: str, active: bool, reason: str
) -> InspectionCentre:
    centre = centre_by_code(session, code)
    if centre.active != active:
        centre.active = active
        audit.record(
            session, actor, "reinstate_centre" if active else "suspend_centre", "inspection_centre", code, now, reason=reason
        )
    return centre


def regions_under(session: Session, code: str) -> str:
    """The path prefix that selects a region and everything below it."""
    return region_by_code(session, code).path
