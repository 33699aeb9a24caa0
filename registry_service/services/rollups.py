"""Roll-ups: scans per local day, station, outcome and reason bits (models/rollups.py), and the
same per station and local day or month with one column per outcome (scan_day_totals,
scan_month_totals), counted in the transaction that stores each new event, so the bureau's
overview reads a few thousand rows instead of millions of events (services/queries.py decides
when a question can be answered from them).

Only events that were really stored are counted: a station's retry conflicts on scan_events and
never reaches this module, so a re-upload cannot count twice. An event counts on the local day of
its occurred_at, the registry's corrected time (services/events.py), not the station's clock.
The upsert (INSERT ... ON CONFLICT DO UPDATE, on SQLite and PostgreSQL) adds to a row atomically
under concurrent uploads; rows are sent in key order so that two uploads touching the same rows
lock them in the same order and cannot deadlock. Each station's uploads touch only that station's
rows, so there is no hot row shared by the whole city.

Scans for a day before the upload's own day of receipt mark (station, day) in late_scan_days, in
the same statement: that day may have been rolled into the region totals already, and the
scheduled job that rolls them (services/region_rollups.py) rolls it again.

The day is reckoned with the registry's report_utc_offset_hours: a registry that changes it (or
max_plausible_speed_kmh, which clone suspects are found with) runs `cylinder-registry
rebuild-rollups`, which recounts everything from scan_events (`rebuild_counts`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date as SqlDate
from sqlalchemy import DateTime, Table, bindparam, case, cast, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from registry_service.models import (
    Base,
    LateScanDay,
    Outcome,
    ScanDayCount,
    ScanDayTotal,
    ScanEvent,
    ScanMonthTotal,
    Station,
)
from registry_service.services import region_rollups
from registry_service.services.queries import local_day as sql_local_day

if TYPE_CHECKING:
    from registry_service.config import RegistryConfig


@dataclass(frozen=True)
class Reckoning:
    """How the bureau reckons, as configured: its day (UTC + utc_offset_hours) and the speed
    beyond which two scans of one tag are two tags. Roll-ups and stored suspects are built with it."""

    utc_offset_hours: int
    max_speed_kmh: float

    @classmethod
    def of(cls, config: RegistryConfig) -> Reckoning:
        return cls(config.report_utc_offset_hours, config.max_plausible_speed_kmh)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.zone).astimezone(UTC)

    @property
    def zone(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))


@dataclass(frozen=True)
class NewScan:
    """A scan event this transaction stored (not a retry): what the roll-ups and the clone rules need."""

    event_uuid: uuid.UUID
    occurred_at: datetime
    outcome: Outcome
    reason_mask: int
    cylinder_id: str | None
    tag_uid: str | None


def upsert(session: Session, model: type[Base]) -> Any:
    """INSERT ... ON CONFLICT for the session's database (add .on_conflict_do_update to it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(model)
    if dialect == "sqlite":
        return sqlite_insert(model)
    raise NotImplementedError(f"roll-ups support PostgreSQL and SQLite, not {dialect}")


_KEY = ("day", "station_id", "region_id", "outcome", "reason_mask")


# PostgreSQL counts in the statement that stores the events (services/events.py): this is its
# part, over the rows "stored" returned (occurred_at, outcome, reason_mask), for one station.
PG_COUNT_STORED = (
    "INSERT INTO scan_day_counts (day, station_id, region_id, outcome, reason_mask, scans) "
    "SELECT date(timezone('UTC', occurred_at) + %(utc_offset_hours)s * interval '1 hour'), %(station_id)s, "
    "(SELECT region_id FROM stations WHERE id = %(station_id)s), outcome, reason_mask, count(*) "
    "FROM stored GROUP BY 1, 4, 5 ORDER BY 1, 4, 5 "
    "ON CONFLICT (day, station_id, region_id, outcome, reason_mask) "
    "DO UPDATE SET scans = scan_day_counts.scans + excluded.scans"
)


