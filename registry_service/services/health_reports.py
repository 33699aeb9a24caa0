"""The bureau's questions about stations that go dark, cheat or break: each pump's latest heartbeat,
station alarms (silent, unexplained quantity), stations ranked by gas no allowed session explains,
override attempts, and how long each station was dark.

Everything is read, nothing written: heartbeats and alarms are stored as they arrive (services/
station_health.py, station_alarms.py). Place filters select station ids first (queries.station_scope),
as the refuel-attempt queries do; time windows are the UTC half-open [since, until) the pages build
from local days. These tables hold a row per pump and a few per station per day, so the per-station
sums are done over the window's rows without roll-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from registry_service.models import Outcome, PumpHeartbeat, ScanEvent, Station, StationAlarm, StationFault
from registry_service.services import queries
from registry_service.services.station_alarms import SILENT, SOURCE_AGENT, SOURCE_REGISTRY
from registry_service.services.station_alarms import UNEXPLAINED_QUANTITY as UNEXPLAINED

ALARM_KINDS = (SILENT, UNEXPLAINED)
ALARM_SOURCES = (SOURCE_REGISTRY, SOURCE_AGENT)
POLICY_MODES = ("enforce", "monitor")
UNITS = ("kg", "Nm3")  # the totaliser's units (schemas/station-fault-report.md)
# station_fault codes of the booth's supervisor-password checks (station_agent/agent.py).
OVERRIDE_REFUSED = "override_refused"
SUPERVISOR_LOCKED = "supervisor_locked"
REFUSED_OVERRIDE_CODES = (OVERRIDE_REFUSED, SUPERVISOR_LOCKED)
LIST_LIMIT = 200  # rows of a ranked list or of recent refused overrides: a page, not an export


@dataclass(frozen=True)
class Scope:
    """Which stations and which time: station ids (None: every station) and a UTC window."""

    station_ids: Sequence[int] | None
    since: datetime
    until: datetime

    @property
    def empty(self) -> bool:
        """A place filter that selects no station: no rows, no query."""
        return self.station_ids is not None and not self.station_ids

    def stations(self, column: Any) -> list[ColumnElement[bool]]:
        return [] if self.station_ids is None else [column.in_(self.station_ids)]


def scope_of(session: Session, flt: queries.EventFilter, now: datetime) -> Scope:
    """The scope of a page's filter: its region subtree and station, its (bounded) window."""
    since, until = flt.window(now)
    return Scope(queries.station_scope(session, flt.region, flt.station), since, until)


# Station health --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PumpState:
    """A pump's latest heartbeat as the page shows it (None: the pump never sent one)."""

    pump: int | None
    received_at: datetime | None = None
    agent_version: str | None = None
    policy_mode: str | None = None
    policy_sequence: int | None = None
    policy_sha256: str | None = None
    outbox_backlog: int | None = None
    clock_offset_ms: int | None = None
    reader: str | None = None
    interlock: str | None = None
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class StationHealth:
    code: str
    name: str
    silent_since: datetime | None  # an open silent alarm: the last heartbeat before the silence
    pumps: list[PumpState]

    @property
    def last_heartbeat(self) -> datetime | None:
        return max((p.received_at for p in self.pumps if p.received_at), default=None)

    @property
    def never_reported(self) -> bool:
        return self.last_heartbeat is None


