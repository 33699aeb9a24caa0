"""Suspected cloned tags, from scan events alone:

- impossible travel: the same tag UID or cylinder at two stations too far apart for the time
  between the two scans;
- read counter: NTAG's 24-bit read counter only grows; a scan whose counter is not above the
  previous scan's of the same UID means two chips answer with that UID;
- fill frequency (the Peruvian rule): more than one fill within an hour, or more than four a day.

The rules run soon after events arrive and what they find is stored (models/rollups.py
CloneSuspect), so the API and the dashboard read a few rows (`find_suspects`) instead of running
window functions over every scan of the period on each page load. The upload that stores new scans
only leaves a note of them (`enqueue`, a clone_arrivals row, in its own transaction); the watch
(`judge_arrivals`, run by clone_watch.py every clone_watch_interval_s) judges the queued uploads'
scans in batches and deletes their notes in one transaction. So an upload never reads other
stations' scans (on Citus that read would cross shards on every upload, docs/scaling.md) nor waits
on suspect and case rows another upload holds; a suspect and its case appear about an interval
after the scan arrives. "The previous scan" is the previous one of the same tag or cylinder by
occurred_at within HORIZON: when a late upload puts a scan between two stored ones, the later
one's suspects are judged again against its new predecessor. `rebuild_suspects` finds them all
again from scan_events (`cylinder-registry rebuild-rollups`).

`detect_in_window` is the former detector, which ran the rules over one window's scans on every
request: the reference the stored suspects are tested against, and the benchmarks' baseline.

Each suspect carries the facts behind it by name (`Suspect.facts`); the API words them in English
(`Suspect.detail`, the sentences of DETAILS) and the dashboard in the reader's language from the same
facts, so no page has to parse a sentence.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections import Counter, namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Float,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import TupleType, TypeEngine

from registry_service.models import FILL_OUTCOMES, CloneArrival, CloneSuspect, ScanEvent, Station, UTCDateTime
from registry_service.services import case_hooks
from registry_service.services.driver_sql import driver_rows, json_document
from registry_service.services.queries import (
    EventFilter,
    conditions,
    dialect_local_day,
    event_only_conditions,
    local_day,
    station_scope,
)
from registry_service.services.rollups import NewScan, Reckoning, many_rows, upsert

EARTH_RADIUS_KM = 6371.0
MIN_FILL_GAP = timedelta(hours=1)
MAX_FILLS_PER_DAY = 4
DEFAULT_CLONE_RANGE = timedelta(days=1)
# How far back the previous scan of a tag or cylinder is looked for when a scan arrives. Two days
# cover the longest trip the travel rule can flag in China (about 4,000 km at 150 km/h) and the
# fill rules (an hour, a day); the counter rule compares with the tag's scans of these two days.
HORIZON = timedelta(days=2)

# The API's English sentence for each kind of suspect, over the kind's facts.
DETAILS: Mapping[str, str] = {
    "impossible_travel": "{km:.1f} km in {minutes} min ({speed} km/h)",
    "counter_not_increasing": "read counter {now} after {before}",
    "fills_within_hour": "two fills {minutes} min apart",
    "too_many_fills_per_day": "{count} fills on {day}",
}
KINDS: tuple[str, ...] = tuple(DETAILS)
Fact = int | float | date


@dataclass(frozen=True)
class Suspect:
    kind: str  # one of KINDS
    key_type: str  # "tag_uid" or "cylinder_id"
    key: str
    at: datetime
    station: str
    previous_at: datetime | None
    previous_station: str | None
    event_id: str
    facts: Mapping[str, Fact]  # what DETAILS[kind] says, by name: km (float), minutes, speed, counts (int), day

    @property
    def detail(self) -> str:
        return DETAILS[self.kind].format(**self.facts)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key_type": self.key_type,
            "key": self.key,
            "at": self.at.isoformat(),
            "station": self.station,
            "previous_at": self.previous_at.isoformat() if self.previous_at else None,
            "previous_station": self.previous_station,
            "event_id": self.event_id,
            "detail": self.detail,
        }


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# The rules, over one scan and the one before it -----------------------------------------------

Place = tuple[float | None, float | None]


def travel_facts(here: Place, there: Place, seconds: float, max_speed_kmh: float) -> dict[str, Fact] | None:
    """Two stations too far apart for the time between two scans (either without coordinates: no)."""
    if here[0] is None or here[1] is None or there[0] is None or there[1] is None:
        return None
    km = distance_km((here[0], here[1]), (there[0], there[1]))
    hours = max(seconds / 3600, 1 / 3600)
    if km / hours <= max_speed_kmh:
        return None
    return {"km": km, "minutes": round(hours * 60), "speed": round(km / hours)}


def counter_facts(now: int, before: int) -> dict[str, Fact] | None:
    return {"now": now, "before": before} if now <= before else None


def fill_gap_facts(seconds: float) -> dict[str, Fact] | None:
    return {"minutes": round(seconds / 60)} if seconds < MIN_FILL_GAP.total_seconds() else None


def fill_count_facts(count: int, day: date) -> dict[str, Fact] | None:
    return {"count": count, "day": day} if count > MAX_FILLS_PER_DAY else None


# Reading the stored suspects -------------------------------------------------------------------


def suspected_clones(session: Session, flt: EventFilter, now: datetime, limit: int) -> dict[str, Any]:
    """The API's answer: the newest `limit` suspects as JSON values."""
    return {"suspects": [suspect.as_json() for suspect in find_suspects(session, flt, now, limit)]}