_OUTCOMES = tuple(o.value for o in Outcome)  # the totals' columns, one per outcome
_TOTALS = ("scans", *_OUTCOMES)
_LOCAL_DAY = "date(timezone('UTC', occurred_at) + %(utc_offset_hours)s * interval '1 hour')"
_MONTH = "'month'"


def _pg_add_totals(table: str, period_column: str, period: str) -> str:
    """One station's stored scans (the CTE "stored") added to its totals per `period` (SQL of occurred_at)."""
    per_outcome = ", ".join(f"count(*) FILTER (WHERE outcome = '{o}')" for o in _OUTCOMES)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _TOTALS)
    return (
        f"INSERT INTO {table} ({period_column}, station_id, region_id, {', '.join(_TOTALS)}) "
        f"SELECT {period}, %(station_id)s, (SELECT region_id FROM stations WHERE id = %(station_id)s), count(*), {per_outcome} "
        f"FROM stored GROUP BY 1 ORDER BY 1 "
        f"ON CONFLICT ({period_column}, station_id, region_id) DO UPDATE SET {added}"
    )


# A day before the upload's own day of receipt (both local) may have been rolled into the region
# totals already (services/region_rollups.py): the upload marks (station, day) for the job to roll
# again. DO UPDATE, not DO NOTHING: the row lock it takes makes the job's removal of a mark wait
# for this transaction, and the raised count tells the job that the mark is not the one it read.
PG_MARK_LATE = (
    "INSERT INTO late_scan_days (station_id, day, marks) "
    f"SELECT %(station_id)s, day, 1 FROM (SELECT DISTINCT {_LOCAL_DAY} AS day FROM stored) AS late "
    "WHERE day < date(timezone('UTC', %(received_at)s) + %(utc_offset_hours)s * interval '1 hour') ORDER BY day "
    "ON CONFLICT (station_id, day) DO UPDATE SET marks = late_scan_days.marks + 1"
)

# The totals' part of that statement: more CTEs after PG_COUNT_STORED's (", name AS (...)" each).
PG_TOTAL_STORED = (
    f", day_totals AS ({_pg_add_totals('scan_day_totals', 'day', _LOCAL_DAY)}), "
    f"month_totals AS ({_pg_add_totals('scan_month_totals', 'month', f'CAST(date_trunc({_MONTH}, CAST({_LOCAL_DAY} AS timestamp)) AS date)')}), "
    f"late_days AS ({PG_MARK_LATE})"
)


def count_new(session: Session, station_id: int, scans: Sequence[NewScan], reckoning: Reckoning, now: datetime) -> None:
    """Add one station's newly stored scans to their day's counts and to its day and month totals,
    and mark the days before `now`'s (the receipt) as late (SQLite; PostgreSQL: PG_COUNT_STORED
    and PG_TOTAL_STORED)."""
    deltas = Counter((reckoning.day_of(scan.occurred_at), scan.outcome.value, scan.reason_mask) for scan in scans)
    if not deltas:
        return
    rows = [
        {"day": day, "station_id": station_id, "station": station_id, "outcome": outcome, "reason_mask": mask, "scans": n}
        for (day, outcome, mask), n in sorted(deltas.items())
    ]
    # One statement text, the rows as its parameter sets; the station's grid cell (now) is looked
    # up by the statement itself.
    statement = upsert(session, ScanDayCount).values(
        region_id=select(Station.region_id).where(Station.id == bindparam("station")).scalar_subquery()
    )
    statement = statement.on_conflict_do_update(
        index_elements=list(_KEY), set_={"scans": ScanDayCount.scans + statement.excluded.scans}
    )
    many_rows(session, statement.returning(ScanDayCount.scans), rows)
    by_day: dict[date, Counter[str]] = {}
    for (day, outcome, _mask), n in deltas.items():
        by_day.setdefault(day, Counter())[outcome] += n
    by_month: dict[date, Counter[str]] = {}
    for day, counted in by_day.items():
        by_month.setdefault(day.replace(day=1), Counter()).update(counted)
    _add_totals(session, ScanDayTotal, "day", station_id, by_day)
    _add_totals(session, ScanMonthTotal, "month", station_id, by_month)
    received = reckoning.day_of(now)
    late = [{"station_id": station_id, "day": day, "marks": 1} for day in sorted(by_day) if day < received]
    if late:
        marking = upsert(session, LateScanDay)
        marking = marking.on_conflict_do_update(
            index_elements=["station_id", "day"], set_={"marks": LateScanDay.marks + marking.excluded.marks}
        )
        session.execute(marking, late)


