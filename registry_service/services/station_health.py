"""Heartbeats in, silent stations out (schemas/station-heartbeat.md, docs/operations.md).

`record_heartbeat` keeps each pump's latest heartbeat and a thinned history, and clears the
station's silent alarm. `sweep_silent` (run every minute by `cylinder-registry serve`, see
health_sweeper.py) opens a silent alarm for a station whose newest heartbeat, from any pump, is
older than the threshold while the station is open. A station that never sent a heartbeat is not
alarmed: its agent is not rolled out yet.

Opening hours are local times in the registry's zone, "06:00-22:00" or "06:00-12:00,14:00-22:00";
a window may run past midnight ("22:00-06:00"); none means open around the clock. Silence is only
counted while the station is open: a station closed at 22:00 whose agent is switched off with the
lights is not alarmed at 06:00 the next morning, but `silent_after` after it if still silent.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, ColumnElement, Table, and_, cast, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import PumpHeartbeat, Station, StationAlarm
from registry_service.models.health import HeartbeatHistory
from registry_service.services import station_alarms

log = logging.getLogger(__name__)

HISTORY_AT_LEAST_EVERY = timedelta(hours=1)
DEFAULT_SILENT_AFTER = timedelta(minutes=10)
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # RegistryConfig.default_timezone's default
MAX_WINDOWS = 6
MAX_OPENING_HOURS = 100  # stations.opening_hours is String(100)
_WINDOW = re.compile(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})\Z")
DAY_MINUTES = 24 * 60
# What a heartbeat says that does not make a history row by itself: it changes every time, or with
# every fill (the pump's state, the last fill, the totaliser: each fill is already a station_event
# report). Otherwise a busy pump would write a history row per heartbeat, about 14 M rows a day
# nationally (docs/scaling.md), where the history is meant for changes of version, policy, lists,
# reader, interlock and faults, plus the hourly row.
VOLATILE = frozenset({"sent_at", "outbox_backlog", "clock_offset_ms", "pump_enabled", "last_fill_at", "totaliser"})


class OpeningHoursError(InvalidInput):
    """Opening hours that are not "HH:MM-HH:MM[,HH:MM-HH:MM...]"."""


@dataclass(frozen=True)
class HeartbeatIn:
    """One heartbeat as the API read it (api/heartbeats.py); field names are the table's."""

    pump: int
    sent_at: datetime
    agent_version: str
    policy_mode: str
    policy_sequence: int | None
    policy_sha256: str
    trust_list_sequence: int | None
    clock_offset_ms: int | None
    reader: str
    interlock: str
    pump_enabled: bool
    outbox_backlog: int
    last_fill_at: datetime | None
    totaliser: float | None
    totaliser_unit: str | None
    status_list_sequences: dict[str, int] = field(default_factory=dict)
    faults: tuple[str, ...] = ()

    def columns(self) -> dict[str, Any]:
        values = asdict(self)
        values["faults"] = list(self.faults)
        # In key order: SQLite compares the stored JSON as text (station_health._unchanged).
        values["status_list_sequences"] = dict(sorted(self.status_list_sequences.items()))
        return values


# -- heartbeats ---------------------------------------------------------------------------------


_LATEST: Table = PumpHeartbeat.__table__  # type: ignore[assignment]
_HISTORY: Table = HeartbeatHistory.__table__  # type: ignore[assignment]
_ALARMS: Table = StationAlarm.__table__  # type: ignore[assignment]
_KEYS = frozenset({"station_id", "pump"})
_JSON_FIELDS = frozenset({"status_list_sequences", "faults"})
# What `_unchanged` compares: everything a heartbeat says except the volatile fields and the keys.
COMPARED = tuple(name for name in HeartbeatIn.__dataclass_fields__ if name not in VOLATILE | _KEYS)