def find_suspects(session: Session, flt: EventFilter, now: datetime, limit: int, offset: int = 0) -> list[Suspect]:
    """The filter's suspects, newest first: `limit` of them from `offset` (default period: a day)."""
    query = _stored(session, flt, now)
    if query is None:
        return []
    here, before = aliased(Station), aliased(Station)
    rows = session.execute(
        query.add_columns(here.code, before.code)
        .join(here, here.id == CloneSuspect.station_id)
        .outerjoin(before, before.id == CloneSuspect.previous_station_id)
        .order_by(CloneSuspect.at.desc(), _RANK, CloneSuspect.key, CloneSuspect.slot)
        .offset(offset)
        .limit(limit)
    )
    return [_as_suspect(row[0], row[1], row[2]) for row in rows]


# Suspects of one scan in the order the window detector listed them: trips by tag, then by cylinder,
# counters, fills.
_RANK = case(
    (and_(CloneSuspect.kind == "impossible_travel", CloneSuspect.key_type == "tag_uid"), 0),
    (CloneSuspect.kind == "impossible_travel", 1),
    (CloneSuspect.kind == "counter_not_increasing", 2),
    (CloneSuspect.kind == "fills_within_hour", 3),
    else_=4,
)


def count_suspects(session: Session, flt: EventFilter, now: datetime) -> int:
    query = _stored(session, flt, now)
    if query is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _stored(session: Session, flt: EventFilter, now: datetime) -> Any:
    """The suspects a filter selects, by the suspect's scan: its time and station, and, for a
    filter on what only an event carries (plate, outcome, ...), that scan itself."""
    since, until = flt.window(now, DEFAULT_CLONE_RANGE)
    query = select(CloneSuspect).where(CloneSuspect.at >= since, CloneSuspect.at < until)
    station_ids = station_scope(session, flt.region, flt.station)
    if station_ids is not None:
        if not station_ids:
            return None
        query = query.where(CloneSuspect.station_id.in_(station_ids))
    event_filters = event_only_conditions(flt)
    if event_filters or flt.outcomes or flt.reason or flt.overdue_only:
        cond = conditions(session, flt, now, DEFAULT_CLONE_RANGE)
        # By the scan's whole key: a suspect's station_id is its scan's (so the join stays on one
        # shard if scan_events is distributed by station), and a UUID is unique per station only.
        scan = and_(
            ScanEvent.station_id == CloneSuspect.station_id,
            ScanEvent.event_uuid == CloneSuspect.event_uuid,
            ScanEvent.occurred_at == CloneSuspect.at,
        )
        query = query.join(ScanEvent, scan).where(*cond.where)
    return query


def _as_suspect(row: CloneSuspect, station: str, previous_station: str | None) -> Suspect:
    facts: dict[str, Fact] = dict(row.facts)
    if "day" in facts:
        facts["day"] = date.fromisoformat(str(facts["day"]))
    return Suspect(
        kind=row.kind,
        key_type=row.key_type,
        key=row.key,
        at=row.at,
        station=station,
        previous_at=row.previous_at,
        previous_station=previous_station,
        event_id=str(row.event_uuid),
        facts=facts,
    )


# Finding them as events arrive -----------------------------------------------------------------
#
# One statement per batch of queued uploads, over the scans of their tag UIDs and of their cylinder
# IDs from HORIZON before their earliest scan on: window functions give each scan its predecessor
# (p_: any scan; c_: among scans with a read counter; f_: among fills) and its day's fills. A scan
# is new when its station and receipt time are a queued upload's. The database returns only what
# needs judging: a new scan that a rule may flag (the filter is a little wider than the rules, which
# are then applied here exactly), a day with more than four fills and a new one, and a stored scan
# whose predecessor is new (judged again: a late upload came between).

# Uploads judged in one transaction, one statement for all of them: at most WATCH_BATCH uploads, and
# no more than WATCH_KEYS tags and cylinders (unless one upload alone has more), so that a round
# after a burst of large uploads stays a short transaction holding few suspect and case rows.
WATCH_BATCH = 500
WATCH_KEYS = 2000
# pg_try_advisory_xact_lock's key: "CLNW". One node judges at a time; another node's round that
# finds the lock taken does nothing (two rounds judging the same keys would only wait on each
# other's suspect and case rows).
LOCK_KEY = 0x434C4E57
_ARRIVALS: Table = CloneArrival.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_ENQUEUE = insert(_ARRIVALS)


