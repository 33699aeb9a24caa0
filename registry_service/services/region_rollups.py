"""Per-region day totals (models/region_rollups.py): rolled from the station day totals by a
scheduled job, read by the overview's daily chart (services/queries.py).

The job (`roll`; `cylinder-registry roll-region-totals`, and `serve` every
region_rollup_interval_s, region_rollup_sweeper.py) rolls every local day that ended at least
region_rollup_lag_s ago and that it has not rolled yet, and rolls again the days that changed
since: days with late scans (late_scan_days, marked by ingest), and every rolled day of a station
that moved to another region. Ingest does no more than that mark, and only for scans of a day
before its own.

Exact, not eventually: the reader (`rolled`) takes from the region totals only the days up to
`rolled_until` that carry no late mark, and only while no station with rolled days has moved;
every other day of the window is summed from scan_day_totals, as without this table. Why a mark
cannot be missed:
- An upload marks every day before its own day of receipt (received_at, local), in the statement
  that adds its scans. The job rolls a day only once it ended `lag` ago, so an upload that could
  still add to the day without marking it (received the same day) has ended by then: its request
  is bounded by the station statement timeout, far below the lag (default an hour), as long as the
  nodes' clocks agree to within the lag too.
- The job reads the marks first, rolls, and at the end removes each mark only if its count is
  still the one it read. A mark raised by an upload after the read survives (the next run rolls the
  day again); one raised by an upload still running holds a row lock that makes the removal wait
  for the upload's commit, and then it no longer matches either.
Each figure is then exact as of an instant of the request (each statement reads its own snapshot,
as the overview's other queries do).

Two nodes: on PostgreSQL the job takes a transaction-level advisory lock and a node that does not
get it skips the round; on SQLite the job's first statement is a write, which holds the database's
single writer lock for the whole run. A run writes whole days (delete, then insert what the sum
is now), so running it again changes nothing: it is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from registry_service.models import (
    LateScanDay,
    Outcome,
    Region,
    RegionDayTotal,
    RegionRollupState,
    RegionRollupStation,
    ScanDayTotal,
    Station,
)

STATE_ID = 1
# pg_try_advisory_xact_lock's key: "RGNR" (no other advisory lock of the registry uses it).
LOCK_KEY = 0x52474E52
# How long the job's statements may wait for a row lock (an upload that marked a day, still
# running): longer than any upload may take (station_statement_timeout_s).
JOB_LOCK_WAIT = "30s"
_CHUNK = 1000  # keys per IN list
_COLUMNS = ("scans", *(o.value for o in Outcome))


@dataclass(frozen=True)
class RollResult:
    rolled_until: date | None  # the last day the region totals hold after the run
    days_rolled: int  # days rolled for the first time
    days_rolled_again: int  # days with late scans, or of a station that moved
    stations_placed: int  # stations whose place in the grid was recorded (new or moved)
    skipped: bool = False  # another node was rolling: this run did nothing

    def as_json(self) -> dict[str, Any]:
        return {
            "rolled_until": self.rolled_until.isoformat() if self.rolled_until else None,
            "days_rolled": self.days_rolled,
            "days_rolled_again": self.days_rolled_again,
            "stations_placed": self.stations_placed,
            "skipped": self.skipped,
        }


def closed_until(now: datetime, utc_offset_hours: int, lag: timedelta) -> date:
    """The last local day that ended at least `lag` before `now`."""
    zone = timezone(timedelta(hours=utc_offset_hours))
    return (now - lag).astimezone(zone).date() - timedelta(days=1)


def roll(session: Session, now: datetime, utc_offset_hours: int, lag: timedelta) -> RollResult:
    """One run of the job, in the caller's transaction (see the module's docstring)."""
    if not _take_lock(session):
        return RollResult(None, 0, 0, 0, skipped=True)
    state = session.get(RegionRollupState, STATE_ID)
    assert state is not None  # _take_lock made it
    held = state.rolled_until
    target = closed_until(now, utc_offset_hours, lag)
    bound = target if held is None else max(held, target)
    marks = select(LateScanDay.station_id, LateScanDay.day, LateScanDay.marks).where(LateScanDay.day <= bound)
    read_marks = [(station, day, count) for station, day, count in session.execute(marks)]
    moved = _place_stations(session)
    again: set[date] = set()
    if held is not None:
        again = {day for _, day, _ in read_marks if day <= held}
        for chunk in _chunks(moved):
            rolled_days = select(ScanDayTotal.day).distinct().where(ScanDayTotal.station_id.in_(chunk), ScanDayTotal.day <= held)
            again.update(session.scalars(rolled_days))
    for chunk in _chunks(sorted(again)):
        _roll_days(session, RegionDayTotal.day.in_(chunk), ScanDayTotal.day.in_(chunk))
    first_new = None if held is None else held + timedelta(days=1)
    new_days = 0
    if first_new is None or first_new <= target:
        new = [ScanDayTotal.day <= target] + ([ScanDayTotal.day >= first_new] if first_new else [])
        old = [RegionDayTotal.day <= target] + ([RegionDayTotal.day >= first_new] if first_new else [])
        _roll_days(session, and_(*old), and_(*new))
        new_days = (target - first_new).days + 1 if first_new else _days_held(session, target)
        state.rolled_until = target
    _forget_marks(session, read_marks)
    state.rolled_at = now
    return RollResult(state.rolled_until, new_days, len(again), len(moved))


def reset(session: Session) -> None:
    """Forget every region total (the station totals they came from were replaced): the reader
    reads the station totals until the job has rolled everything again."""
    if session.get_bind().dialect.name == "postgresql":  # not in the middle of a node's run
        session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
    for model in (RegionDayTotal, RegionRollupStation, LateScanDay, RegionRollupState):
        session.execute(delete(model))


def _take_lock(session: Session) -> bool:
    """This node's right to roll now (False: another node is rolling). Makes the state row."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = '{JOB_LOCK_WAIT}'"))
        if not session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
            return False
    # On SQLite a write statement (even one that changes no row) takes the single writer lock,
    # held to the end of the run; on PostgreSQL the advisory lock keeps the insert below single.
    session.execute(
        update(RegionRollupState).where(RegionRollupState.id == STATE_ID).values(rolled_at=RegionRollupState.rolled_at)
    )
    if session.get(RegionRollupState, STATE_ID) is None:
        session.add(RegionRollupState(id=STATE_ID))
        session.flush()
    return True


