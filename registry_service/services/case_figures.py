"""Counting cases the way city grid platforms publish it: per region subtree and ISO week.

The figures (docs/grid.md, "Counting and the weekly report"), over a window [start, end):
- reported (上报): cases opened in the window;
- accepted (立案): cases accepted in the window;
- closed (结案): cases closed in the window; closure rate = closed / accepted;
- on-time closure rate (按期结案率): closed with no missed deadline / closed;
- open: opened before the end and not closed by then; overdue: those of them marked overdue
  (the flag has no history: for a past week it is the case's flag now);
- average time to close: mean of closed_at - opened_at over the cases closed in the window.

A case counts where it was found (`region_id`, its cell), not where it is handled now: an
escalation moves the work up, not the problem, and the weekly figures of a cell stay stable.

One SQL aggregate per question, grouped by the case's region; the roll-up to the rows of a level
(the children of the region asked about, or its regions of one level) is a Python sum over at most
one row per region of the subtree. Every figure needs a case that was open at some time in the
window, so the query selects `opened_at < end AND (closed_at IS NULL OR closed_at >= start)`:
on PostgreSQL a bitmap OR over ix_cases_closed_at (a btree holds NULLs) for a recent week, or
ix_cases_region_opened for an old one; never the whole table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_, select
from sqlalchemy.orm import Session

from registry_service.errors import Forbidden, InvalidInput, NotFound
from registry_service.models import Region, RegionLevel, Role
from registry_service.models.cases import Case, CaseState
from registry_service.principal import Principal
from registry_service.services import grid_scope

WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2099  # a week outside these is a typo, not a report
# States in which the work is done, though the case may still wait for verification or closure:
# what "handled" means in "238 problems found, 184 handled" (the overview's found/handled figures).
HANDLED_STATES = (CaseState.HANDLED.value, CaseState.VERIFIED.value, CaseState.CLOSED.value)


@dataclass(frozen=True)
class Week:
    """An ISO week: Monday to Sunday; its bounds are local midnights in a time zone."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """ "2026-W48" (ISO 8601), or a day "2026-11-25" meaning the week it falls in."""
        match = WEEK_PATTERN.fullmatch(text)
        try:
            if match:
                week = cls(int(match[1]), int(match[2]))
                week.monday  # noqa: B018  (raises ValueError for a week the year does not have)
            else:
                week = cls.of(date.fromisoformat(text))
        except ValueError as exc:
            raise InvalidInput("week must be an ISO week such as 2026-W48 or a day such as 2026-11-25") from exc
        if not FIRST_YEAR <= week.monday.year <= LAST_YEAR:
            raise InvalidInput(f"week must be between {FIRST_YEAR} and {LAST_YEAR}")
        return week

    @classmethod
    def of(cls, day: date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @classmethod
    def containing(cls, instant: datetime, zone: ZoneInfo) -> Week:
        return cls.of(instant.astimezone(zone).date())

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def code(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def shifted(self, weeks: int) -> Week:
        return Week.of(self.monday + timedelta(weeks=weeks))

    def window(self, zone: ZoneInfo) -> Window:
        return Window.of_days(self.monday, self.sunday, zone)


@dataclass(frozen=True)
class Window:
    """A half-open instant range [start, end), aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidInput("a window needs aware instants")
        if self.start >= self.end:
            raise InvalidInput("a window must start before it ends")

    @classmethod
    def of_days(cls, first: date, last: date, zone: ZoneInfo) -> Window:
        """From local midnight of `first` to local midnight after `last` (daylight saving respected:
        the zone is asked for each midnight, not an offset added)."""
        start = datetime.combine(first, time(), tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
        # In UTC: Python subtracts two datetimes of one zone on the wall clock, ignoring the change.
        return cls(start.astimezone(UTC), end.astimezone(UTC))


@dataclass(frozen=True)
class Figures:
    """The counts of one region (or a sum of regions) over one window; rates are derived."""

    reported: int = 0
    accepted: int = 0
    closed: int = 0
    closed_on_time: int = 0
    open: int = 0
    overdue: int = 0
    close_seconds: float = 0.0  # summed over the closed cases: averages add up across regions

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.reported + other.reported,
            self.accepted + other.accepted,
            self.closed + other.closed,
            self.closed_on_time + other.closed_on_time,
            self.open + other.open,
            self.overdue + other.overdue,
            self.close_seconds + other.close_seconds,
        )

    @property
    def closure_rate(self) -> float | None:
        """结案率: closed / accepted in the same window (can pass 1 when older cases close)."""
        return self.closed / self.accepted if self.accepted else None

    @property
    def on_time_rate(self) -> float | None:
        """按期结案率: share of the window's closures that never missed a deadline."""
        return self.closed_on_time / self.closed if self.closed else None

    @property
    def average_close_seconds(self) -> float | None:
        return self.close_seconds / self.closed if self.closed else None

    @property
    def empty(self) -> bool:
        return not (self.reported or self.accepted or self.closed or self.open)

    def as_json(self) -> dict[str, Any]:
        """Codes and numbers only (API JSON uses no words)."""
        average = self.average_close_seconds
        return {
            "reported": self.reported,
            "accepted": self.accepted,
            "closed": self.closed,
            "closed_on_time": self.closed_on_time,
            "closure_rate": _rounded(self.closure_rate),
            "on_time_rate": _rounded(self.on_time_rate),
            "open": self.open,
            "overdue": self.overdue,
            "average_close_s": None if average is None else round(average, 1),
        }