# PostgreSQL: the same note, written by the upload's own statement (services/events.py _PG_INSERT,
# after its `stored` CTE), so it costs the upload no round trip and no Python. One row when a new
# scan has a tag UID or cylinder ID, none otherwise.
PG_ENQUEUE_STORED = (
    ", queued AS (INSERT INTO clone_arrivals (station_id, arrival_uuid, received_at, since, tags, cylinders) "
    "SELECT %(station_id)s, gen_random_uuid(), %(received_at)s, "
    f"min(occurred_at) - interval '{int(HORIZON.total_seconds())} seconds', "
    "coalesce(json_agg(DISTINCT tag_uid ORDER BY tag_uid) FILTER (WHERE tag_uid IS NOT NULL), '[]'::json), "
    "coalesce(json_agg(DISTINCT cylinder_id ORDER BY cylinder_id) FILTER (WHERE cylinder_id IS NOT NULL), '[]'::json) "
    "FROM stored HAVING count(tag_uid) + count(cylinder_id) > 0)"
)


def enqueue(session: Session, station_id: int, received_at: datetime, scans: Sequence[NewScan]) -> None:
    """Leave one station's newly stored scans for the watch, in the transaction that stored them:
    their keys, and how far back their predecessors may be (a scan's predecessor is at most HORIZON,
    over a day its local day too, before it). SQLite; PostgreSQL: PG_ENQUEUE_STORED."""
    tags = sorted({scan.tag_uid for scan in scans if scan.tag_uid})
    cylinders = sorted({scan.cylinder_id for scan in scans if scan.cylinder_id})
    if not tags and not cylinders:
        return
    since = min(scan.occurred_at for scan in scans) - HORIZON
    session.connection().execute(
        _ENQUEUE,
        {
            "station_id": station_id,
            "arrival_uuid": uuid.uuid4(),
            "received_at": received_at,
            "since": since,
            "tags": tags,
            "cylinders": cylinders,
        },
    )


class Judged(NamedTuple):
    """What one batch of the watch did."""

    uploads: int  # queued uploads judged (0 also when another node holds the watch's lock)
    more: bool  # the queue held more than the batch took when the batch read it


