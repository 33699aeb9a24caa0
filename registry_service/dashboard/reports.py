"""Read-only questions behind the overview and the refuel-attempt list.

Counting is the registry's (services/queries.py, services/clones.py); what is added here is what
the pages need on top: zero-filled days, a roll-up of station counts to the children of one grid
area (for drilling down), and a sortable, offset-paged list with a bounded total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from registry_service.dashboard.charts import DayCounts
from registry_service.dashboard.filters import PAGE_SIZE, DashboardQuery
from registry_service.models import Outcome, Region, ScanEvent, Station
from registry_service.services import clones, places, queries, station_counts

PROBLEMS = (Outcome.REFUSED, Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE)
COUNT_CAP = 10_000  # beyond this the page says "more than 10,000": counting 20 M rows is not free
EXPORT_CAP = 50_000
_COUNT_KEYS = ("total", *(o.value for o in Outcome))


@dataclass(frozen=True)
class Settings:
    utc_offset_hours: int
    max_speed_kmh: float
    # Count from scan_events and run the clone rules over the period, as before roll-ups: the
    # benchmark's baseline and the tests' reference, never the pages.
    raw_events: bool = False


@dataclass
class AreaRow:
    kind: str  # "region" or "station"
    code: str
    name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNT_KEYS, 0))

    @property
    def problems(self) -> int:
        return sum(self.counts[o.value] for o in PROBLEMS)


@dataclass
class AreaBreakdown:
    region: Region | None
    trail: list[Region]  # from the city down to `region`
    rows: list[AreaRow]

    @property
    def scale(self) -> int:
        return max((row.problems for row in self.rows), default=0)


@dataclass(frozen=True)
class Overview:
    days: list[DayCounts]
    areas: AreaBreakdown
    stations: list[dict[str, Any]]
    suspects: list[clones.Suspect]


def overview(session: Session, query: DashboardQuery, now: datetime, settings: Settings) -> Overview:
    flt = query.event_filter(settings.utc_offset_hours)
    offset, raw = settings.utc_offset_hours, settings.raw_events
    # One count per station serves the ranking and the area breakdown (the same filter): at
    # national size it is 10,000 stations, counted once and named only where shown.
    by_station = station_counts.counts_by_station(session, flt, now, offset, raw_events=raw)
    if raw:
        suspects = clones.detect_in_window(session, flt, now, settings.max_speed_kmh, offset, 20)
    else:
        suspects = clones.find_suspects(session, flt, now, 20)
    return Overview(
        days=daily_counts(session, query, now, offset, raw_events=raw),
        areas=area_breakdown(session, query, now, offset, raw_events=raw, by_station=by_station),
        stations=station_counts.problem_ranking(session, by_station, 10),
        suspects=suspects,
    )


def daily_counts(
    session: Session, query: DashboardQuery, now: datetime, utc_offset_hours: int, *, raw_events: bool = False
) -> list[DayCounts]:
    """Problem outcomes per local day, every day of the range present (zero when quiet)."""
    flt = query.event_filter(utc_offset_hours, PROBLEMS)
    groups = queries.aggregate(session, flt, now, "day", utc_offset_hours, raw_events=raw_events)["groups"]
    by_day = {str(g["key"])[:10]: g for g in groups}
    result = []
    for day in query.days():
        group = by_day.get(day.isoformat(), {})
        result.append(DayCounts(day, {o.value: int(group.get(o.value, 0)) for o in PROBLEMS}))
    return result


def root_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)))


def area_breakdown(
    session: Session,
    query: DashboardQuery,
    now: datetime,
    utc_offset_hours: int,
    *,
    raw_events: bool = False,
    by_station: station_counts.StationCounts | None = None,
) -> AreaBreakdown:
    """Counts for each child of the selected area (or each station directly in it).

    With no area selected and a single city, the city is the area; stations are rolled up by the
    first path segment below the area's path, so one station query serves every level. That segment
    is found once per grid region, not per station (1,581 regions, 10,000 stations nationally).
    """
    region: Region | None = None
    if query.events.region:
        region = places.region_by_code(session, query.events.region)
    else:
        roots = root_regions(session)
        region = roots[0] if len(roots) == 1 else None
    trail = region_trail(session, region) if region else []
    prefix = region.path + "/" if region else ""
    children = session.scalars(
        select(Region).where(Region.parent_id == region.id) if region else select(Region).where(Region.parent_id.is_(None))
    ).all()
    rows: dict[str, AreaRow] = {c.path: AreaRow("region", c.code, c.name) for c in children}
    subtree = select(Region.id, Region.path)
    if region is not None:
        subtree = subtree.where(or_(Region.path == region.path, Region.path.startswith(prefix, autoescape=True)))
    row_of_region: dict[int, AreaRow] = {}
    for region_id, path in session.execute(subtree):
        row = rows.get(prefix + path[len(prefix) :].split("/")[0]) if region is None or path != region.path else None
        if row is not None:
            row_of_region[region_id] = row
    where: dict[int, AreaRow] = {}
    if region is not None:  # stations right in the area: a row each
        for station_id, code, name in session.execute(
            select(Station.id, Station.code, Station.name).where(Station.region_id == region.id)
        ):
            where[station_id] = rows.setdefault("station:" + code, AreaRow("station", code, name))
    station_query = select(Station.id, Station.region_id)
    if region is not None:
        station_query = station_query.where(Station.region_id.in_(subtree.with_only_columns(Region.id)))
    for station_id, region_id in session.execute(station_query):
        row = row_of_region.get(region_id)
        if row is not None:
            where[station_id] = row
    # The count per station of the query's own filter (`by_station`, when the caller made it): with
    # no area asked for, the area is the only top-level region, which holds every station anyway.
    if by_station is None:
        flt = query.event_filter(utc_offset_hours)
        by_station = station_counts.counts_by_station(session, flt, now, utc_offset_hours, raw_events=raw_events)
    # Each row's stations' counts gathered, then summed column by column (in C, not per station).
    gathered: dict[int, tuple[AreaRow, list[Sequence[int]]]] = {}
    for station_id, counted in by_station.items():
        row = where.get(station_id)
        if row is not None:
            gathered.setdefault(id(row), (row, []))[1].append(counted)
    for row, counts in gathered.values():
        for key, n in zip(_COUNT_KEYS, map(sum, zip(*counts, strict=True)), strict=True):
            row.counts[key] += n
    ordered = sorted(rows.values(), key=lambda r: (-r.problems, -r.counts["total"], r.kind, r.code))
    return AreaBreakdown(region, trail, ordered)


def region_trail(session: Session, region: Region) -> list[Region]:
    """The region and its ancestors, city first (one query: the path lists their codes)."""
    codes = region.path.split("/")
    found = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    return [found[c] for c in codes if c in found]


# The refuel-attempt list ---------------------------------------------------------------------

_SORT_COLUMNS: dict[str, Any] = {
    "time": ScanEvent.occurred_at,
    "station": Station.code,
    "plate": ScanEvent.plate,
    "cylinder": ScanEvent.cylinder_id,
    "outcome": ScanEvent.outcome,
}


@dataclass(frozen=True)
class AttemptPage:
    rows: list[dict[str, Any]]
    total: int
    capped: bool
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _attempts_query(
    session: Session, query: DashboardQuery, now: datetime, utc_offset_hours: int
) -> Select[ScanEvent, str, str] | None:
    cond = queries.conditions(session, query.event_filter(utc_offset_hours), now)
    if cond.empty:
        return None
    column = _SORT_COLUMNS[query.sort]
    order = [column.desc() if query.descending else column.asc()]
    if query.sort != "time":
        order.append(ScanEvent.occurred_at.desc())
    # An event UUID is unique per station only (migration 0019): station_id makes the order total,
    # so an offset page never splits two stations' events of one UUID and instant differently.
    order += [ScanEvent.event_uuid.desc(), ScanEvent.station_id.desc()]
    statement = (
        select(ScanEvent, Station.code, Station.name)
        .join(Station, Station.id == ScanEvent.station_id)
        .where(*cond.where)
        .order_by(*order)
    )
    return statement


def attempt_page(session: Session, query: DashboardQuery, now: datetime, utc_offset_hours: int) -> AttemptPage:
    statement = _attempts_query(session, query, now, utc_offset_hours)
    if statement is None:
        return AttemptPage([], 0, False, 1)
    bounded = statement.with_only_columns(ScanEvent.event_uuid).order_by(None).limit(COUNT_CAP + 1).subquery()
    total = int(session.scalar(select(func.count()).select_from(bounded)) or 0)
    rows = session.execute(statement.offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return AttemptPage(
        [queries.event_json(e, code, name) | {"_at": e.occurred_at} for e, code, name in rows],
        min(total, COUNT_CAP),
        total > COUNT_CAP,
        query.page,
    )


def attempts_for_export(session: Session, query: DashboardQuery, now: datetime, utc_offset_hours: int) -> list[dict[str, Any]]:
    """Every matching attempt in the page's order, up to EXPORT_CAP rows (with `_at`, the instant)."""
    statement = _attempts_query(session, query, now, utc_offset_hours)
    if statement is None:
        return []
    rows = session.execute(statement.limit(EXPORT_CAP))
    return [queries.event_json(event, code, name) | {"_at": event.occurred_at} for event, code, name in rows]