@dataclass(frozen=True)
class HealthPage:
    stations: list[StationHealth]
    total: int  # stations in scope
    silent: int  # of them with an open silent alarm
    never: int  # of them that never sent a heartbeat (not rolled out yet: never alarmed)
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def station_health(session: Session, scope: Scope, page: int, page_size: int) -> HealthPage:
    """Active stations in scope, silent ones first (longest silent first), then by code; each with
    its pumps' latest heartbeats. The window is not used: this is the state now."""
    if scope.empty:
        return HealthPage([], 0, 0, 0, page, page_size)
    where = [Station.active.is_(True), *scope.stations(Station.id)]
    silent = (
        select(
            StationAlarm.station_id,
            func.min(StationAlarm.silent_since).label("since"),
            func.min(StationAlarm.opened_at).label("opened"),
        )
        .where(StationAlarm.kind == SILENT, StationAlarm.cleared_at.is_(None))
        .group_by(StationAlarm.station_id)
        .subquery()
    )
    since = func.coalesce(silent.c.since, silent.c.opened)
    rows = session.execute(
        select(Station.id, Station.code, Station.name, since)
        .outerjoin(silent, silent.c.station_id == Station.id)
        .where(*where)
        .order_by(silent.c.station_id.is_(None), since, Station.code)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    beats: dict[int, list[PumpState]] = {}
    ids = [row[0] for row in rows]
    if ids:
        for beat in session.scalars(
            select(PumpHeartbeat).where(PumpHeartbeat.station_id.in_(ids)).order_by(PumpHeartbeat.station_id, PumpHeartbeat.pump)
        ):
            beats.setdefault(beat.station_id, []).append(_pump_state(beat))
    total = session.scalar(select(func.count()).select_from(Station).where(*where)) or 0
    silent_count = (
        session.scalar(select(func.count()).select_from(silent).join(Station, Station.id == silent.c.station_id).where(*where))
        or 0
    )
    reporting = select(PumpHeartbeat.station_id).distinct().subquery()
    never = (
        session.scalar(
            select(func.count())
            .select_from(Station)
            .outerjoin(reporting, reporting.c.station_id == Station.id)
            .where(*where, reporting.c.station_id.is_(None))
        )
        or 0
    )
    stations = [StationHealth(code, name, silent_at, beats.get(sid, [])) for sid, code, name, silent_at in rows]
    return HealthPage(stations, total, silent_count, never, page, page_size)


def _pump_state(beat: PumpHeartbeat) -> PumpState:
    faults = tuple(str(code) for code in beat.faults or ())
    return PumpState(
        pump=beat.pump,
        received_at=beat.received_at,
        agent_version=beat.agent_version,
        policy_mode=beat.policy_mode,
        policy_sequence=beat.policy_sequence,
        policy_sha256=beat.policy_sha256,
        outbox_backlog=beat.outbox_backlog,
        clock_offset_ms=beat.clock_offset_ms,
        reader=beat.reader,
        interlock=beat.interlock,
        faults=faults,
    )


# Alarms --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmRow:
    id: int
    station: str
    station_name: str
    pump: int | None
    kind: str
    source: str
    opened_at: datetime
    cleared_at: datetime | None
    silent_since: datetime | None
    quantity: float | None
    unit: str | None
    detail: str


@dataclass(frozen=True)
class AlarmPage:
    rows: list[AlarmRow]
    total: int
    page: int
    page_size: int
    # The period's unexplained gas in each unit, over every page (not just this one).
    quantities: dict[str, float] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _in_window(scope: Scope) -> list[ColumnElement[bool]]:
    """Gas found unexplained in the window (an event: when it was raised), and silences that lasted
    into the window (a state: raised before its end, not cleared before its start)."""
    return [
        StationAlarm.opened_at < scope.until,
        or_(
            and_(StationAlarm.kind == UNEXPLAINED, StationAlarm.opened_at >= scope.since),
            and_(
                StationAlarm.kind != UNEXPLAINED, or_(StationAlarm.cleared_at.is_(None), StationAlarm.cleared_at >= scope.since)
            ),
        ),
        *scope.stations(StationAlarm.station_id),
    ]


def alarm_page(session: Session, scope: Scope, kind: str | None, page: int, page_size: int) -> AlarmPage:
    """The window's alarms (_in_window), newest raised first."""
    if scope.empty:
        return AlarmPage([], 0, page, page_size)
    where = _in_window(scope) + ([StationAlarm.kind == kind] if kind else [])
    rows = session.execute(
        select(StationAlarm, Station.code, Station.name)
        .join(Station, Station.id == StationAlarm.station_id)
        .where(*where)
        .order_by(StationAlarm.opened_at.desc(), StationAlarm.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    total = session.scalar(select(func.count()).select_from(StationAlarm).where(*where)) or 0
    sums = session.execute(
        select(StationAlarm.unit, func.sum(StationAlarm.quantity))
        .where(*where, StationAlarm.kind == UNEXPLAINED, StationAlarm.unit.is_not(None))
        .group_by(StationAlarm.unit)
    ).all()
    return AlarmPage(
        [_alarm_row(a, code, name) for a, code, name in rows],
        total,
        page,
        page_size,
        {str(unit): float(amount or 0) for unit, amount in sums},
    )


def _alarm_row(alarm: StationAlarm, code: str, name: str) -> AlarmRow:
    return AlarmRow(
        id=alarm.id,
        station=code,
        station_name=name,
        pump=alarm.pump,
        kind=alarm.kind,
        source=alarm.source,
        opened_at=alarm.opened_at,
        cleared_at=alarm.cleared_at,
        silent_since=alarm.silent_since,
        quantity=alarm.quantity,
        unit=alarm.unit,
        detail=alarm.detail or "",
    )


# Unexplained quantity ------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedStation:
    station: str
    station_name: str
    unit: str
    quantity: float
    alarms: int
    last_at: datetime


def unexplained_ranking(session: Session, scope: Scope, limit: int = LIST_LIMIT) -> dict[str, list[RankedStation]]:
    """Per unit (kg and Nm³ are not added up: converting needs the gas's density), stations by the
    gas their unexplained_quantity alarms raised in the window add up to, most first."""
    if scope.empty:
        return {}
    total = func.sum(StationAlarm.quantity)
    rows = session.execute(
        select(Station.code, Station.name, StationAlarm.unit, total, func.count(), func.max(StationAlarm.opened_at))
        .select_from(StationAlarm)
        .join(Station, Station.id == StationAlarm.station_id)
        .where(
            StationAlarm.kind == UNEXPLAINED,
            StationAlarm.quantity.is_not(None),
            StationAlarm.unit.is_not(None),
            StationAlarm.opened_at >= scope.since,
            StationAlarm.opened_at < scope.until,
            *scope.stations(StationAlarm.station_id),
        )
        .group_by(Station.code, Station.name, StationAlarm.unit)
    ).all()
    ranked: dict[str, list[RankedStation]] = {}
    for code, name, unit, amount, count, last in rows:
        ranked.setdefault(str(unit), []).append(RankedStation(code, name, str(unit), float(amount or 0), int(count), last))
    order = {unit: n for n, unit in enumerate(UNITS)}
    return {
        unit: sorted(stations, key=lambda r: (-r.quantity, r.station))[:limit]
        for unit, stations in sorted(ranked.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    }


# Override attempts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideCounts:
    station: str
    station_name: str
    overridden: int = 0  # fills a supervisor released (scan events, outcome overridden)
    override_refused: int = 0  # a supervisor's password refused at the booth (station_fault reports)
    supervisor_locked: int = 0  # the booth locked the supervisor out after repeated refusals

    @property
    def total(self) -> int:
        return self.overridden + self.override_refused + self.supervisor_locked


@dataclass(frozen=True)
class RefusedOverride:
    station: str
    station_name: str
    pump: int | None
    code: str
    occurred_at: datetime | None
    received_at: datetime
    detail: str


@dataclass(frozen=True)
class OverridePage:
    stations: list[OverrideCounts]
    refused: list[RefusedOverride]  # the newest refused or locked-out attempts


def override_attempts(session: Session, scope: Scope, limit: int = LIST_LIMIT) -> OverridePage:
    """Per station, overrides done and override attempts refused in the window, most first; and the
    newest refused attempts themselves. Overridden events are counted by their (registry-corrected)
    time, fault reports by when the registry received them, as the fault page lists them."""
    if scope.empty:
        return OverridePage([], [])
    counts: dict[str, dict[str, Any]] = {}
    overridden = session.execute(
        select(Station.code, Station.name, func.count())
        .select_from(ScanEvent)
        .join(Station, Station.id == ScanEvent.station_id)
        .where(
            ScanEvent.outcome == Outcome.OVERRIDDEN,
            ScanEvent.occurred_at >= scope.since,
            ScanEvent.occurred_at < scope.until,
            *scope.stations(ScanEvent.station_id),
        )
        .group_by(Station.code, Station.name)
    ).all()
    for code, name, count in overridden:
        counts.setdefault(code, {"station": code, "station_name": name})["overridden"] = int(count)
    in_window = [
        StationFault.code.in_(REFUSED_OVERRIDE_CODES),
        StationFault.received_at >= scope.since,
        StationFault.received_at < scope.until,
        *scope.stations(StationFault.station_id),
    ]
    refused = session.execute(
        select(Station.code, Station.name, StationFault.code, func.count())
        .select_from(StationFault)
        .join(Station, Station.id == StationFault.station_id)
        .where(*in_window)
        .group_by(Station.code, Station.name, StationFault.code)
    ).all()
    for code, name, fault_code, count in refused:
        counts.setdefault(code, {"station": code, "station_name": name})[str(fault_code)] = int(count)
    stations = sorted((OverrideCounts(**c) for c in counts.values()), key=lambda c: (-c.total, -c.overridden, c.station))
    recent = session.execute(
        select(StationFault, Station.code, Station.name)
        .join(Station, Station.id == StationFault.station_id)
        .where(*in_window)
        .order_by(StationFault.received_at.desc(), StationFault.id.desc())
        .limit(limit)
    ).all()
    return OverridePage(
        stations[:limit],
        [
            RefusedOverride(code, name, f.pump, f.code or "", f.occurred_at, f.received_at, f.detail or "")
            for f, code, name in recent
        ],
    )


# Time dark -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DarkStation:
    station: str
    station_name: str
    seconds: float  # dark within the window (overlapping silences counted once)
    episodes: int  # silences that overlap the window
    dark_now: bool  # a silence still open
    share: float  # of the window up to now


def dark_seconds(intervals: Iterable[tuple[datetime, datetime | None]], since: datetime, until: datetime, now: datetime) -> float:
    """How long the union of silences [start, end or now) covers of [since, min(until, now)):
    a silence still open lasts until now; the future is not dark yet."""
    end_of_window = min(until, now)
    clipped = sorted(
        (max(start, since), min(end or now, end_of_window))
        for start, end in intervals
        if start < end_of_window and (end is None or end > since)
    )
    total = 0.0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for start, end in clipped:
        if end <= start:
            continue
        if current_end is None or start > current_end:
            if current_start is not None and current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_start is not None and current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def time_dark(session: Session, scope: Scope, now: datetime, limit: int = LIST_LIMIT) -> list[DarkStation]:
    """Stations by how long they were dark in the window, longest first. A silence starts at the
    station's last heartbeat (silent_since; when the alarm was raised if that is unknown) and ends
    when the next heartbeat cleared the alarm, or now."""
    if scope.empty or scope.since >= now:
        return []
    start = func.coalesce(StationAlarm.silent_since, StationAlarm.opened_at)
    rows = session.execute(
        select(Station.code, Station.name, start, StationAlarm.cleared_at)
        .select_from(StationAlarm)
        .join(Station, Station.id == StationAlarm.station_id)
        .where(
            StationAlarm.kind == SILENT,
            start < min(scope.until, now),
            or_(StationAlarm.cleared_at.is_(None), StationAlarm.cleared_at > scope.since),
            *scope.stations(StationAlarm.station_id),
        )
    ).all()
    silences: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for code, name, began, cleared in rows:
        silences.setdefault((code, name), []).append((began, cleared))
    window = (min(scope.until, now) - scope.since).total_seconds()
    dark = [
        DarkStation(
            code,
            name,
            seconds,
            len(spans),
            any(end is None for _, end in spans),
            seconds / window if window > 0 else 0.0,
        )
        for (code, name), spans in silences.items()
        if (seconds := dark_seconds(spans, scope.since, scope.until, now)) > 0
    ]
    return sorted(dark, key=lambda d: (-d.seconds, d.station))[:limit]