def judge_arrivals(
    session: Session, reckoning: Reckoning, now: datetime, limit: int = WATCH_BATCH, distributed: bool = False
) -> Judged:
    """One batch of the watch: up to `limit` queued uploads (and WATCH_KEYS keys), oldest first,
    judged together; their suspects stored, the new scans' suspects made cases (at `now`), their
    queue rows deleted. `distributed`: read the scans in the form Citus can run (`_arrival_base`;
    `citus_installed` says when)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and not session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
        return Judged(0, False)
    queued = session.connection().execute(select(_ARRIVALS).order_by(_ARRIVALS.c.received_at).limit(limit)).all()
    arrivals = _within_keys(queued)
    if not arrivals:
        return Judged(0, False)
    findings = _Findings(clearing=True)
    for group in _spans(arrivals):
        _judge(session, reckoning, group, findings, distributed)
    findings.store(session)
    # A suspect found on one of the new scans becomes a case (a re-judged older scan does not open
    # another: its suspect had its case when it was found).
    case_hooks.from_suspects(session, [findings.found[ident] for ident in sorted(findings.fresh)], now)
    key = tuple_(_ARRIVALS.c.station_id, _ARRIVALS.c.arrival_uuid)
    session.execute(delete(_ARRIVALS).where(key.in_([(a.station_id, a.arrival_uuid) for a in arrivals])))
    return Judged(len(arrivals), len(queued) == limit or len(arrivals) < len(queued))


def citus_installed(connection: Connection) -> bool:
    """Whether the database has the citus extension, which distributes scan_events."""
    return connection.dialect.name == "postgresql" and bool(connection.scalar(_CITUS))


def oldest_queued(connection: Connection) -> datetime | None:
    """When the oldest upload still waiting for the watch arrived (None: none waits)."""
    return connection.scalar(select(func.min(CloneArrival.received_at)))


_CITUS = select(exists().where(text("extname = 'citus'")).select_from(text("pg_extension")))


def _within_keys(queued: Sequence[Any]) -> list[Any]:
    """The first of the queued uploads whose keys add up to at most WATCH_KEYS (the first always)."""
    taken: list[Any] = []
    keys = 0
    for arrival in queued:
        keys += len(arrival.tags) + len(arrival.cylinders)
        if taken and keys > WATCH_KEYS:
            break
        taken.append(arrival)
    return taken


def _spans(arrivals: Sequence[Any]) -> list[list[Any]]:
    """The arrivals in groups whose `since` lie within HORIZON of each other: one statement reads
    every key of its group from the group's earliest `since`, so an upload of days-old scans (a
    station back after an outage) is judged on its own instead of making every key read days back."""
    groups: list[list[Any]] = []
    for arrival in sorted(arrivals, key=lambda a: a.since):
        if groups and arrival.since - groups[-1][0].since <= HORIZON:
            groups[-1].append(arrival)
        else:
            groups.append([arrival])
    return groups


def _judge(session: Session, reckoning: Reckoning, arrivals: Sequence[Any], findings: _Findings, distributed: bool) -> None:
    bound = {
        "tags": sorted({tag for a in arrivals for tag in a.tags}),
        "cylinders": sorted({cylinder for a in arrivals for cylinder in a.cylinders}),
        "since": min(a.since for a in arrivals),
    }
    dialect = session.get_bind().dialect.name
    rows: Iterable[Any]
    if dialect == "postgresql":
        driver_rows(session, _BY_INDEX)
        stations = {"stations": [a.station_id for a in arrivals], "received": [a.received_at for a in arrivals]}
        rows = _pg_arrival_rows(session, reckoning, distributed, {**bound, **stations})
    else:
        arrived = {"arrivals": [(a.station_id, a.received_at) for a in arrivals]}
        rows = session.connection().execute(_arrival_query(dialect, reckoning), {**bound, **arrived})
    for row in rows:
        _JUDGES[row.key_type](row, reckoning, findings)


# One plan, by index, whatever the statistics say. For a partition the planner believes tiny (today's,
# before its first ANALYZE) a scan looks cheaper than an index lookup, and a kept plan would go on
# scanning it as it grows. And for a few keys PostgreSQL would plan each upload afresh (it can leave
# out partitions while planning), which costs three times the run; the generic plan leaves them
# out when it starts. Both settings end with the round's transaction.
_BY_INDEX = "SELECT set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)"


@functools.cache
def _arrival_query(dialect: str, reckoning: Reckoning, distributed: bool = False) -> Any:
    """The watch's statement, built once (assembling and compiling it costs more than running it):
    both keys' scans in one round trip, each round binding its keys, span, and the uploads' stations
    and receipt times."""
    sql = _Sql(dialect)
    tags = _arrival_base(sql, ScanEvent.tag_uid, "tags", distributed)
    cylinders = _arrival_base(sql, ScanEvent.cylinder_id, "cylinders", distributed)
    return union_all(
        _padded(_tag_scans(sql, tags, reckoning, arrival=True), "tag_uid"),
        _padded(_cylinder_scans(sql, cylinders, reckoning, arrival=True), "cylinder_id"),
    )


# On PostgreSQL the watch's statement is 9 KB long, and on each run SQLAlchemy's work around it
# (cache key, parameters, the expanded IN of fill outcomes, the result's metadata for its 26
# columns) and psycopg's rewriting of its %(name)s placeholders (which psycopg caches only for
# statements under 4 KB) took about half of the registry's CPU for a riding event, several times
# what PostgreSQL spends running it (bench_registry_ingest.py, docs/performance.md). So it is
# rendered once with $n placeholders and its own values, and each run fills in its five values
# and sends it with driver_sql.driver_rows: the same statement and values, in the session's
# transaction, prepared by psycopg as before, its errors handled by SQLAlchemy as any statement's.
# The rows are the driver's: datetimes in the session's time zone, compared and stored as instants.
_ARRIVAL_BINDS = ("tags", "cylinders", "since", "stations", "received")


@dataclass(frozen=True)
class _RawStatement:
    sql: str  # $n placeholders
    values: tuple[Any, ...]  # the value of each $n: the statement's own (its literals, the fill outcomes), as bound
    binds: tuple[tuple[int, str], ...]  # the positions in `values` each upload fills, and with which of _ARRIVAL_BINDS


@functools.cache
def _pg_arrival(reckoning: Reckoning, distributed: bool) -> _RawStatement:
    query = _arrival_query("postgresql", reckoning, distributed)
    assert tuple(query.selected_columns.keys()) == _ArrivalRow._fields, "the rows are read by position"
    dialect = pg_psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]  # SQLAlchemy's own, untyped
    compiled = query.compile(dialect=dialect)
    anything = datetime(2000, 1, 1, tzinfo=UTC)  # stand-ins: only the statement and its own values are kept
    state = compiled.construct_expanded_state({"tags": [], "cylinders": [], "since": anything, "stations": [], "received": []})
    names = tuple(state.positiontup or ())
    values = tuple(
        None if name in _ARRIVAL_BINDS else state.processors[name](value) if name in state.processors else value
        for name, value in ((name, state.parameters[name]) for name in names)
    )
    binds = tuple((index, name) for index, name in enumerate(names) if name in _ARRIVAL_BINDS)
    return _RawStatement(state.statement, values, binds)


def _pg_arrival_rows(session: Session, reckoning: Reckoning, distributed: bool, bound: Mapping[str, Any]) -> list[Any]:
    statement = _pg_arrival(reckoning, distributed)
    values = list(statement.values)
    for index, name in statement.binds:
        values[index] = bound[name]
    # Usually no row at all: nothing new is suspect.
    return [_ArrivalRow._make(row) for row in driver_rows(session, statement.sql, values)]


def rebuild_suspects(session: Session, reckoning: Reckoning) -> int:
    """Forget every stored suspect and judge every scan again; returns how many were found."""
    session.execute(delete(CloneSuspect))
    findings = _Findings(clearing=False)
    sql = _Sql(session.get_bind().dialect.name)
    for key_type, query in (
        ("tag_uid", _tag_scans(sql, _base(ScanEvent.tag_uid), reckoning, arrival=False)),
        ("cylinder_id", _cylinder_scans(sql, _base(ScanEvent.cylinder_id), reckoning, arrival=False)),
    ):
        for row in session.connection().execute(query):
            _JUDGES[key_type](row, reckoning, findings)
    findings.store(session)
    return len(findings.found)


@dataclass(frozen=True)
class _Sql:
    """The few expressions SQLite and PostgreSQL spell differently. (On SQLite, km() needs its math
    functions: built in since 3.35 unless left out at compile time.)"""

    dialect: str

    def seconds(self, later: Any, earlier: Any) -> Any:
        if self.dialect == "sqlite":
            return (func.julianday(later) - func.julianday(earlier)) * 86400.0
        return func.extract("epoch", later - earlier)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.max(a, b) if self.dialect == "sqlite" else func.greatest(a, b)

    def least(self, a: Any, b: Any) -> Any:
        return func.min(a, b) if self.dialect == "sqlite" else func.least(a, b)

    def km(self, lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
        """distance_km in SQL (haversine)."""
        r = func.radians
        h = func.power(func.sin((r(lat2) - r(lat1)) / 2), 2) + func.cos(r(lat1)) * func.cos(r(lat2)) * func.power(
            func.sin((r(lon2) - r(lon1)) / 2), 2
        )
        return 2 * EARTH_RADIUS_KM * func.asin(self.least(literal(1.0), func.sqrt(h)))


def _columns_of(key: Any) -> list[Any]:
    return [
        key.label("key"),
        ScanEvent.event_uuid,
        ScanEvent.occurred_at.label("at"),
        ScanEvent.station_id,
        ScanEvent.read_counter.label("counter"),
        ScanEvent.outcome,
        ScanEvent.received_at,
    ]


def _base(key: Any) -> Any:
    """Every scan with this key (a tag UID or a cylinder ID)."""
    return select(*_columns_of(key)).where(key.is_not(None)).subquery("scan")


def _arrival_base(sql: _Sql, key: Any, keys: str, distributed: bool = False) -> Any:
    """The scans of the keys bound as `keys` since the bound "since".

    On PostgreSQL one lookup per key and daily partition (LATERAL) by the (key, occurred_at) index.
    Today's partition has no statistics for its first minute or so, and for a table the planner
    believes small, a list of keys or a time range bounded on both sides looks as selective as one
    key: it would read the whole day by the time index for each key. One key and a lower bound
    only (at most a third of the rows, by the planner's default) leave the key's index the choice.

    `distributed` (Citus, docs/scaling.md "Remaining work" 3): scan_events is distributed by
    station_id, and Citus does not push a LATERAL join on another column down to the shards. The
    keys' scans are then one MATERIALIZED CTE, `key = ANY(keys)`, which Citus runs on every shard
    (each by its own (key, occurred_at) index) and gives the coordinator as an intermediate result,
    where the windows run. The rows are the same (tests/registry/test_rollups.py runs both forms)."""
    since = ScanEvent.occurred_at >= bindparam("since", type_=UTCDateTime())
    if sql.dialect != "postgresql":
        return select(*_columns_of(key)).where(key.in_(bindparam(keys, expanding=True)), since).subquery("scan")
    if distributed:
        found = select(*_columns_of(key)).where(key == any_(bindparam(keys, type_=ARRAY(String()))), since)
        return found.cte(f"scan_{keys}").prefix_with("MATERIALIZED")
    wanted = func.unnest(bindparam(keys, type_=ARRAY(String()))).table_valued("value").render_derived("wanted")
    # OFFSET 0 keeps PostgreSQL from flattening the per-key lookups back into one scan.
    per_key = select(*_columns_of(key)).where(key == wanted.c.value, since).offset(0).lateral("found")
    return select(per_key).select_from(wanted).join(per_key, true()).subquery("scan")


_WINDOW_COLUMNS = {  # what each window gives of a scan's predecessor
    "p_": ("at", "station_id", "lat", "lon", "new"),
    "c_": ("at", "station_id", "counter", "new"),
    "f_": ("at", "station_id", "new"),
}


# Every column either key's query gives, in one order (the union's); a key's query gives NULL for
# the other's windows.
_ALL_COLUMNS = (
    *("key", "event_uuid", "at", "station_id", "lat", "lon", "counter", "new"),
    *(prefix + name for prefix, names in _WINDOW_COLUMNS.items() for name in names),
    *("fill", "day", "day_fills", "day_rank", "day_new"),
)
# A row of the watch's statement on PostgreSQL, by name: the judges read a row's columns as attributes,
# of this or of SQLAlchemy's rows (SQLite, rebuild_suspects).
_ArrivalRow = namedtuple("_ArrivalRow", ("key_type", *_ALL_COLUMNS))  # type: ignore[misc]  # fields from a tuple


def _padded(query: Any, key_type: str) -> Any:
    found = query.subquery()
    columns = [found.c[name] if name in found.c else _null(name.split("_")[-1]).label(name) for name in _ALL_COLUMNS]
    return select(literal(key_type).label("key_type"), *columns)


def _null(kind: str) -> Any:
    """NULL of the column's type (the union's result types come from its first query)."""
    types: dict[str, TypeEngine[Any]] = {"at": UTCDateTime(), "lat": Float(), "lon": Float(), "day": String()}
    return type_coerce(null(), types.get(kind, Integer()))


def _columns(sql: _Sql, scan: Any, arrival: bool) -> dict[str, Any]:
    """A scan's own columns; `new`: stored by one of the uploads judged (its station and receipt
    time are one of theirs), or every scan when all are judged again."""
    return {
        "at": scan.c.at,
        "station_id": scan.c.station_id,
        "lat": Station.latitude,
        "lon": Station.longitude,
        "counter": scan.c.counter,
        "new": case((_arrived(sql, scan), 1), else_=0) if arrival else literal(1),
    }


def _arrived(sql: _Sql, scan: Any) -> Any:
    """The scan is one the judged uploads stored. PostgreSQL: the uploads as two arrays bound by
    position (the statement is prepared once, so its parameters cannot vary in number); SQLite: a
    list of (station, receipt time) pairs."""
    if sql.dialect != "postgresql":
        pairs = bindparam("arrivals", expanding=True, type_=TupleType(Integer(), UTCDateTime()))
        return tuple_(scan.c.station_id, scan.c.received_at).in_(pairs)
    uploads = (
        func.unnest(
            cast(bindparam("stations", type_=ARRAY(Integer())), ARRAY(Integer())),
            cast(bindparam("received", type_=ARRAY(UTCDateTime())), ARRAY(UTCDateTime())),
        )
        .table_valued("station", "received")
        .render_derived("upload")
    )
    return exists().where(uploads.c.station == scan.c.station_id, uploads.c.received == scan.c.received_at)


def _lags(scan: Any, columns: dict[str, Any], prefix: str, partition_by: Sequence[Any]) -> list[Any]:
    """The predecessor's columns in one window: scans of one key (and kind), oldest first."""
    order = (scan.c.at, scan.c.event_uuid)
    types = {"at": UTCDateTime(), "lat": Float(), "lon": Float()}
    return [
        func.lag(columns[name], type_=types.get(name)).over(partition_by=partition_by, order_by=order).label(prefix + name)
        for name in _WINDOW_COLUMNS[prefix]
    ]