def record_heartbeat(session: Session, station_id: int, heartbeat: HeartbeatIn, received_at: datetime) -> bool:
    """Store the pump's latest heartbeat, add a history row when due, clear a silent alarm.
    Returns True when a history row was written.

    Core statements, no ORM load: this runs for every heartbeat of every pump (docs/performance.md).
    The usual heartbeat (nothing but volatile fields changed, history row less than an hour old) is
    one UPDATE whose WHERE is the "nothing new" rule, evaluated by the database on the row it locks,
    so a concurrent heartbeat of the same pump on another node is judged against what it stored.
    When that UPDATE matches nothing the heartbeat is historic (or the pump's first): an upsert
    stores it and a history row follows. Both statements return whether the station has an open
    silent alarm, so the clearing UPDATE runs only when there is one to clear."""
    values = {**heartbeat.columns(), "station_id": station_id, "received_at": received_at}
    stored = {name: value for name, value in values.items() if name not in _KEYS}
    silent = (
        select(_ALARMS.c.id)
        .where(_ALARMS.c.station_id == station_id, _ALARMS.c.kind == station_alarms.SILENT, _ALARMS.c.cleared_at.is_(None))
        .exists()
        .label("silent_open")
    )
    quiet = session.execute(
        update(_LATEST)
        .where(
            _LATEST.c.station_id == station_id,
            _LATEST.c.pump == heartbeat.pump,
            _LATEST.c.history_at > received_at - HISTORY_AT_LEAST_EVERY,
            *_unchanged(values, session.get_bind().dialect.name),
        )
        .values(stored)
        .returning(silent)
    ).first()
    historic = quiet is None
    if quiet is None:
        upsert = _insert(session)(_LATEST).values(**values, history_at=received_at)
        silent_open = bool(
            session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[_LATEST.c.station_id, _LATEST.c.pump],
                    set_={**{name: upsert.excluded[name] for name in stored}, "history_at": upsert.excluded.history_at},
                ).returning(silent)
            ).scalar_one()
        )
        session.execute(insert(_HISTORY).values(values))
    else:
        silent_open = bool(quiet.silent_open)
    if silent_open:
        station_alarms.clear_alarms(session, station_id, station_alarms.SILENT, received_at)
    return historic


def _unchanged(values: dict[str, Any], dialect: str) -> list[ColumnElement[bool]]:
    """The stored row says the same as `values` in every compared field (None equal to None, as
    Python's == is). PostgreSQL's json has no equality: compared as jsonb, where key order does not
    count, as in a dict. SQLite compares the stored text: `HeartbeatIn.columns` writes the lists'
    sequences in key order, so equal dicts are equal text."""
    clauses: list[ColumnElement[bool]] = []
    for name in COMPARED:
        column = _LATEST.c[name]
        if name in _JSON_FIELDS:
            if dialect == "postgresql":
                clauses.append(cast(column, JSONB) == cast(literal(values[name], JSON), JSONB))
            else:
                clauses.append(column == literal(values[name], JSON))
        else:
            clauses.append(column.is_not_distinct_from(values[name]))
    return clauses


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite both)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# -- opening hours ------------------------------------------------------------------------------

Window = tuple[int, int]  # minutes after local midnight; end <= start runs past midnight


