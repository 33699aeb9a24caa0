"""The bureau's questions about refuel attempts: filtered lists, aggregates, station ranking.

Every query is bounded: a time range (default the last 7 days, at most 366) and a page size.
Grid filters select stations by region path prefix first (there are thousands of stations, not
millions), so the events query is `station_id IN (...) AND occurred_at range`, which the
(station_id, occurred_at) and partial "problems" indexes serve.

Aggregates are read from the roll-ups (models/rollups.py) whenever they can answer: whole
local days in the bureau's time zone, and no filter on what only an event carries (plate,
cylinder, tag, offline, clock); the per-outcome day and month totals when there is no filter on
reason bits either (a national year in a second), else the day counts. Otherwise, or when asked (`raw_events`), they count scan_events;
both give the same numbers (tests/registry/test_rollups.py).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from registry_service.errors import InvalidInput
from registry_service.models import (
    Cylinder,
    Outcome,
    Region,
    RegionDayTotal,
    ScanDayCount,
    ScanDayTotal,
    ScanEvent,
    ScanMonthTotal,
    Station,
)
from registry_service.services import region_rollups
from registry_service.services.places import region_by_code, station_by_code
from registry_service.services.reasons import bit_of

MAX_RANGE = timedelta(days=366)
DEFAULT_RANGE = timedelta(days=7)


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    outcomes: tuple[Outcome, ...] = ()
    reason: str | None = None
    region: str | None = None
    station: str | None = None
    plate: str | None = None
    cylinder_id: str | None = None
    tag_uid: str | None = None
    overdue_only: bool = False
    decided_offline: bool | None = None
    clock_skewed: bool | None = None  # events from a station whose clock was off (services/events.py)

    def window(self, now: datetime, default_range: timedelta = DEFAULT_RANGE) -> tuple[datetime, datetime]:
        # Default end: a little after now, so events from stations with a fast clock are included.
        until = self.until or now + timedelta(minutes=10)
        since = self.since or until - default_range
        if since >= until:
            raise InvalidInput("since must be before until")
        if until - since > MAX_RANGE:
            raise InvalidInput(f"a query covers at most {MAX_RANGE.days} days")
        return since, until


@dataclass
class Conditions:
    where: list[Any] = field(default_factory=list)
    empty: bool = False  # a filter named a place with no stations: no rows, no query


def conditions(session: Session, flt: EventFilter, now: datetime, default_range: timedelta = DEFAULT_RANGE) -> Conditions:
    since, until = flt.window(now, default_range)
    result = Conditions([ScanEvent.occurred_at >= since, ScanEvent.occurred_at < until])
    result.where.extend(_counted_conditions(flt, ScanEvent.outcome, ScanEvent.reason_mask))
    station_ids = station_scope(session, flt.region, flt.station)
    if station_ids is not None:
        if not station_ids:
            result.empty = True
        result.where.append(ScanEvent.station_id.in_(station_ids))
    result.where.extend(event_only_conditions(flt))
    return result


def _counted_conditions(flt: EventFilter, outcome: Any, reason_mask: Any) -> list[Any]:
    """The filters the roll-ups can answer as well as the events: outcome and reason bits."""
    where = []
    if flt.outcomes:
        where.append(outcome.in_(flt.outcomes))
    if flt.reason:
        where.append(reason_mask.op("&")(bit_of(flt.reason)) != 0)
    if flt.overdue_only:
        where.append(reason_mask.op("&")(bit_of("inspection_overdue")) != 0)
    return where


def event_only_conditions(flt: EventFilter) -> list[Any]:
    """The filters only an event can answer (no roll-up or suspect row carries these columns)."""
    where = []
    if flt.plate:
        where.append(ScanEvent.plate == flt.plate)
    if flt.cylinder_id:
        where.append(ScanEvent.cylinder_id == flt.cylinder_id)
    if flt.tag_uid:
        where.append(ScanEvent.tag_uid == flt.tag_uid)
    if flt.decided_offline is not None:
        where.append(ScanEvent.decided_offline == flt.decided_offline)
    if flt.clock_skewed is not None:
        where.append(ScanEvent.clock_skewed == flt.clock_skewed)
    return where


def station_scope(session: Session, region: str | None, station: str | None) -> list[int] | None:
    """Station ids a place filter selects, or None when there is no place filter."""
    ids: set[int] | None = None
    if region:
        path = region_by_code(session, region).path
        ids = set(
            session.scalars(
                select(Station.id)
                .join(Region, Region.id == Station.region_id)
                .where(or_(Region.path == path, Region.path.startswith(path + "/", autoescape=True)))
            )
        )
    if station:
        station_id = station_by_code(session, station).id
        ids = {station_id} if ids is None else ids & {station_id}
    return sorted(ids) if ids is not None else None


# Lists ---------------------------------------------------------------------------------------


# A cursor is the last row's sort key, base64 of "when|uuid" or "when|uuid|station_id". The scan
# event list needs the station: since migration 0019 a UUID is unique per station only, so two
# stations' events may share (occurred_at, event_uuid) and only the station tells them apart.
# The station fault list (services/station_faults.py) pages the same way by (received_at,
# report_uuid, station_id): a report UUID is unique per station only as well. The case list
# (services/case_queries.py) pages by "opened_at|case id", through the same two functions.
_CURSOR_STATION_MAX = 2**31 - 1  # stations.id is a 32-bit integer: a larger number is not one we issued


def encode_cursor(when: datetime, *key: uuid.UUID | int | None) -> str:
    """A list's cursor: base64 of its last row's sort key, "when|key..." (a None part left out).
    The event, station fault and case lists all page by one."""
    fields = [when.isoformat(), *(str(part) for part in key if part is not None)]
    return base64.urlsafe_b64encode("|".join(fields).encode()).decode()


def cursor_fields(cursor: str) -> list[str]:
    """The fields of a cursor encode_cursor made; ValueError when it is not base64 of text."""
    return base64.urlsafe_b64decode(cursor.encode()).decode().split("|")


def decode_station_cursor(cursor: str) -> tuple[datetime, uuid.UUID, int | None]:
    """(when, uuid, station_id) of a cursor; station_id is None in a two-field cursor, such as the
    event list handed out before it carried the station."""
    try:
        when, ident, *rest = cursor_fields(cursor)
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        if not 2000 <= parsed.year <= 2199:  # as parse.timestamp: year 1 or 9999 overflows in the query
            raise ValueError("out of range")
        station_id = None
        if rest:
            (digits,) = rest  # more fields: not ours
            # Plain ASCII digits only: int() would also take "+1", " 1", "1_0" or Arabic-Indic digits.
            if not (digits.isascii() and digits.isdigit()) or int(digits) > _CURSOR_STATION_MAX:
                raise ValueError("station")
            station_id = int(digits)
        return parsed, uuid.UUID(ident), station_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this registry issued") from exc


def after_cursor(cursor: str, when: Any, ident: Any, station: Any) -> list[ColumnElement[bool]]:
    """The conditions for the rows after `cursor` in a list ordered newest first by the columns
    (when, ident, station), `station` ending the key because `ident` is unique per station only."""
    at, last_ident, station_id = decode_station_cursor(cursor)
    # A two-field cursor, as the event list handed out before it carried the station, reads as the
    # lowest station: the rows after it are those after (at, ident), exactly the page it gave
    # then. Accepted rather than refused, so a bureau user paging across an upgrade does not get
    # a 422; only a shared-UUID tie at that one boundary is left as it was.
    later_at_instant = ident < last_ident
    if station_id is not None:
        later_at_instant = or_(later_at_instant, and_(ident == last_ident, station < station_id))
    # when <= at as well, a plain range the OR cannot be: the index scan starts at the cursor
    # instead of reading and dropping every newer row of the window on each page.
    return [when <= at, or_(when < at, and_(when == at, later_at_instant))]


Entity = TypeVar("Entity")
Columns = TypeVarTuple("Columns")


def newest_first_page(
    session: Session,
    query: Select[Entity, *Columns],
    limit: int,
    cursor: str | None,
    when: InstrumentedAttribute[Any],
    ident: InstrumentedAttribute[Any],
    station: InstrumentedAttribute[Any],
) -> tuple[list[Row[Entity, *Columns]], str | None]:
    """One page of `query` (whose first column is the entity) newest first by (when, ident, station),
    after `cursor`, and the cursor of the next page (None on the last): the event list's and the
    station fault list's keyset paging, one way."""
    if cursor:
        query = query.where(*after_cursor(cursor, when, ident, station))
    rows = session.execute(query.order_by(when.desc(), ident.desc(), station.desc()).limit(limit + 1)).all()
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    last = page[-1][0]
    return page, encode_cursor(getattr(last, when.key), getattr(last, ident.key), getattr(last, station.key))