def _windowed(scan: Any, columns: dict[str, Any], *extra: Any) -> Any:
    return (
        select(scan.c.key, scan.c.event_uuid, *(column.label(name) for name, column in columns.items()), *extra)
        .join(Station, Station.id == scan.c.station_id)
        .subquery()
    )


def _within(sql: _Sql, s: Any, prefix: str, seconds: float) -> Any:
    """The row's predecessor in one window is at most `seconds` before it."""
    return and_(s.c[prefix + "at"].is_not(None), sql.seconds(s.c.at, s.c[prefix + "at"]) <= seconds)


def _may_travel(sql: _Sql, s: Any, reckoning: Reckoning) -> Any:
    """The predecessor at another station, perhaps too far for the time (a hair wider than the rule)."""
    km = sql.km(s.c.lat, s.c.lon, s.c.p_lat, s.c.p_lon)
    hours = sql.greatest(sql.seconds(s.c.at, s.c.p_at), literal(1.0)) / 3600.0
    return and_(
        _within(sql, s, "p_", HORIZON.total_seconds()),
        s.c.p_station_id != s.c.station_id,
        s.c.lat.is_not(None),
        s.c.lon.is_not(None),
        s.c.p_lat.is_not(None),
        s.c.p_lon.is_not(None),
        km * 1.0001 > reckoning.max_speed_kmh * hours,
    )


