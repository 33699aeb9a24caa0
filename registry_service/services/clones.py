"""Suspected cloned tags, from scan events alone:

- impossible travel: the same tag UID or cylinder at two stations too far apart for the time
  between the two scans;
- read counter: NTAG's 24-bit read counter only grows; a scan whose counter is not above the
  previous scan's of the same UID means two chips answer with that UID;
- fill frequency (the Peruvian rule): more than one fill within an hour, or more than four a day.
Window functions (LAG) run in the database; distances are computed here from station coordinates.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_service.models import FILL_OUTCOMES, ScanEvent, Station, UTCDateTime
from registry_service.services.queries import EventFilter, conditions, local_day

EARTH_RADIUS_KM = 6371.0
MIN_FILL_GAP = timedelta(hours=1)
MAX_FILLS_PER_DAY = 4
DEFAULT_CLONE_RANGE = timedelta(days=1)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def suspected_clones(
    session: Session, flt: EventFilter, now: datetime, max_speed_kmh: float, utc_offset_hours: int, limit: int
) -> dict[str, Any]:
    # Window functions over every scan of the period: default to one day, not the lists' seven.
    cond = conditions(session, flt, now, default_range=DEFAULT_CLONE_RANGE)
    if cond.empty:
        return {"suspects": []}
    stations = {
        i: (c, lat, lon)
        for i, c, lat, lon in session.execute(select(Station.id, Station.code, Station.latitude, Station.longitude))
    }
    suspects = [
        *_impossible_travel(session, cond.where, stations, max_speed_kmh, "tag_uid"),
        *_impossible_travel(session, cond.where, stations, max_speed_kmh, "cylinder_id"),
        *_counter_anomalies(session, cond.where, stations),
        *_fill_frequency(session, cond.where, stations, utc_offset_hours),
    ]
    suspects.sort(key=lambda s: s["at"], reverse=True)
    return {"suspects": suspects[:limit]}


def _lagged(session: Session, where: list[Any], key_name: str, *extra: Any) -> Any:
    key = getattr(ScanEvent, key_name)
    window = {"partition_by": key, "order_by": (ScanEvent.occurred_at, ScanEvent.event_uuid)}
    inner = (
        select(
            key.label("key"),
            ScanEvent.occurred_at,
            ScanEvent.station_id,
            ScanEvent.read_counter,
            ScanEvent.event_uuid,
            func.lag(ScanEvent.occurred_at, type_=UTCDateTime()).over(**window).label("prev_at"),
            func.lag(ScanEvent.station_id).over(**window).label("prev_station"),
            func.lag(ScanEvent.read_counter).over(**window).label("prev_counter"),
            *extra,
        )
        .where(*where, key.is_not(None))
        .subquery()
    )
    return inner


def _impossible_travel(
    session: Session, where: list[Any], stations: dict[int, Any], max_speed: float, key_name: str
) -> list[dict[str, Any]]:
    lagged = _lagged(session, where, key_name)
    rows = session.execute(select(lagged).where(lagged.c.prev_station.is_not(None), lagged.c.prev_station != lagged.c.station_id))
    found = []
    for row in rows:
        here, there = stations[row.station_id], stations[row.prev_station]
        if None in (here[1], here[2], there[1], there[2]):
            continue
        km = distance_km((here[1], here[2]), (there[1], there[2]))
        hours = max((row.occurred_at - row.prev_at).total_seconds() / 3600, 1 / 3600)
        if km / hours > max_speed:
            found.append(
                _suspect(
                    "impossible_travel", key_name, row, stations, f"{km:.1f} km in {hours * 60:.0f} min ({km / hours:.0f} km/h)"
                )
            )
    return found


def _counter_anomalies(session: Session, where: list[Any], stations: dict[int, Any]) -> list[dict[str, Any]]:
    lagged = _lagged(session, [*where, ScanEvent.read_counter.is_not(None)], "tag_uid")
    rows = session.execute(
        select(lagged).where(lagged.c.prev_counter.is_not(None), lagged.c.read_counter <= lagged.c.prev_counter)
    )
    return [
        _suspect("counter_not_increasing", "tag_uid", row, stations, f"read counter {row.read_counter} after {row.prev_counter}")
        for row in rows
    ]


def _fill_frequency(session: Session, where: list[Any], stations: dict[int, Any], utc_offset_hours: int) -> list[dict[str, Any]]:
    fills = [*where, ScanEvent.outcome.in_(FILL_OUTCOMES)]
    lagged = _lagged(session, fills, "cylinder_id", local_day(session, utc_offset_hours).label("day"))
    found = []
    per_day: Counter[tuple[str, Any]] = Counter()
    last_of_day: dict[tuple[str, Any], Any] = {}
    for row in session.execute(select(lagged)):
        per_day[(row.key, row.day)] += 1
        last_of_day[(row.key, row.day)] = row
        if row.prev_at is not None and row.occurred_at - row.prev_at < MIN_FILL_GAP:
            minutes = (row.occurred_at - row.prev_at).total_seconds() / 60
            found.append(_suspect("fills_within_hour", "cylinder_id", row, stations, f"two fills {minutes:.0f} min apart"))
    for (key, day), count in per_day.items():
        if count > MAX_FILLS_PER_DAY:
            found.append(
                _suspect("too_many_fills_per_day", "cylinder_id", last_of_day[(key, day)], stations, f"{count} fills on {day}")
            )
    return found


def _suspect(kind: str, key_name: str, row: Any, stations: dict[int, Any], detail: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "key_type": key_name,
        "key": row.key,
        "at": row.occurred_at.isoformat(),
        "station": stations[row.station_id][0],
        "previous_at": row.prev_at.isoformat() if row.prev_at else None,
        "previous_station": stations[row.prev_station][0] if row.prev_station in stations else None,
        "event_id": str(row.event_uuid),
        "detail": detail,
    }