def refuel_attempts(session: Session, flt: EventFilter, now: datetime, limit: int, cursor: str | None) -> dict[str, Any]:
    cond = conditions(session, flt, now)
    if cond.empty:
        return {"attempts": [], "next_cursor": None}
    # Newest first, in a total order: (occurred_at, event_uuid) is unique per station only (the
    # primary key is (station_id, event_uuid, occurred_at)), so station_id ends the key; without
    # it two stations' events with one UUID at one instant could be split by a page boundary, and
    # one skipped or repeated. No index holds these three columns and none needs to: PostgreSQL
    # reads each day partition newest first from its occurred_at index (ix_scan_events_time; for
    # one station (station_id, occurred_at) serves the same way) and orders only the rows of one
    # instant by the rest of the key (an incremental sort, presorted on occurred_at: groups of one
    # row nearly always), which event_uuid already needed, so station_id costs nothing
    # measurable (EXPLAIN ANALYZE on PostgreSQL 15, 300,000 events: 0.3 ms a page, deep pages too).
    # bench/bench_registry_query.py times the per-station aggregate, which has no ORDER BY.
    query = select(ScanEvent, Station.code, Station.name).join(Station, Station.id == ScanEvent.station_id).where(*cond.where)
    page, next_cursor = newest_first_page(
        session, query, limit, cursor, ScanEvent.occurred_at, ScanEvent.event_uuid, ScanEvent.station_id
    )
    return {"attempts": [event_json(event, code, name) for event, code, name in page], "next_cursor": next_cursor}