def _judged_again(s: Any, *prefixes: str) -> Any:
    """A stored scan whose predecessor in some window is new."""
    return and_(s.c.new == 0, or_(*(s.c[prefix + "new"] == 1 for prefix in prefixes)))


def _tag_scans(sql: _Sql, scan: Any, reckoning: Reckoning, arrival: bool) -> Any:
    columns = _columns(sql, scan, arrival)
    inner = _windowed(
        scan,
        columns,
        *_lags(scan, columns, "p_", [scan.c.key]),
        *_lags(scan, columns, "c_", [scan.c.key, scan.c.counter.is_(None)]),
    )
    counter_back = and_(
        inner.c.counter.is_not(None),
        inner.c.c_counter.is_not(None),
        inner.c.counter <= inner.c.c_counter,
        _within(sql, inner, "c_", HORIZON.total_seconds()),
    )
    flagged = and_(inner.c.new == 1, or_(_may_travel(sql, inner, reckoning), counter_back))
    return select(inner).where(or_(flagged, _judged_again(inner, "p_", "c_")) if arrival else flagged)


def _cylinder_scans(sql: _Sql, scan: Any, reckoning: Reckoning, arrival: bool) -> Any:
    columns = _columns(sql, scan, arrival)
    fill = scan.c.outcome.in_(FILL_OUTCOMES)
    same_day = [scan.c.key, fill, dialect_local_day(sql.dialect, reckoning.utc_offset_hours, scan.c.at)]
    inner = _windowed(
        scan,
        columns,
        fill.label("fill"),
        same_day[-1].label("day"),
        *_lags(scan, columns, "p_", [scan.c.key]),
        *_lags(scan, columns, "f_", [scan.c.key, fill]),
        func.count().over(partition_by=same_day).label("day_fills"),
        func.row_number().over(partition_by=same_day, order_by=(scan.c.at.desc(), scan.c.event_uuid.desc())).label("day_rank"),
        func.max(columns["new"]).over(partition_by=same_day).label("day_new"),
    )
    soon_again = and_(inner.c.fill, _within(sql, inner, "f_", MIN_FILL_GAP.total_seconds()))
    flagged = and_(inner.c.new == 1, or_(_may_travel(sql, inner, reckoning), soon_again))
    busy_day = and_(inner.c.fill, inner.c.day_rank == 1, inner.c.day_new == 1, inner.c.day_fills > MAX_FILLS_PER_DAY)
    return select(inner).where(or_(flagged, busy_day, _judged_again(inner, "p_", "f_")) if arrival else or_(flagged, busy_day))