def parse_opening_hours(text: str | None) -> tuple[Window, ...] | None:
    """The windows of "06:00-12:00,14:00-22:00"; None for no value (open around the clock).
    OpeningHoursError names what is wrong."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_OPENING_HOURS:
        raise OpeningHoursError(f"opening_hours is longer than {MAX_OPENING_HOURS} characters")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_WINDOWS:
        raise OpeningHoursError(f"opening_hours has more than {MAX_WINDOWS} windows")
    windows = []
    for part in parts:
        match = _WINDOW.match(part)
        if match is None:
            raise OpeningHoursError(f"opening_hours: {part[:20]!r} is not HH:MM-HH:MM (e.g. 06:00-22:00)")
        start, end = _minutes(match[1], match[2], part), _minutes(match[3], match[4], part)
        if start == DAY_MINUTES or start == end:
            raise OpeningHoursError(
                f"opening_hours: {part!r} is not a window (it must start before 24:00 and not end where it starts)"
            )
        windows.append((start, end))
    return tuple(windows)


def canonical_opening_hours(text: str | None) -> str | None:
    """The stored form: windows as HH:MM-HH:MM joined by commas; None for open around the clock."""
    windows = parse_opening_hours(text)
    if windows is None:
        return None
    return ",".join(f"{_hhmm(start)}-{_hhmm(end)}" for start, end in windows)


def _minutes(hours: str, minutes: str, part: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > DAY_MINUTES:
        raise OpeningHoursError(f"opening_hours: {part!r} has a time past 24:00")
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def open_since(windows: tuple[Window, ...] | None, now: datetime, zone: tzinfo) -> datetime | None:
    """When the open period `now` falls in began (UTC), or None when the station is closed at `now`.
    Adjoining windows ("00:00-24:00" every day, "22:00-24:00,00:00-06:00") are one period."""
    if windows is None:
        return datetime.min.replace(tzinfo=UTC)
    today = now.astimezone(zone).date()
    intervals = sorted(_interval(today + timedelta(days=offset), window, zone) for offset in (-2, -1, 0) for window in windows)
    start: datetime | None = None
    end: datetime | None = None
    for begin, finish in intervals:
        if end is not None and begin <= end:
            end = max(end, finish)
        else:
            start, end = begin, finish
        if start is not None and start <= now < end:  # intervals come by start: this one's is final
            return start
    return None


def _interval(day: date, window: Window, zone: tzinfo) -> tuple[datetime, datetime]:
    start, end = window
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    length = end - start if end > start else end + DAY_MINUTES - start
    begin = (midnight + timedelta(minutes=start)).astimezone(UTC)
    return begin, begin + timedelta(minutes=length)


# -- the silent-station sweep -------------------------------------------------------------------


def sweep_silent(
    session: Session, now: datetime, silent_after: timedelta = DEFAULT_SILENT_AFTER, *, zone: tzinfo = DEFAULT_ZONE
) -> list[StationAlarm]:
    """Open a silent alarm for each active station, not already alarmed, whose newest heartbeat is
    older than `silent_after` counted within its opening hours. Returns the alarms opened."""
    newest = func.max(PumpHeartbeat.received_at)
    alarmed = exists().where(
        and_(
            StationAlarm.station_id == Station.id,
            StationAlarm.kind == station_alarms.SILENT,
            StationAlarm.cleared_at.is_(None),
        )
    )
    rows = session.execute(
        select(Station.id, Station.code, Station.opening_hours, newest)
        .join(PumpHeartbeat, PumpHeartbeat.station_id == Station.id)
        .where(Station.active.is_(True), ~alarmed)
        .group_by(Station.id, Station.code, Station.opening_hours)
        .having(newest < now - silent_after)
    ).all()
    opened = []
    for station_id, code, hours, last in rows:
        try:
            windows = parse_opening_hours(hours)
        except OpeningHoursError as error:  # stored before a stricter check: treat as always open
            log.warning("station %s: %s; taken as open around the clock", code, error.detail)
            windows = None
        since = open_since(windows, now, zone)
        if since is None or now - max(last, since) < silent_after:
            continue
        opened.append(
            station_alarms.open_alarm(
                session,
                station_id=station_id,
                pump=None,
                kind=station_alarms.SILENT,
                source=station_alarms.SOURCE_REGISTRY,
                opened_at=now,
                silent_since=last,
                detail=f"no heartbeat since {last.isoformat()} (threshold {silent_after.total_seconds():.0f} s)",
            )
        )
    if opened:
        log.warning("silent stations: %s", ", ".join(str(a.station_id) for a in opened))
    return opened