def event_json(event: ScanEvent, station_code: str, station_name: str) -> dict[str, Any]:
    return {
        "event_id": str(event.event_uuid),
        "occurred_at": event.occurred_at.isoformat(),
        "station": station_code,
        "station_name": station_name,
        "pump": event.pump_number,
        "cylinder_id": event.cylinder_id,
        "tag_uid": event.tag_uid,
        "read_counter": event.read_counter,
        "plate": event.plate,
        "decision": event.decision,
        "outcome": event.outcome.value,
        "reasons": [r for r in event.reasons.split(",") if r],
        "attendant": event.attendant,
        "supervisor": event.supervisor,
        "override_reason": event.override_reason,
        "decided_offline": event.decided_offline,
        "session_id": event.session_id,
        # occurred_at is corrected for the station's clock; what its clock said, and by how much it was off.
        "station_time": event.station_time.isoformat() if event.station_time else None,
        "clock_offset_ms": event.clock_offset_ms,
        "clock_skewed": event.clock_skewed,
    }


# Aggregates ----------------------------------------------------------------------------------


def _outcome_counts() -> list[Any]:
    return [func.count().label("total")] + [func.sum(case((ScanEvent.outcome == o, 1), else_=0)).label(o.value) for o in Outcome]


def _rolled_up_counts() -> list[Any]:
    scans = ScanDayCount.scans
    return [func.sum(scans).label("total")] + [
        func.sum(case((ScanDayCount.outcome == o, scans), else_=0)).label(o.value) for o in Outcome
    ]


def local_day(session: Session, utc_offset_hours: int) -> Any:
    return dialect_local_day(session.get_bind().dialect.name, utc_offset_hours)