@dataclass(frozen=True)
class _Scan:
    """One scan as a rule sees it (a row's own columns, or the lagged ones of its predecessor)."""

    at: datetime
    station_id: int
    place: Place
    counter: int | None


def _scan(row: Any, prefix: str = "", now: _Scan | None = None) -> _Scan | None:
    """The row's scan (prefix ""), or its predecessor in one window (prefix "p_", "c_", "f_") when
    it is within HORIZON of `now`."""
    at = getattr(row, prefix + "at")
    if at is None or (now is not None and now.at - at > HORIZON):
        return None
    # A window without places or counters (c_, f_) has no such column.
    place = (getattr(row, prefix + "lat", None), getattr(row, prefix + "lon", None))
    return _Scan(at, getattr(row, prefix + "station_id"), place, getattr(row, prefix + "counter", None))


def _judge_tag(row: Any, reckoning: Reckoning, findings: _Findings) -> None:
    here = _scan(row)
    assert here is not None, "a scan has a time"
    slot = str(row.event_uuid)
    if row.new or row.p_new:
        before = _scan(row, "p_", here)
        findings.judge("impossible_travel", "tag_uid", row, slot, here, before, _travel(here, before, reckoning), bool(row.p_new))
    if here.counter is not None and (row.new or row.c_new):
        before = _scan(row, "c_", here)
        facts = counter_facts(here.counter, before.counter) if before and before.counter is not None else None
        findings.judge("counter_not_increasing", "tag_uid", row, slot, here, before, facts, bool(row.c_new))


def _judge_cylinder(row: Any, reckoning: Reckoning, findings: _Findings) -> None:
    here = _scan(row)
    assert here is not None, "a scan has a time"
    slot = str(row.event_uuid)
    if row.new or row.p_new:
        before = _scan(row, "p_", here)
        facts = _travel(here, before, reckoning)
        findings.judge("impossible_travel", "cylinder_id", row, slot, here, before, facts, bool(row.p_new))
    if not row.fill:
        return
    before = _scan(row, "f_", here)
    if row.new or row.f_new:
        facts = fill_gap_facts((here.at - before.at).total_seconds()) if before else None
        findings.judge("fills_within_hour", "cylinder_id", row, slot, here, before, facts, bool(row.f_new))
    if row.day_rank == 1 and row.day_new:
        day = date.fromisoformat(str(row.day)[:10])
        # A day's count only grows: a day once suspect stays so, nothing to clear.
        findings.judge(
            "too_many_fills_per_day",
            "cylinder_id",
            row,
            day.isoformat(),
            here,
            before,
            fill_count_facts(row.day_fills, day),
            False,
        )


_JUDGES = {"tag_uid": _judge_tag, "cylinder_id": _judge_cylinder}


def _travel(here: _Scan, before: _Scan | None, reckoning: Reckoning) -> dict[str, Fact] | None:
    if before is None or before.station_id == here.station_id:
        return None
    return travel_facts(here.place, before.place, (here.at - before.at).total_seconds(), reckoning.max_speed_kmh)


_SUSPECT_KEY = ("kind", "key_type", "key", "slot")


@dataclass
class _Findings:
    """Suspects found and suspects no longer so, stored together at the end."""

    clearing: bool  # False when everything was forgotten first: nothing to clear
    found: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    cleared: set[tuple[str, str, str, str]] = field(default_factory=set)
    fresh: set[tuple[str, str, str, str]] = field(default_factory=set)  # found on a new scan: a case

    def judge(
        self,
        kind: str,
        key_type: str,
        row: Any,
        slot: str,
        here: _Scan,
        before: _Scan | None,
        facts: Mapping[str, Fact] | None,
        predecessor_changed: bool,
    ) -> None:
        ident = (kind, key_type, row.key, slot)
        if facts is None:
            # A stored scan whose predecessor is new may have been a suspect against the old one.
            if self.clearing and predecessor_changed:
                self.cleared.add(ident)
            return
        if row.new:
            self.fresh.add(ident)
        self.found[ident] = {
            "kind": kind,
            "key_type": key_type,
            "key": row.key,
            "slot": slot,
            "event_uuid": row.event_uuid,
            "at": here.at,
            "station_id": here.station_id,
            "previous_at": before.at if before else None,
            "previous_station_id": before.station_id if before else None,
            "facts": {name: value.isoformat() if isinstance(value, date) else value for name, value in facts.items()},
        }

    def store(self, session: Session) -> None:
        # Key order: two uploads touching the same suspects lock them in the same order.
        gone = sorted(self.cleared - self.found.keys())
        if gone:
            key = tuple_(*(CloneSuspect.__table__.c[name] for name in _SUSPECT_KEY))
            session.execute(delete(CloneSuspect).where(key.in_(gone)))
        rows = [self.found[ident] for ident in sorted(self.found)]
        if not rows:
            return
        if session.get_bind().dialect.name == "postgresql":
            # The rows as one JSON document that PostgreSQL unpacks: binding ten values a row in
            # Python costs more than the upsert itself (as for scan events, services/events.py).
            session.connection().exec_driver_sql(_PG_UPSERT, {"rows": json_document(rows)})
            return
        statement = upsert(session, CloneSuspect)
        statement = statement.on_conflict_do_update(index_elements=list(_SUSPECT_KEY), set_=_replaced(statement.excluded))
        many_rows(session, statement.returning(CloneSuspect.kind), rows)


