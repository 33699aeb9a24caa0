"""Station grades A-D: measure every station over the window, grade it by the rules
(registry_service/grading_rules.py), store the grade; and which stations are due a patrol.

Measuring reads what is already summed or small: fills and overrides from the day roll-ups
(scan_day_counts, never scan_events), the station's cases, its station_alarms and its last patrols.
Each is one grouped query for all the stations graded, so grading a city is a handful of queries.
`grade-stations` (cron, daily) calls compute_grades; the API and the dashboard read current_grades
and patrols_due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from registry_service import grading_rules as gr
from registry_service.errors import InvalidInput
from registry_service.grading_rules import GradingRules
from registry_service.models import (
    Case,
    CaseKind,
    CaseState,
    Outcome,
    Patrol,
    Region,
    ScanDayCount,
    Station,
    StationAlarm,
    StationGrade,
)
from registry_service.principal import Principal
from registry_service.services import grid_scope
from registry_service.services.health_reports import dark_seconds
from registry_service.services.places import region_by_code, station_by_code
from registry_service.services.station_alarms import SILENT, UNEXPLAINED_QUANTITY

CHUNK = 1000
FILLS = tuple(o.value for o in (Outcome.ALLOWED, Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE))


@dataclass(frozen=True)
class Figures:
    """What was measured for one station (grading_rules names the measures), with the counts behind them."""

    fills: int = 0
    overrides: int = 0
    overrides_per_1000: float = 0.0
    cases: int = 0  # counted for refusals_handled (old enough, not patrol failures)
    cases_closed: int = 0
    refusals_handled: float = 1.0
    hours_dark: float = 0.0
    unexplained_quantity: int = 0
    patrols: int = 0  # the last patrols considered
    patrol_failures: int = 0

    def measures(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in gr.MEASURES}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Graded:
    station: str
    station_name: str
    region: str
    grade: str
    deciding: list[str]
    figures: Figures
    patrol_interval_days: int
    computed_at: datetime


def _subtree(column: Any, path: str) -> ColumnElement[bool]:
    return or_(column == path, column.startswith(path + "/", autoescape=True))


def _local_day(moment: datetime, utc_offset_hours: int) -> date:
    return moment.astimezone(timezone(timedelta(hours=utc_offset_hours))).date()


# Measuring -------------------------------------------------------------------------------------


def measure(
    session: Session, station_ids: Sequence[int], now: datetime, rules: GradingRules, utc_offset_hours: int
) -> dict[int, Figures]:
    """The figures of each station over [now - window, now), a chunk of stations per query round
    (a city's 10,000 station ids in one IN list would pass SQLite's bound-parameter limit)."""
    if len(station_ids) > CHUNK:
        merged: dict[int, Figures] = {}
        for start in range(0, len(station_ids), CHUNK):
            merged |= measure(session, station_ids[start : start + CHUNK], now, rules, utc_offset_hours)
        return merged
    if not station_ids:
        return {}
    since = now - timedelta(days=rules.window_days)
    fills = _fills(session, station_ids, _local_day(since, utc_offset_hours), _local_day(now, utc_offset_hours))
    cases = _cases(session, station_ids, since, now - timedelta(days=rules.handling_grace_days))
    dark = _dark(session, station_ids, since, now)
    unexplained = _unexplained(session, station_ids, since, now)
    patrols = _patrols(session, station_ids, now, rules.patrols_considered)
    figures = {}
    for sid in station_ids:
        filled, overridden = fills.get(sid, (0, 0))
        total, closed = cases.get(sid, (0, 0))
        patrolled, failed = patrols.get(sid, (0, 0))
        figures[sid] = Figures(
            fills=filled,
            overrides=overridden,
            # At least min_fills in the divisor: one override among thirty fills is not a D.
            overrides_per_1000=round(1000 * overridden / max(filled, rules.min_fills, 1), 3),
            cases=total,
            cases_closed=closed,
            refusals_handled=round(closed / total, 4) if total else 1.0,
            hours_dark=round(dark.get(sid, 0.0) / 3600, 2),
            unexplained_quantity=unexplained.get(sid, 0),
            patrols=patrolled,
            patrol_failures=failed,
        )
    return figures


def _fills(session: Session, ids: Sequence[int], first: date, last: date) -> dict[int, tuple[int, int]]:
    """(fills, overrides) per station from the day roll-ups over local days first..last."""
    overridden = func.sum(ScanDayCount.scans).filter(ScanDayCount.outcome == Outcome.OVERRIDDEN)
    rows = session.execute(
        select(ScanDayCount.station_id, func.sum(ScanDayCount.scans), overridden)
        .where(
            ScanDayCount.station_id.in_(ids),
            ScanDayCount.day >= first,
            ScanDayCount.day <= last,
            ScanDayCount.outcome.in_(FILLS),
        )
        .group_by(ScanDayCount.station_id)
    ).all()
    return {sid: (int(total or 0), int(over or 0)) for sid, total, over in rows}


def _cases(session: Session, ids: Sequence[int], since: datetime, opened_before: datetime) -> dict[int, tuple[int, int]]:
    """(cases, closed) per station: cases opened in the window and older than the grace period."""
    closed = func.count().filter(Case.state == CaseState.CLOSED.value)
    rows = session.execute(
        select(Case.station_id, func.count(), closed)
        .where(
            Case.station_id.in_(ids),
            Case.kind != CaseKind.PATROL_FAILURE.value,
            Case.opened_at >= since,
            Case.opened_at < opened_before,
        )
        .group_by(Case.station_id)
    ).all()
    return {sid: (int(total), int(done)) for sid, total, done in rows if sid is not None}


def _dark(session: Session, ids: Sequence[int], since: datetime, now: datetime) -> dict[int, float]:
    """Seconds dark per station: silent alarms from silent_since (else opened_at) to cleared_at or now."""
    start = func.coalesce(StationAlarm.silent_since, StationAlarm.opened_at)
    rows = session.execute(
        select(StationAlarm.station_id, start, StationAlarm.cleared_at).where(
            StationAlarm.station_id.in_(ids),
            StationAlarm.kind == SILENT,
            start < now,
            or_(StationAlarm.cleared_at.is_(None), StationAlarm.cleared_at > since),
        )
    ).all()
    spans: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for sid, began, cleared in rows:
        spans.setdefault(sid, []).append((began, cleared))
    return {sid: dark_seconds(intervals, since, now, now) for sid, intervals in spans.items()}


def _unexplained(session: Session, ids: Sequence[int], since: datetime, now: datetime) -> dict[int, int]:
    rows = session.execute(
        select(StationAlarm.station_id, func.count())
        .where(
            StationAlarm.station_id.in_(ids),
            StationAlarm.kind == UNEXPLAINED_QUANTITY,
            StationAlarm.opened_at >= since,
            StationAlarm.opened_at < now,
        )
        .group_by(StationAlarm.station_id)
    ).all()
    return {sid: int(count) for sid, count in rows}


def _patrols(session: Session, ids: Sequence[int], now: datetime, last: int) -> dict[int, tuple[int, int]]:
    """(patrols, failed items) per station over its `last` patrols up to now."""
    ranked = (
        select(
            Patrol.station_id,
            Patrol.failed,
            func.row_number().over(partition_by=Patrol.station_id, order_by=(Patrol.at.desc(), Patrol.id.desc())).label("n"),
        )
        .where(Patrol.station_id.in_(ids), Patrol.at <= now)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.station_id, func.count(), func.sum(ranked.c.failed))
        .where(ranked.c.n <= last)
        .group_by(ranked.c.station_id)
    ).all()
    return {int(sid): (int(count), int(failed or 0)) for sid, count, failed in rows}


# Grading ---------------------------------------------------------------------------------------


def _stations(session: Session, station_code: str | None) -> list[Station]:
    if station_code is not None:
        return [station_by_code(session, station_code)]
    return list(session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.code)))


def compute_grades(
    session: Session, now: datetime, rules: GradingRules, *, utc_offset_hours: int, station_code: str | None = None
) -> list[Graded]:
    """Grade every active station (or the one named), store the grades, return them by station code."""
    stations = _stations(session, station_code)
    figures = measure(session, [s.id for s in stations], now, rules, utc_offset_hours)
    graded = []
    for station in stations:
        grade, deciding = rules.grade(figures[station.id].measures())
        interval = rules.interval_days(grade)
        session.add(
            StationGrade(
                station_id=station.id,
                computed_at=now,
                grade=grade,
                figures=figures[station.id].to_json(),
                deciding=deciding,
                patrol_interval_days=interval,
            )
        )
        graded.append(
            Graded(station.code, station.name, station.region.code, grade, deciding, figures[station.id], interval, now)
        )
    session.flush()
    return graded


def summary(graded: Sequence[Graded]) -> dict[str, Any]:
    """What `grade-stations` prints: stations per grade, and the stations at D with why."""
    per_grade = {grade: sum(1 for g in graded if g.grade == grade) for grade in gr.GRADES}
    worst = [{"station": g.station, "deciding": g.deciding} for g in graded if g.grade == "D"]
    return {"stations": len(graded), "grades": per_grade, "grade_d": worst}


# Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeRow:
    station: str
    station_name: str
    region: str
    grade: str
    deciding: list[str]
    figures: dict[str, Any]
    patrol_interval_days: int
    computed_at: datetime


@dataclass(frozen=True)
class GradePage:
    rows: list[GradeRow]
    total: int
    page: int
    page_size: int
    per_grade: dict[str, int]  # over every page


def _latest() -> Any:
    """The id of each station's newest grade."""
    return select(func.max(StationGrade.id).label("id")).group_by(StationGrade.station_id).subquery()