def dialect_local_day(dialect: str, utc_offset_hours: int, moment: Any = ScanEvent.occurred_at) -> Any:
    """The day of `moment` (an event's time) in the bureau's time zone, in the given database's SQL."""
    if dialect == "sqlite":
        return func.date(moment, f"{utc_offset_hours:+d} hours")
    return func.date(func.timezone("UTC", moment) + literal_column(f"interval '{utc_offset_hours} hours'"))


def rolled_up_days(flt: EventFilter, now: datetime, utc_offset_hours: int) -> tuple[date, date] | None:
    """The local days [first, end) the roll-ups answer this filter with, or None when they cannot:
    a window that is not whole days in the bureau's zone, or a filter on an event's own columns."""
    if event_only_conditions(flt):
        return None
    zone = timezone(timedelta(hours=utc_offset_hours))
    since, until = (moment.astimezone(zone) for moment in flt.window(now))
    if since.time() != time(0) or until.time() != time(0):
        return None
    return since.date(), until.date()


def aggregate_statement(
    session: Session, flt: EventFilter, now: datetime, group_by: str, utc_offset_hours: int, *, raw_events: bool = False
) -> Select[Any] | None:
    """The SQL of an aggregate (None when the place filter selects no station). utc_offset_hours
    is the bureau's report offset, the roll-ups' day: it chooses them as well as the day groups."""
    if group_by not in ("station", "cell", "district", "day"):
        raise InvalidInput("group_by must be station, cell, district or day")
    days = None if raw_events else rolled_up_days(flt, now, utc_offset_hours)
    if days is not None:
        return _rolled_up_statement(session, flt, days, group_by)
    cond = conditions(session, flt, now)
    if cond.empty:
        return None
    if group_by == "station":
        key: Any = ScanEvent.station_id
    elif group_by in ("cell", "district"):
        key = Station.region_id
    else:
        key = local_day(session, utc_offset_hours)
    query: Select[Any] = select(key.label("key"), *_outcome_counts()).where(*cond.where).group_by(key)
    if group_by in ("cell", "district"):
        query = query.join_from(ScanEvent, Station, Station.id == ScanEvent.station_id)
    return query


def _rolled_up_statement(session: Session, flt: EventFilter, days: tuple[date, date], group_by: str) -> Select[Any] | None:
    """The same aggregate over the day roll-ups: the same stations (by where they are now, as for
    events), the same outcome and reason filters, summed instead of counted."""
    if not flt.reason and not flt.overdue_only:
        return _totals_statement(session, flt, days, group_by)
    return _day_counts_statement(session, flt, days, group_by)


def _day_counts_statement(session: Session, flt: EventFilter, days: tuple[date, date], group_by: str) -> Select[Any] | None:
    """Over the day counts (scan_day_counts), which keep the reason bits: any outcome or reason filter."""
    where = [ScanDayCount.day >= days[0], ScanDayCount.day < days[1]]
    where.extend(_counted_conditions(flt, ScanDayCount.outcome, ScanDayCount.reason_mask))
    station_ids = station_scope(session, flt.region, flt.station)
    if station_ids is not None:
        if not station_ids:
            return None
        where.append(ScanDayCount.station_id.in_(station_ids))
    key: Any = {"station": ScanDayCount.station_id, "day": ScanDayCount.day}.get(group_by, Station.region_id)
    query: Select[Any] = select(key.label("key"), *_rolled_up_counts()).where(*where).group_by(key)
    if group_by in ("cell", "district"):
        query = query.join_from(ScanDayCount, Station, Station.id == ScanDayCount.station_id)
    return query


def _whole_months(days: tuple[date, date]) -> tuple[date, date]:
    """The whole months [first, end) within the days [first, end), (first, first) when there is none."""
    first = days[0] if days[0].day == 1 else (days[0].replace(day=1) + timedelta(days=32)).replace(day=1)
    end = days[1].replace(day=1)
    return (first, end) if first < end else (first, first)


# The daily figures of a place come from the region totals when the station totals would read at
# least this many station-days (the whole country always): below it (a district's fortnight is
# about 450) the few queries that check the region totals cost more than they save.
REGION_TOTALS_FROM = 5_000