_COLUMNS = [column.name for column in CloneSuspect.__table__.columns]
_PG_UPSERT = (
    f"INSERT INTO clone_suspects ({', '.join(_COLUMNS)}) "
    f"SELECT {', '.join(_COLUMNS)} FROM json_populate_recordset(NULL::clone_suspects, %(rows)s::json) "
    f"ORDER BY {', '.join(_SUSPECT_KEY)} "
    f"ON CONFLICT ({', '.join(_SUSPECT_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS if name not in _SUSPECT_KEY)
)


def _replaced(excluded: Any) -> dict[str, Any]:
    return {name: excluded[name] for name in _COLUMNS if name not in _SUSPECT_KEY}


# The former detector: the rules over one window's scans, on every request ----------------------


def detect_in_window(
    session: Session, flt: EventFilter, now: datetime, max_speed_kmh: float, utc_offset_hours: int, limit: int
) -> list[Suspect]:
    """The newest `limit` suspects among the filter's scans, found now (window functions over every
    scan of the period): what find_suspects answered before suspects were stored."""
    # Window functions over every scan of the period: default to one day, not the lists' seven.
    cond = conditions(session, flt, now, default_range=DEFAULT_CLONE_RANGE)
    if cond.empty:
        return []
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
    suspects.sort(key=lambda s: s.at, reverse=True)
    return suspects[:limit]


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
) -> list[Suspect]:
    lagged = _lagged(session, where, key_name)
    rows = session.execute(select(lagged).where(lagged.c.prev_station.is_not(None), lagged.c.prev_station != lagged.c.station_id))
    found = []
    for row in rows:
        here, there = stations[row.station_id], stations[row.prev_station]
        facts = travel_facts((here[1], here[2]), (there[1], there[2]), (row.occurred_at - row.prev_at).total_seconds(), max_speed)
        if facts is not None:
            found.append(_suspect("impossible_travel", key_name, row, stations, facts))
    return found


def _counter_anomalies(session: Session, where: list[Any], stations: dict[int, Any]) -> list[Suspect]:
    lagged = _lagged(session, [*where, ScanEvent.read_counter.is_not(None)], "tag_uid")
    rows = session.execute(
        select(lagged).where(lagged.c.prev_counter.is_not(None), lagged.c.read_counter <= lagged.c.prev_counter)
    )
    return [
        _suspect("counter_not_increasing", "tag_uid", row, stations, {"now": row.read_counter, "before": row.prev_counter})
        for row in rows
    ]


def _fill_frequency(session: Session, where: list[Any], stations: dict[int, Any], utc_offset_hours: int) -> list[Suspect]:
    fills = [*where, ScanEvent.outcome.in_(FILL_OUTCOMES)]
    lagged = _lagged(session, fills, "cylinder_id", local_day(session, utc_offset_hours).label("day"))
    found = []
    per_day: Counter[tuple[str, Any]] = Counter()
    last_of_day: dict[tuple[str, Any], Any] = {}
    for row in session.execute(select(lagged)):
        per_day[(row.key, row.day)] += 1
        last_of_day[(row.key, row.day)] = row
        if row.prev_at is not None:
            facts = fill_gap_facts((row.occurred_at - row.prev_at).total_seconds())
            if facts is not None:
                found.append(_suspect("fills_within_hour", "cylinder_id", row, stations, facts))
    for (key, day), count in per_day.items():
        day_facts = fill_count_facts(count, date.fromisoformat(str(day)[:10]))
        if day_facts is not None:
            found.append(_suspect("too_many_fills_per_day", "cylinder_id", last_of_day[(key, day)], stations, day_facts))
    return found


def _suspect(kind: str, key_name: str, row: Any, stations: dict[int, Any], facts: Mapping[str, Fact]) -> Suspect:
    return Suspect(
        kind=kind,
        key_type=key_name,
        key=row.key,
        at=row.occurred_at,
        station=stations[row.station_id][0],
        previous_at=row.prev_at,
        previous_station=stations[row.prev_station][0] if row.prev_station in stations else None,
        event_id=str(row.event_uuid),
        facts=facts,
    )