@dataclass(frozen=True)
class Row:
    """One row of a report: a region below the one asked about, with its whole subtree's figures.
    `direct` marks the row of cases found in the asked region itself (above the row level)."""

    code: str
    name: str
    level: str
    figures: Figures
    direct: bool = False


@dataclass(frozen=True)
class Report:
    region: Region | None  # None: the whole registry
    trail: list[Region]  # from the top down to `region`
    window: Window
    level: str | None  # the rows' level; None: the direct children
    total: Figures
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    id: int
    code: str
    name: str
    level: str
    path: str


def region_for(session: Session, code: str | None, principal: Principal) -> Region | None:
    """The region a report is about, if the principal may see it (services/grid_scope.py).

    The bureau naming no region gets the whole registry (None); a grid user naming none gets its
    first region; a region outside a grid user's subtrees is refused."""
    if code is None:
        if principal.role is not Role.GRID:
            return None
        if not principal.region_paths:
            raise Forbidden("this grid user has no region")
        code = principal.region_paths[0].rsplit("/", 1)[-1]
    region = session.scalars(select(Region).where(Region.code == code)).one_or_none()
    if region is None:
        raise NotFound(f"no region {code!r}")
    if not grid_scope.visible(principal, region.path):
        raise Forbidden("this region is outside the caller's regions")
    return region


def report(session: Session, region: Region | None, window: Window, level: str | None = None) -> Report:
    """The figures of `region`'s subtree over `window`, with one row per child region (or per
    region of `level` below it), each over its own subtree."""
    if level is not None and level not in {lv.value for lv in RegionLevel}:
        raise InvalidInput(f"level must be one of: {', '.join(lv.value for lv in RegionLevel)}")
    places = _subtree(session, region)
    per_region = _figures_by_region(session, region, window)
    keys = _row_keys(places, region, level)
    sums: dict[str | None, Figures] = {}
    for region_id, figures in per_region.items():
        key = keys.get(region_id)
        sums[key] = sums.get(key, Figures()) + figures
    by_code = {place.code: place for place in places.values()}
    rows = [
        Row(code, by_code[code].name, by_code[code].level, sums.get(code, Figures()))
        for code in sorted({k for k in keys.values() if k is not None})
    ]
    if region is not None and None in sums:
        rows.append(Row(region.code, region.name, str(region.level), sums[None], direct=True))
    total = sum(per_region.values(), Figures())
    return Report(region, _trail(session, region), window, level, total, rows)