def _totals_statement(session: Session, flt: EventFilter, days: tuple[date, date], group_by: str) -> Select[Any] | None:
    """An aggregate with no filter on reason bits, over the per-outcome totals: by day from the day
    totals; otherwise whole months from the month totals and the days before and after them from
    the day totals, so a year reads 12 rows per station instead of 365 times ten."""
    outcomes = set(flt.outcomes or Outcome)
    station_ids = station_scope(session, flt.region, flt.station)
    if station_ids is not None and not station_ids:
        return None

    def columns(table: Any) -> list[Any]:
        return [(table.c[o.value] if o in outcomes else literal_column("0")).label(o.value) for o in Outcome]

    def part(table: Any, period: Any, first: date, end: date, *where: Any) -> Select[Any]:
        query = select(table.c.station_id, period.label("day"), *columns(table)).where(period >= first, period < end, *where)
        return query.where(table.c.station_id.in_(station_ids)) if station_ids is not None else query

    day_totals, month_totals = ScanDayTotal.__table__, ScanMonthTotal.__table__
    months = _whole_months(days)
    station_days = len(station_ids) * (days[1] - days[0]).days if station_ids is not None else None
    by_regions = group_by == "day" and not flt.station and (station_days is None or station_days >= REGION_TOTALS_FROM)
    regions = _regions_of(session, flt.region) if by_regions else []
    place = region_rollups.Place(regions[0], station_ids) if flt.region and regions and station_ids else None
    rolled = region_rollups.rolled(session, *days, place) if regions else None
    parts: list[Select[Any]] = []
    if rolled is not None:
        # By day for the whole country or one area: the days the region totals hold from them
        # (one row per day and top-level region, or per day), the others from the station totals.
        cut = min(days[1], rolled.until + timedelta(days=1))
        region_totals = RegionDayTotal.__table__
        held = select(cast(literal_column("NULL"), Integer).label("station_id"), region_totals.c.day, *columns(region_totals))
        held = held.where(region_totals.c.region_id.in_(regions), region_totals.c.day >= days[0], region_totals.c.day < cut)
        if rolled.stale:
            held = held.where(region_totals.c.day.not_in(sorted(rolled.stale)))
            parts.append(part(day_totals, day_totals.c.day, days[0], cut, day_totals.c.day.in_(sorted(rolled.stale))))
        parts.append(held)
        spans = [(day_totals, day_totals.c.day, cut, days[1])]
    elif group_by == "day" or months[0] == months[1]:
        spans = [(day_totals, day_totals.c.day, *days)]
    else:
        spans = [
            (day_totals, day_totals.c.day, days[0], months[0]),
            (month_totals, month_totals.c.month, *months),
            (day_totals, day_totals.c.day, months[1], days[1]),
        ]
    parts += [part(table, period, first, end) for table, period, first, end in spans if first < end]
    rows = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("totals")
    # One sum per outcome counted, the total added from them (PostgreSQL computes identical
    # aggregates once): at national size every aggregate is a transition per row read. As bigint:
    # PostgreSQL's sum of bigint is numeric, which arrives as Decimal (10,000 stations × 5 of them).
    sums = {o: cast(func.sum(rows.c[o.value]), BigInteger) if o in outcomes else literal_column("0") for o in Outcome}
    total = sum((sums[o] for o in Outcome if o in outcomes), literal_column("0"))
    key: Any = {"station": rows.c.station_id, "day": rows.c.day}.get(group_by, Station.region_id)
    counts = [sums[o].label(o.value) for o in Outcome]
    query: Select[Any] = select(key.label("key"), total.label("total"), *counts).group_by(key).having(total > 0)
    if group_by in ("cell", "district"):
        return query.join_from(rows, Station, Station.id == rows.c.station_id)
    return query.select_from(rows)


def _regions_of(session: Session, region: str | None) -> list[int]:
    """The regions whose totals sum to a place filter: the region itself, or with none every
    top-level region (each station is under exactly one)."""
    if region:
        return [region_by_code(session, region).id]
    return list(session.scalars(select(Region.id).where(Region.parent_id.is_(None))))