def _place_stations(session: Session) -> list[int]:
    """Record where the stations are now (the regions above each); returns the ids of the stations
    that are new or have moved since the last run (usually none)."""
    current = dict(session.execute(select(Station.id, Station.region_id)).all())
    recorded = dict(
        session.execute(
            select(RegionRollupStation.station_id, RegionRollupStation.region_id).where(RegionRollupStation.up == 0)
        ).all()
    )
    changed = sorted(station for station, region in current.items() if recorded.get(station) != region)
    if not changed:
        return []
    paths = dict(session.execute(select(Region.id, Region.path)).all())
    ids = dict(session.execute(select(Region.code, Region.id)).all())
    rows = [
        {"station_id": station, "region_id": ids[code], "up": up}
        for station in changed
        for up, code in enumerate(reversed(paths[current[station]].split("/")))
    ]
    for chunk in _chunks(changed):
        session.execute(delete(RegionRollupStation).where(RegionRollupStation.station_id.in_(chunk)))
    session.execute(insert(RegionRollupStation), rows)
    return changed


def _roll_days(session: Session, region_days: ColumnElement[bool], station_days: ColumnElement[bool]) -> None:
    """Write the region totals of some days again: what the station totals sum to now, for every
    region above each station (region_rollup_stations)."""
    session.execute(delete(RegionDayTotal).where(region_days))
    totals, placed = ScanDayTotal.__table__.c, RegionRollupStation.__table__.c
    summed = (
        select(totals.day, placed.region_id, *(func.sum(totals[c]) for c in _COLUMNS))
        .join_from(ScanDayTotal.__table__, RegionRollupStation.__table__, placed.station_id == totals.station_id)
        .where(station_days)
        .group_by(totals.day, placed.region_id)
    )
    session.execute(insert(RegionDayTotal).from_select(["day", "region_id", *_COLUMNS], summed))


def _days_held(session: Session, until: date) -> int:
    return int(session.scalar(select(func.count(func.distinct(RegionDayTotal.day))).where(RegionDayTotal.day <= until)) or 0)


def _forget_marks(session: Session, read: Sequence[tuple[int, date, int]]) -> None:
    """Remove the marks this run rolled, each only if it is still the mark that was read."""
    key = tuple_(LateScanDay.station_id, LateScanDay.day, LateScanDay.marks)
    for chunk in _chunks(read):
        session.execute(delete(LateScanDay).where(key.in_(chunk)))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# The reader ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rolled:
    """What the region totals can answer: every day up to `until` except the `stale` ones."""

    until: date
    stale: frozenset[date]


def rolled(session: Session, first: date, end: date, place: Place | None = None) -> Rolled | None:
    """What the region totals of `place` (None: the whole country) hold of the days [first, end),
    or None when they cannot answer any of them: never rolled, the window after the last rolled
    day, or a station with rolled days has moved into or out of the place since (until the job has
    recorded the move)."""
    until = session.scalar(select(RegionRollupState.rolled_until).where(RegionRollupState.id == STATE_ID))
    if until is None or until < first or _moved_since(session, until, place):
        return None
    late = select(LateScanDay.day).distinct().where(LateScanDay.day >= first, LateScanDay.day < end, LateScanDay.day <= until)
    return Rolled(until, frozenset(session.scalars(late)))


@dataclass(frozen=True)
class Place:
    """A region filter: the region and the stations under it now (queries.station_scope)."""

    region_id: int
    station_ids: Sequence[int]


def _moved_since(session: Session, until: date, place: Place | None) -> bool:
    """Whether a station with rolled days sits in another region than the one its days were summed
    into: any station for the whole country; for a place, one now under it whose own region
    changed, or one summed into it that is no longer under it."""
    placed = RegionRollupStation
    where_rolled = exists().where(placed.station_id == Station.id, placed.up == 0, placed.region_id == Station.region_id)
    has_rolled_days = exists().where(ScanDayTotal.station_id == Station.id, ScanDayTotal.day <= until)
    # Written as NOT EXISTS, PostgreSQL hashes the 10,000 placements once (an anti join, 6 ms at
    # national size) instead of probing their index per station (17 ms).
    moved = select(Station.id).where(~where_rolled, has_rolled_days)
    if place is None:
        return session.scalar(moved.limit(1)) is not None
    if session.scalar(moved.where(Station.id.in_(place.station_ids)).limit(1)) is not None:
        return True
    gone_days = exists().where(ScanDayTotal.station_id == placed.station_id, ScanDayTotal.day <= until)
    gone = select(placed.station_id).where(
        placed.region_id == place.region_id, placed.station_id.not_in(place.station_ids), gone_days
    )
    return session.scalar(gone.limit(1)) is not None