def current_grades(
    session: Session,
    principal: Principal,
    *,
    region: str | None = None,
    grade: str | None = None,
    page: int = 1,
    page_size: int = 100,
) -> GradePage:
    """Each visible station's newest grade, worst first, then by station code."""
    if grade is not None and grade not in gr.GRADES:
        raise InvalidInput(f"grade must be one of {', '.join(gr.GRADES)}")
    latest = _latest()
    where: list[ColumnElement[bool]] = [StationGrade.id.in_(select(latest.c.id))]
    where.append(grid_scope.path_filter(principal, Region.path))
    if region is not None:
        where.append(_subtree(Region.path, region_by_code(session, region).path))

    joined = StationGrade.__table__.join(Station, Station.id == StationGrade.station_id).join(
        Region, Region.id == Station.region_id
    )
    counted = session.execute(
        select(StationGrade.grade, func.count()).select_from(joined).where(*where).group_by(StationGrade.grade)
    ).all()
    counts: dict[str, int] = {str(g): int(n) for g, n in counted}
    per_grade = {g: counts.get(g, 0) for g in gr.GRADES}
    if grade is not None:
        where.append(StationGrade.grade == grade)
    rows = session.execute(
        select(StationGrade, Station.code, Station.name, Region.code)
        .select_from(joined)
        .where(*where)
        .order_by(StationGrade.grade.desc(), Station.code)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    total = per_grade[grade] if grade is not None else sum(per_grade.values())
    return GradePage(
        [
            GradeRow(code, name, region_code, g.grade, list(g.deciding), dict(g.figures), g.patrol_interval_days, g.computed_at)
            for g, code, name, region_code in rows
        ],
        total,
        page,
        page_size,
        per_grade,
    )


@dataclass(frozen=True)
class DueStation:
    station: str
    station_name: str
    region: str
    grade: str | None  # None: never graded (patrolled as a B)
    last_patrol_at: datetime | None  # None: never patrolled
    due_on: date | None  # the day it fell due (None: never patrolled, due now)


def patrols_due(
    session: Session,
    principal: Principal,
    now: datetime,
    rules: GradingRules,
    *,
    utc_offset_hours: int,
    region: str | None = None,
) -> list[DueStation]:
    """Visible active stations whose last patrol + their grade's interval is before today (local
    day), or never patrolled; the longest overdue first."""
    today = _local_day(now, utc_offset_hours)
    latest = _latest()
    last_patrol = select(Patrol.station_id, func.max(Patrol.at).label("at")).group_by(Patrol.station_id).subquery()
    current = select(StationGrade.station_id, StationGrade.grade).where(StationGrade.id.in_(select(latest.c.id))).subquery()
    where: list[ColumnElement[bool]] = [Station.active.is_(True)]
    where.append(grid_scope.path_filter(principal, Region.path))
    if region is not None:
        where.append(_subtree(Region.path, region_by_code(session, region).path))
    rows = session.execute(
        select(Station.code, Station.name, Region.code, current.c.grade, last_patrol.c.at)
        .select_from(Station)
        .join(Region, Region.id == Station.region_id)
        .outerjoin(current, current.c.station_id == Station.id)
        .outerjoin(last_patrol, last_patrol.c.station_id == Station.id)
        .where(*where)
    ).all()
    due = []
    for code, name, region_code, grade, last_at in rows:
        if last_at is None:
            due.append(DueStation(code, name, region_code, grade, None, None))
            continue
        due_on = _local_day(last_at, utc_offset_hours) + timedelta(days=rules.interval_days(grade))
        if due_on < today:
            due.append(DueStation(code, name, region_code, grade, last_at, due_on))
    return sorted(due, key=lambda d: (d.due_on or date.min, d.station))