def aggregate(
    session: Session, flt: EventFilter, now: datetime, group_by: str, utc_offset_hours: int, *, raw_events: bool = False
) -> dict[str, Any]:
    query = aggregate_statement(session, flt, now, group_by, utc_offset_hours, raw_events=raw_events)
    if query is None:
        return {"group_by": group_by, "groups": []}
    rows = [dict(r) for r in session.execute(query).mappings()]
    groups = _label_groups(session, rows, group_by)
    return {"group_by": group_by, "groups": sorted(groups, key=lambda g: (-g["total"], str(g["key"])))}


# Beyond this many stations their names are read without an IN list: binding 10,000 ids (the
# whole country) costs a quarter of a second, reading every station a few milliseconds.
_NAMED_BY_ID = 1000
_GROUP_COLUMNS = ("total", *(o.value for o in Outcome))


def _label_groups(session: Session, rows: list[dict[str, Any]], group_by: str) -> list[dict[str, Any]]:
    names: dict[Any, tuple[str, str]] = {}
    if group_by == "station":
        stations = select(Station.id, Station.code, Station.name)
        if len(rows) <= _NAMED_BY_ID:
            stations = stations.where(Station.id.in_([r["key"] for r in rows]))
        names = {i: (c, n) for i, c, n in session.execute(stations)}
    elif group_by in ("cell", "district"):
        regions = list(session.scalars(select(Region).where(Region.id.in_([r["key"] for r in rows])))) if rows else []
        districts = {}
        if group_by == "district":
            codes = {r.path.split("/")[1] for r in regions if "/" in r.path}
            districts = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))} if codes else {}
        for region in regions:
            target = region
            if group_by == "district" and "/" in region.path:
                target = districts.get(region.path.split("/")[1], region)
            names[region.id] = (target.code, target.name)
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:  # 10,000 stations for the whole country: no more work per row than needed
        raw = row["key"]
        fallback = raw.isoformat() if hasattr(raw, "isoformat") else str(raw)
        key, name = names.get(raw, (fallback, ""))
        group = merged.get(key)
        if group is None:
            merged[key] = {"key": key, "name": name, **{column: int(row[column] or 0) for column in _GROUP_COLUMNS}}
        else:
            for column in _GROUP_COLUMNS:
                group[column] += int(row[column] or 0)
    return list(merged.values())


def station_ranking(
    session: Session, flt: EventFilter, now: datetime, limit: int, utc_offset_hours: int, *, raw_events: bool = False
) -> dict[str, Any]:
    """Stations by overrides, then refusals: where checks are being skipped or beaten."""
    return rank_stations(aggregate(session, flt, now, "station", utc_offset_hours, raw_events=raw_events), limit)


def rank_stations(result: dict[str, Any], limit: int) -> dict[str, Any]:
    """station_ranking over an aggregate by station already made (the overview reuses it)."""
    for group in result["groups"]:
        group["override_rate"] = round(group["overridden"] / group["total"], 4) if group["total"] else 0.0
    ranked = sorted(result["groups"], key=lambda g: (-g["overridden"], -g["refused"], -g["would_refuse"], g["key"]))
    return {"stations": ranked[:limit]}


def overdue_problem_fills_filter(region: str, now: datetime, days: int = 30) -> EventFilter:
    return EventFilter(
        since=now - timedelta(days=days),
        until=now,
        outcomes=(Outcome.REFUSED, Outcome.OVERRIDDEN),
        region=region,
        overdue_only=True,
    )


def overdue_problem_fills_per_station(session: Session, region: str, now: datetime, days: int = 30) -> list[dict[str, Any]]:
    """The benchmark query (bench_registry_query.py): refused or overridden fills of overdue
    cylinders in one district, counted from the events themselves."""
    flt = overdue_problem_fills_filter(region, now, days)
    groups: list[dict[str, Any]] = aggregate(session, flt, now, "station", 0, raw_events=True)["groups"]
    return groups


def cylinders_overdue_count(session: Session, today: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(Cylinder).where(Cylinder.next_due < today)) or 0)