def _add_totals(
    session: Session, model: type[ScanDayTotal | ScanMonthTotal], period: str, station_id: int, counts: dict[date, Counter[str]]
) -> None:
    rows = [
        {period: key, "station_id": station_id, "station": station_id, "scans": counted.total()}
        | {o: counted[o] for o in _OUTCOMES}
        for key, counted in sorted(counts.items())
    ]
    table = model.__table__
    statement = upsert(session, model).values(
        region_id=select(Station.region_id).where(Station.id == bindparam("station")).scalar_subquery()
    )
    statement = statement.on_conflict_do_update(
        index_elements=[period, "station_id", "region_id"],
        set_={c: table.c[c] + statement.excluded[c] for c in _TOTALS},
    )
    many_rows(session, statement.returning(table.c.scans), rows)


def many_rows(session: Session, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run an INSERT ... RETURNING once for many rows: SQLAlchemy's "insertmanyvalues" sends them
    as multi-row VALUES in one round trip, where a plain executemany runs the statement per row."""
    session.connection().execute(statement, rows).close()


def rebuild_counts(session: Session, reckoning: Reckoning) -> int:
    """Recount every day from scan_events; returns the rows written. The station's grid cell is its
    cell now (where a moved station used to be is not kept)."""
    day = sql_local_day(session, reckoning.utc_offset_hours)
    counted = (
        select(
            day.label("day"),
            ScanEvent.station_id,
            Station.region_id,
            ScanEvent.outcome,
            ScanEvent.reason_mask,
            func.count().label("scans"),
        )
        .join(Station, Station.id == ScanEvent.station_id)
        .group_by(day, ScanEvent.station_id, Station.region_id, ScanEvent.outcome, ScanEvent.reason_mask)
    )
    session.execute(delete(ScanDayCount))
    session.execute(insert(ScanDayCount).from_select([*_KEY, "scans"], counted))
    rebuild_totals(session)
    return int(session.scalar(select(func.count()).select_from(ScanDayCount)) or 0)


def month_of(dialect: str, day: Any) -> Any:
    """The first day of `day`'s month (a date column), in the given database's SQL."""
    if dialect == "sqlite":
        return func.date(day, "start of month")
    return cast(func.date_trunc("month", cast(day, DateTime)), SqlDate)


def rebuild_totals(session: Session) -> int:
    """Derive the day and month totals from the day counts (rebuild_counts; a benchmark that seeds
    day counts directly); returns the day totals written."""
    days: Table = ScanDayTotal.__table__  # type: ignore[assignment]
    months: Table = ScanMonthTotal.__table__  # type: ignore[assignment]
    counts = ScanDayCount.__table__.c
    per_outcome = [func.sum(case((counts.outcome == o, counts.scans), else_=0)).label(o) for o in _OUTCOMES]
    by_day = select(counts.day, counts.station_id, counts.region_id, func.sum(counts.scans), *per_outcome).group_by(
        counts.day, counts.station_id, counts.region_id
    )
    session.execute(delete(days))
    session.execute(delete(months))
    session.execute(insert(days).from_select(["day", "station_id", "region_id", *_TOTALS], by_day))
    month = month_of(session.get_bind().dialect.name, days.c.day)
    by_month = select(month, days.c.station_id, days.c.region_id, *(func.sum(days.c[c]) for c in _TOTALS)).group_by(
        month, days.c.station_id, days.c.region_id
    )
    session.execute(insert(months).from_select(["month", "station_id", "region_id", *_TOTALS], by_month))
    # The region totals were rolled from the totals just replaced: forgotten, rolled again by the
    # job's next run (until then the overview reads the station totals).
    region_rollups.reset(session)
    return int(session.scalar(select(func.count()).select_from(days)) or 0)