def found_and_handled(session: Session, region: Region | None, window: Window) -> tuple[int, int]:
    """Cases found in the window, and how many of those are handled by now (handled, verified or
    closed): the article's "238 problems found, 184 handled"."""
    handled = func.sum(case((Case.state.in_(HANDLED_STATES), 1), else_=0))
    query = select(func.count(), handled).where(Case.opened_at >= window.start, Case.opened_at < window.end)
    if region is not None:
        query = query.where(Case.region_id.in_(_subtree_ids(region)))
    found, done = session.execute(query).one()
    return int(found or 0), int(done or 0)


def _figures_by_region(session: Session, region: Region | None, window: Window) -> dict[int, Figures]:
    start, end = window.start, window.end
    opened = and_(Case.opened_at >= start, Case.opened_at < end)
    accepted = and_(Case.accepted_at.is_not(None), Case.accepted_at >= start, Case.accepted_at < end)
    closed = and_(Case.closed_at.is_not(None), Case.closed_at >= start, Case.closed_at < end)
    open_at_end = or_(Case.closed_at.is_(None), Case.closed_at >= end)
    late = Case.overdue.is_not(false())
    seconds = _seconds(session, Case.closed_at, Case.opened_at)
    query = (
        select(
            Case.region_id,
            _count(opened),
            _count(accepted),
            _count(closed),
            _count(and_(closed, not_(late))),
            _count(open_at_end),
            _count(and_(open_at_end, late)),
            func.sum(case((closed, seconds), else_=0.0)),
        )
        .where(Case.opened_at < end, or_(Case.closed_at.is_(None), Case.closed_at >= start))
        .group_by(Case.region_id)
    )
    if region is not None:
        query = query.where(Case.region_id.in_(_subtree_ids(region)))
    found: dict[int, Figures] = {}
    for row in session.execute(query):
        reported, accepted_n, closed_n, on_time, open_n, overdue = (int(v or 0) for v in row[1:7])
        found[row[0]] = Figures(reported, accepted_n, closed_n, on_time, open_n, overdue, float(row[7] or 0.0))
    return found


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _seconds(session: Session, later: Any, earlier: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _subtree_condition(region: Region) -> ColumnElement[bool]:
    return or_(Region.path == region.path, Region.path.startswith(region.path + "/", autoescape=True))


def _subtree_ids(region: Region) -> Any:
    return select(Region.id).where(_subtree_condition(region)).scalar_subquery()


def _subtree(session: Session, region: Region | None) -> dict[int, _Place]:
    query = select(Region.id, Region.code, Region.name, Region.level, Region.path)
    if region is not None:
        query = query.where(_subtree_condition(region))
    return {row.id: _Place(row.id, row.code, row.name, str(row.level), row.path) for row in session.execute(query)}


def _row_keys(places: Mapping[int, _Place], region: Region | None, level: str | None) -> dict[int, str | None]:
    """Region id -> the code of the row its cases count in (None: the asked region's own row).

    Paths are codes joined by "/", so a region's ancestors below the asked one are the segments
    of its path after the asked region's path."""
    level_of = {place.code: place.level for place in places.values()}
    depth = 0 if region is None else region.path.count("/") + 1
    keys: dict[int, str | None] = {}
    for place in places.values():
        below = place.path.split("/")[depth:]
        if level is None:
            keys[place.id] = below[0] if below else None
        else:
            keys[place.id] = next((code for code in below if level_of.get(code) == level), None)
    return keys


def _trail(session: Session, region: Region | None) -> list[Region]:
    if region is None:
        return []
    codes = region.path.split("/")
    found = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    return [found[code] for code in codes if code in found]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
