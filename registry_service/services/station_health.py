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

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Insert,
    Table,
    Update,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import PumpHeartbeat, Station, StationAlarm
from registry_service.models.health import HeartbeatHistory
from registry_service.services import station_alarms
from registry_service.services.idempotent import dialect_insert

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
        # Not dataclasses.asdict: its deep copy was a tenth of record_heartbeat's CPU, and the two
        # mutable fields are copied here anyway.
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
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
# The columns a heartbeat writes (the history row all of them), and those an update may change.
_WRITTEN = (*HeartbeatIn.__dataclass_fields__, "station_id", "received_at")
_STORED = tuple(name for name in _WRITTEN if name not in _KEYS)
_DUE_AFTER = "hb_due_after"  # the bind of received_at - HISTORY_AT_LEAST_EVERY


def record_heartbeat(session: Session, station_id: int, heartbeat: HeartbeatIn, received_at: datetime) -> bool:
    """Store the pump's latest heartbeat, add a history row when due, clear a silent alarm.
    Returns True when a history row was written.

    Core statements, no ORM load: this runs for every heartbeat of every pump (docs/performance.md).
    The usual heartbeat (nothing but volatile fields changed, history row less than an hour old) is
    one UPDATE whose WHERE is the "nothing new" rule, evaluated by the database on the row it locks,
    so a concurrent heartbeat of the same pump on another node is judged against what it stored.
    When that UPDATE matches nothing the heartbeat is historic (or the pump's first): an upsert
    stores it and a history row follows. Both statements return whether the station has an open
    silent alarm, so the clearing UPDATE runs only when there is one to clear.

    The statements are built once per dialect with bound parameters (`_statements`): building the
    expression and its cache key for every heartbeat cost more CPU than the database's work."""
    connection = session.connection()
    statements = _statements(connection.dialect.name)
    values = {**heartbeat.columns(), "station_id": station_id, "received_at": received_at}
    params = {_param(name): value for name, value in values.items()}
    params[_DUE_AFTER] = received_at - HISTORY_AT_LEAST_EVERY
    quiet = connection.execute(statements.quiet, params).first()
    historic = quiet is None
    if quiet is None:
        silent_open = bool(connection.execute(statements.upsert, params).scalar_one())
        connection.execute(statements.history, params)
    else:
        silent_open = bool(quiet.silent_open)
    if silent_open:
        station_alarms.clear_alarms(session, station_id, station_alarms.SILENT, received_at)
    return historic


@dataclass(frozen=True)
class _Statements:
    """`record_heartbeat`'s statements for one dialect; every value is a bind named by `_param`."""

    quiet: Update  # the latest row's UPDATE where nothing new was said, returning silent_open
    upsert: Any  # the dialect's INSERT ... ON CONFLICT DO UPDATE of the latest row, returning silent_open
    history: Insert


@functools.cache
def _statements(dialect: str) -> _Statements:
    silent = (
        select(_ALARMS.c.id)
        .where(
            _ALARMS.c.station_id == _bind("station_id"), _ALARMS.c.kind == station_alarms.SILENT, _ALARMS.c.cleared_at.is_(None)
        )
        .exists()
        .label("silent_open")
    )
    quiet = (
        update(_LATEST)
        .where(
            _LATEST.c.station_id == _bind("station_id"),
            _LATEST.c.pump == _bind("pump"),
            _LATEST.c.history_at > bindparam(_DUE_AFTER, type_=_LATEST.c.history_at.type),
            *_unchanged(dialect),
        )
        .values({name: _bind(name) for name in _STORED})
        .returning(silent)
    )
    insert_latest = dialect_insert(dialect)(_LATEST).values(
        {**{name: _bind(name) for name in _WRITTEN}, "history_at": _bind("received_at")}
    )
    upsert = insert_latest.on_conflict_do_update(
        index_elements=[_LATEST.c.station_id, _LATEST.c.pump],
        set_={**{name: insert_latest.excluded[name] for name in _STORED}, "history_at": insert_latest.excluded.history_at},
    ).returning(silent)
    history = insert(_HISTORY).values({name: _bind(name) for name in _WRITTEN})
    return _Statements(quiet=quiet, upsert=upsert, history=history)


def _param(name: str) -> str:
    """The bind of column `name`'s value: not the column's own name, which SQLAlchemy keeps for the
    SET and VALUES parameters it makes itself."""
    return f"hb_{name}"


def _bind(name: str) -> BindParameter[Any]:
    return bindparam(_param(name), type_=_LATEST.c[name].type)


def _unchanged(dialect: str) -> list[ColumnElement[bool]]:
    """The stored row says the same as the bound values in every compared field (None equal to None,
    as Python's == is). PostgreSQL's json has no equality: compared as jsonb, where key order does
    not count, as in a dict. SQLite compares the stored text: `HeartbeatIn.columns` writes the lists'
    sequences in key order, so equal dicts are equal text."""
    clauses: list[ColumnElement[bool]] = []
    for name in COMPARED:
        column = _LATEST.c[name]
        if name in _JSON_FIELDS:
            if dialect == "postgresql":
                clauses.append(cast(column, JSONB) == cast(_bind(name), JSONB))
            else:
                clauses.append(column == _bind(name))
        else:
            clauses.append(column.is_not_distinct_from(_bind(name)))
    return clauses


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
