"""The station fleet against one registry: registry requests per scan, registry CPU per scan, how long
a revocation takes to reach every station, and the national status list's size and load time.

    .venv/bin/python bench/bench_fleet.py [--quick] [--stations 200] [--compression 15] [--intervals 4] [--heartbeat-s 60]

One real registry (`cylinder-registry serve`, waitress, on a throw-away PostgreSQL database) and
the real list signer (`cylinder-signer serve`); in this process, N stations, each a real Agent made
by station_agent.cli.build_agent (its own SQLite outbox, TrustCache, HttpRegistryClient and
SyncWorker thread) with the `log:` interlock. Every scan is a signed record handed to
Agent.handle(), then the attendant ends the fill. Requests are counted in a thin wrapper around the
agent's own HttpRegistryClient (failed ones too).

Time is compressed by --compression C: every station interval of the agent's configuration
(sync interval, upload debounce, back-off, heartbeat) is divided by C, scans arrive C times faster, and
durations measured between stations and registry are multiplied by C to give real-world seconds.
Arrivals are Poisson, 2,000 scans per station per day, on a daily profile with a morning and an
evening peak. This machine cannot run a few hundred stations through a whole day each (that is
600,000 scans), so each station lives a window of the day and the windows are staggered across
the 24 hours: together they cover every hour of the day evenly, and the counts per scan and per
station-day are over all of them. Per-station ratios (scans per sync interval, per debounce) are
those of the real day; the registry sees the fleet's scans flattened over the day, not its peaks.
Each station has synced once before its window (not counted) and starts at a random phase of its
sync interval, as in a fleet that has been running; its window is a whole number of intervals.

Revocation: once every station runs, a cylinder is revoked in the registry and the status list is
published at once through the signer (the code `serve`'s publisher runs); the stations' caches are
polled until each holds it. `revocation_reach_s` = the publisher's wait (none: a revocation wakes
it) + the publication + the slowest station's propagation x C. The JSON feed's reach
for the same revocation is reported too.

Heartbeats (every `--heartbeat-s`, default the agent's 60 s) ride on a status request or an upload
when one goes anyway; those sent alone are requests like any other and count in requests_per_scan.
`peak_hours` counts the same requests for the stations whose window fell in the peak hours only
(scans arriving at 1.5 times the day's average rate or more): a busy pump's heartbeat rides on a
read, so these are the shares the registry sees when it is busiest (bench_registry_ingest.py
--peak-hours replays them).

Registry CPU: user+system time of the `serve` process and of the PostgreSQL backends connected to
its database, from /proc, per 1,000 scans and per station-day; the load generator's own CPU is
reported apart. The 10 M-cylinder
status list is measured by bench_status_list.measure() in a child process during the set-up.

Baselines in the same run: the same fleet with uploads not coalesced (upload_debounce 0, measured),
and the old behaviour before issue 11 on the same arrivals (computed: every read woke the sync
thread, which uploaded and synced the trust list and revocations: 4 requests per read, plus 2 per
idle sync interval). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import child_server, free_port, registry_server_argv, scratch_database
from bench_status_list import measure as measure_status_list
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from registry_service import migrate
from registry_service.config import RegistryConfig
from registry_service.db import make_engine, make_session_factory, run_in_transaction
from registry_service.models import Role
from registry_service.models.cylinders import RevocationKind
from registry_service.services import accounts, cylinders, places, status_lists, trust
from station_agent import sync as station_sync
from station_agent.agent import Agent
from station_agent.cli import build_agent
from station_agent.config import RegistrySettings, parse_config
from station_agent.errors import RegistryRejected, RegistryUnavailable
from station_agent.registry_client import RegistryClient
from station_agent.tagsource import FakeTagSource, TagReading
from tag_tools.claims import CylinderId, StatusReference
from tag_tools.status_list import StatusValue
from tag_tools.verdict import ChipEvidence, Originality
from tests.list_signer.conftest import SignerFiles, start_signer
from tests.testkit import TestPki

DAY_S = 86_400.0
SCANS_PER_STATION_DAY = 2_000
GOAL_REQUESTS_PER_SCAN = 1.2
GOAL_REACH_BEYOND_SYNC_S = 60.0
STATION = RegistrySettings()  # the agent's real-world defaults, compressed for the run
# `serve`'s publisher is woken by a revocation committed through the API (Registry.revoked), so it
# does not wait out its interval; the bench publishes right after revoking, as that wake-up does.
PUBLISHER_WAIT_S = 0.0
OLD_REQUESTS_PER_READ = 4  # status, upload, trust list, revocations (issue 11; SyncWorker at d78eb8a)
OLD_REQUESTS_PER_IDLE_SYNC = 2  # trust list, revocations
OLD_SYNC_INTERVAL_S = 60.0  # the agent's default sync interval then
REVOKED = (StatusValue.REVOKED_STOLEN, StatusValue.REVOKED_SCRAPPED)
# Which measured path `revocation_reach_s` reports: "status_list" (the signed list, issue 11) or
# "revocation_feed" (GET /revocations, for records without a status index). Both are measured.
REVOCATION_PATH = "status_list"
TRUST_LIST_EVERY: int = getattr(station_sync, "TRUST_LIST_EVERY", 1)  # the agent fetches the trust list every n-th sync
log = logging.getLogger("bench_fleet")


@dataclass(frozen=True)
class Shape:
    """How the fleet is simulated. Each station's window is a whole number of sync intervals, so
    the sync it makes on starting stands for the one a running station makes once per interval."""

    stations: int
    compression: float
    intervals: int  # sync intervals per station window, main run
    baseline_intervals: int
    workers: int = 32
    heartbeat_s: float = STATION.heartbeat.total_seconds()  # real-world seconds between heartbeats

    def window_s(self, intervals: int) -> float:
        """Simulated seconds of the day each station lives."""
        return intervals * STATION.sync_interval.total_seconds()

    def seconds(self, intervals: int) -> float:
        """Real seconds of `intervals` sync intervals."""
        return self.scaled(self.window_s(intervals))

    def scaled(self, real_world_s: float) -> float:
        return real_world_s / self.compression


QUICK = Shape(stations=30, compression=100, intervals=2, baseline_intervals=1)
# 300 stations at compression 15 overloaded this shared 2-core machine (scans handed over up to 8 s
# late, two simulated minutes); 200 keep the lag well below the upload debounce.
FULL = Shape(stations=200, compression=15, intervals=4, baseline_intervals=1)


# -- arrivals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyProfile:
    """Share of a day's scans by time of day: a floor plus a morning and an evening peak."""

    floor: float = 0.3
    peaks: tuple[tuple[float, float, float], ...] = ((8.0, 1.5, 0.35), (18.0, 2.0, 0.35))  # (hour, sigma h, share)

    def density(self, second_of_day: float) -> float:
        """Per second; integrates to 1 over a day."""
        hour = (second_of_day % DAY_S) / 3600
        value = self.floor / 24
        for centre, sigma, share in self.peaks:
            distance = min(abs(hour - centre), 24 - abs(hour - centre))
            value += share * math.exp(-distance * distance / (2 * sigma * sigma)) / (sigma * math.sqrt(2 * math.pi))
        return value / 3600

    def peak_density(self) -> float:
        return max(self.density(minute * 60.0) for minute in range(1440)) * 1.01

    def arrivals(self, rng: random.Random, start_s: float, length_s: float, per_day: float) -> list[float]:
        """Poisson arrivals (simulated seconds after `start_s`) by thinning a constant-rate process."""
        top = per_day * self.peak_density()
        times: list[float] = []
        t = 0.0
        while True:
            t += rng.expovariate(top)
            if t >= length_s:
                return times
            if rng.random() * top < per_day * self.density(start_s + t):
                times.append(t)


START, SCAN, STOP = 0, 1, 2
# Stations start at a random phase of the first sync interval, as in a fleet that has been running
# for a while, but not in its first 20 %: each must still run 1.1 intervals after the revocation.
FIRST_PHASE = 0.2
REVOKE_AT = 1.05  # sync intervals after the run starts: every station has started and synced


@dataclass(frozen=True, order=True)
class Event:
    real_offset_s: float
    kind: int  # START, SCAN or STOP
    station: int
    vehicle: int = 0


@dataclass(frozen=True)
class Plan:
    events: list[Event]
    arrivals: list[list[float]]  # per station, simulated seconds from its start
    window_s: float
    starts_s: list[float]  # per station, the second of the day its window begins

    @property
    def scans(self) -> int:
        return sum(map(len, self.arrivals))


def plan(shape: Shape, intervals: int, vehicles: int, seed: int) -> Plan:
    """Each station starts at its phase, lives `intervals` sync intervals of a window of the day that
    begins at a staggered time of day, and stops; scans draw vehicles 1.. (0 is the revoked one)."""
    rng = random.Random(seed)
    profile = DailyProfile()
    interval = STATION.sync_interval.total_seconds()
    window = shape.window_s(intervals)
    events, arrivals, starts = [], [], []
    for station in range(shape.stations):
        phase = rng.uniform(FIRST_PHASE, 1.0) * interval
        starts.append((station + rng.random()) * DAY_S / shape.stations)
        times = profile.arrivals(rng, starts[-1], window, SCANS_PER_STATION_DAY)
        arrivals.append(times)
        events.append(Event(shape.scaled(phase), START, station))
        events += [Event(shape.scaled(phase + t), SCAN, station, rng.randrange(1, vehicles)) for t in times]
        events.append(Event(shape.scaled(phase + window), STOP, station))
    return Plan(sorted(events), arrivals, window, starts)


def old_behaviour_requests(arrivals: list[list[float]], window_s: float) -> int:
    """The pre-issue-11 agent on the same arrivals: 4 requests per read, and while idle a trust
    and revocation sync each time its 60 s wait ran out (a read restarted the wait)."""
    total = 0
    for times in arrivals:
        edges = [0.0, *times, window_s]
        total += OLD_REQUESTS_PER_READ * len(times)
        total += OLD_REQUESTS_PER_IDLE_SYNC * sum(int((b - a) // OLD_SYNC_INTERVAL_S) for a, b in itertools.pairwise(edges))
    return total


# -- counting the agent's requests ---------------------------------------------------------------


class Tally:
    """Registry requests by (kind, outcome); outcome `idle` is a request whose answer carried nothing
    new (a 304 or an empty revocation page). `riding` counts heartbeats the registry recorded from a
    request made anyway, by that request's kind: not requests of their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Per station, so that the peak hours' shares (peak_hours) can be those of the stations
        # whose window falls in them; the run's figures sum over the stations (Counts.overall).
        self.counts: Counter[tuple[int, str, str]] = Counter()  # (station, kind, outcome)
        self.downloaded: Counter[str] = Counter()  # signed list bytes (trust list, status lists)
        self.riding: Counter[tuple[int, str]] = Counter()  # (station, kind)

    def add(self, station: int, kind: str, outcome: str, blob_bytes: int = 0, heartbeat_rode: bool = False) -> None:
        with self._lock:
            self.counts[(station, kind, outcome)] += 1
            self.downloaded[kind] += blob_bytes
            self.riding[(station, kind)] += heartbeat_rode

    def take(self) -> Counts:
        with self._lock:
            taken = Counts(self.counts, self.downloaded, self.riding)
            self.counts, self.downloaded, self.riding = Counter(), Counter(), Counter()
        return taken


@dataclass(frozen=True)
class Counts:
    """What a Tally counted; `overall(stations)` sums the chosen stations (all when None)."""

    by_station: Counter[tuple[int, str, str]]
    downloaded: Counter[str]
    riding_by_station: Counter[tuple[int, str]]

    def overall(self, stations: set[int] | None = None) -> tuple[Counter[tuple[str, str]], Counter[str]]:
        """(kind, outcome) -> requests and kind -> heartbeats riding, over `stations`."""
        counts: Counter[tuple[str, str]] = Counter()
        riding: Counter[str] = Counter()
        for (station, kind, outcome), n in self.by_station.items():
            if stations is None or station in stations:
                counts[(kind, outcome)] += n
        for (station, kind), n in self.riding_by_station.items():
            if stations is None or station in stations:
                riding[kind] += n
        return counts, riding


# Answers that carry nothing new: the request only showed the station is alive.
IDLE_ANSWER: dict[str, Callable[[Any], bool]] = {
    "trust_list": lambda answer: answer is None,  # 304
    "status_list": lambda answer: answer is None,  # 304
    "revocations": lambda answer: not answer.get("revocations"),  # an empty page
}
NOT_REQUESTS = frozenset({"close"})


def heartbeat_rode(name: str, kwargs: dict[str, Any], answer: Any) -> bool:
    """Whether a request made anyway carried a heartbeat the registry recorded: a status request's
    answer says "recorded"; an upload that succeeded stored it (a bad one refuses the upload)."""
    if kwargs.get("heartbeat") is None:
        return False
    return name == "upload" or getattr(answer, "heartbeat", None) == "recorded"


class CountingClient:
    """The agent's own HttpRegistryClient with every request counted by method name; any method
    the client grows is counted too. Nothing else changes."""

    def __init__(self, inner: Any, tally: Tally, station: int) -> None:
        self.inner = inner
        self.tally = tally
        self.station = station

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name.startswith("_") or name in NOT_REQUESTS or not callable(method):
            return method
        idle = IDLE_ANSWER.get(name, lambda answer: False)

        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                answer = method(*args, **kwargs)
            except RegistryUnavailable:
                self.tally.add(self.station, name, "unavailable")
                raise
            except RegistryRejected:
                self.tally.add(self.station, name, "rejected")
                raise
            blob = getattr(answer, "blob", b"")
            size = len(blob) if isinstance(blob, bytes) else 0
            self.tally.add(self.station, name, "idle" if idle(answer) else "ok", size, heartbeat_rode(name, kwargs, answer))
            return answer

        return counted


# -- the registry ------------------------------------------------------------------------------


@dataclass
class World:
    """What the registry holds for the run, and the tags the stations read."""

    sessions: sessionmaker[Session]
    station_codes: list[str]
    station_tokens: list[str]
    centre_token: str
    pki: TestPki
    tags: list[tuple[bytes, bytes, str, int]]  # uid, NDEF message, cylinder id, status index


def seed(database_url: str, pki: TestPki, stations: int) -> World:
    """Stations with tokens, centre ZZTJ01 with a token, and a trust list naming the list signer."""
    engine = make_engine(RegistryConfig(database_url=database_url))
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)

    def work(s: Session) -> tuple[list[str], list[str], str]:
        city = places.ensure_region(s, "4101", "郑州市")
        places.ensure_region(s, "410105", "金水区", city)
        trust.publish(s, "bench", now, pki.signed_trust_list(), pki.root_certificate_pem)  # creates the centre
        accounts.create_user(s, "bench", now, username="centre", role=Role.CENTRE, centre_code="ZZTJ01")
        centre = accounts.issue_token(s, "bench", now, username="centre").token
        codes, tokens = [], []
        for index in range(stations):
            code = f"ST-FL-{index:04d}"
            places.create_station(s, "bench", now, code=code, name=f"fleet {index}", region_code="410105", pumps=1)
            accounts.create_user(s, "bench", now, username=f"u-{code}", role=Role.STATION, station_code=code)
            codes.append(code)
            tokens.append(accounts.issue_token(s, "bench", now, username=f"u-{code}").token)
        return codes, tokens, centre

    codes, tokens, centre = run_in_transaction(sessions, work)
    return World(sessions, codes, tokens, centre, pki, [])


def post_json(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def inspect_cylinders(world: World, api: str, count: int) -> None:
    """The centre allocates a block of status indexes and uploads one signed record per cylinder,
    through the API: the registry then holds every cylinder, its vehicle and its status entry."""
    block = post_json(f"{api}/centres/ZZTJ01/status-indexes", world.centre_token, {"count": count})
    for n in range(count):
        uid = bytes.fromhex("04F1") + n.to_bytes(5, "big")
        claims: dict[str, Any] = {
            "cylinder_id": CylinderId(156, 4101, 40_000_000 + n),
            "plate": f"豫F{n:05d}",
            "vin": f"LFV2A21K{n:09d}",
            "report_number": f"FL-{n:06d}",
            "status_ref": StatusReference(block["list_id"], block["first"] + n),
        }
        world.tags.append((uid, world.pki.ndef_message(uid, **claims), str(claims["cylinder_id"]), block["first"] + n))

    def upload(tag: tuple[bytes, bytes, str, int]) -> None:
        post_json(f"{api}/inspections", world.centre_token, {"record": base64.b64encode(tag[1]).decode()})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(upload, world.tags))


class CpuMeter:
    """CPU seconds of the registry process and of the PostgreSQL backends connected to its
    database (sampled twice a second, so a backend that exits keeps its last reading). PostgreSQL's
    shared background processes (WAL writer, checkpointer, autovacuum) are not included."""

    def __init__(self, pid: int, database_url: str) -> None:
        import psycopg

        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")
        url = make_url(database_url)
        self._db = psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password, dbname=url.database, autocommit=True
        )
        self._seen: dict[int, float] = {}
        self._base: tuple[float, dict[int, float]] = (0.0, {})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _cpu(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def _sample(self) -> None:
        pids = [
            row[0]
            for row in self._db.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        for pid in pids:
            cpu = self._cpu(pid)
            if cpu is not None:
                self._seen[pid] = cpu

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def start(self) -> None:
        self._sample()
        self._base = (self._cpu(self.pid) or 0.0, dict(self._seen))

    def read(self) -> tuple[float, float]:
        """(registry process, its database backends) since start()."""
        self._sample()
        registry = (self._cpu(self.pid) or 0.0) - self._base[0]
        database = sum(cpu - self._base[1].get(pid, 0.0) for pid, cpu in self._seen.items())
        return registry, database

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._db.close()


# -- the stations ------------------------------------------------------------------------------


def build_station(folder: Path, world: World, index: int, api: str, shape: Shape, debounce_s: float, tally: Tally) -> Agent:
    """One station exactly as `station-agent run` wires it, with the intervals compressed."""
    document: dict[str, Any] = {
        "station": {"code": world.station_codes[index], "pump": 1, "state_dir": str(folder / f"s{index}")},
        "reader": {"path": "none:"},
        "interlock": {"path": "log:"},
        "trust": {"root_certificate": str(folder / "root.pem"), "initial_trust_list": str(folder / "trust-1.cwt")},
        "policy": {"min_refill_interval_min": 0},
        "registry": {
            "url": api,
            "token": world.station_tokens[index],
            "budget_ms": 1000,
            "sync_interval_s": shape.scaled(STATION.sync_interval.total_seconds()),
            "upload_debounce_s": shape.scaled(debounce_s),
            "max_backoff_s": shape.scaled(STATION.max_backoff.total_seconds()),
            # The configuration's range is 1-3600 s; --quick's compression (60 s / 100) goes below it,
            # so the worker's interval is set to the compressed value itself just below.
            "heartbeat_s": min(max(shape.scaled(shape.heartbeat_s), 1.0), 3600.0),
        },
    }
    agent = build_agent(parse_config(document), source=FakeTagSource())
    assert agent.sync is not None
    agent.sync.heartbeat_s = shape.scaled(shape.heartbeat_s)
    counting = cast(RegistryClient, CountingClient(agent.sync.client, tally, index))
    agent.sync.client = counting
    agent.assessor.client = counting
    agent.echo = lambda line: None
    return agent


@contextmanager
def fleet(folder: Path, world: World, api: str, shape: Shape, debounce_s: float, tally: Tally) -> Iterator[list[Agent]]:
    """The stations, built and synced once (not counted) but not started: drive() starts each at
    its phase (its first sync then stands for the one a running station makes each interval) and
    stops it at the end of its window."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root.pem").write_bytes(world.pki.root_certificate_pem)
    (folder / "trust-1.cwt").write_bytes(world.pki.trust_list_bytes)  # the list a box ships with; the registry has a newer one
    agents = [build_station(folder, world, i, api, shape, debounce_s, tally) for i in range(shape.stations)]
    try:
        rng = random.Random(len(agents))
        for agent in agents:
            # A station that has been running holds the lists and their ETags, and is somewhere in
            # its cycle of trust list fetches (one sync in TRUST_LIST_EVERY): not counted.
            assert agent.sync is not None
            for _ in range(1 + rng.randrange(TRUST_LIST_EVERY)):
                agent.sync.sync_trust()
        tally.take()
        yield agents
    finally:
        for agent in agents:
            agent.stop()
            agent.outbox.close()
            if agent.sync is not None:
                agent.sync.client.inner.close()  # type: ignore[attr-defined]


def pending_events(agents: list[Agent]) -> int:
    return sum(len(agent.outbox.unsent(1000)) for agent in agents)


@dataclass
class ScanStats:
    scans: int = 0
    online: int = 0
    decisions: Counter[str] | None = None
    refusals: Counter[str] | None = None
    lag_s: list[float] | None = None
    handle_s: list[float] | None = None


def drive(agents: list[Agent], world: World, events: list[Event], workers: int) -> ScanStats:
    """Start each station, hand it its scans and stop it, each at its time; the attendant ends the
    fill after each read."""
    stats = ScanStats(decisions=Counter(), refusals=Counter(), lag_s=[], handle_s=[])
    lock = threading.Lock()
    pumps = [threading.Lock() for _ in agents]  # one pump per station: a vehicle at a time
    counters = [itertools.count(100) for _ in world.tags]

    def scan(event: Event, due: float) -> None:
        began = time.monotonic()
        uid, message, _, _ = world.tags[event.vehicle]
        agent = agents[event.station]
        chip = ChipEvidence(Originality.GENUINE, "NTAG215", next(counters[event.vehicle]))
        with pumps[event.station]:
            result = agent.handle(TagReading(uid, message, chip, time.perf_counter()))
            agent.end_fill()
        with lock:
            stats.scans += 1
            stats.online += result.online
            stats.decisions[result.decision] += 1  # type: ignore[index]
            if result.decision == "refuse":
                stats.refusals.update(result.reasons)  # type: ignore[union-attr]
            stats.lag_s.append(began - due)  # type: ignore[union-attr]
            stats.handle_s.append(time.monotonic() - began)  # type: ignore[union-attr]

    start = time.monotonic()
    with ThreadPoolExecutor(workers, thread_name_prefix="attendant") as pool:
        for event in events:
            due = start + event.real_offset_s
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if event.kind == START:
                agents[event.station].start()
            elif event.kind == SCAN:
                pool.submit(scan, event, due)
            else:
                pool.submit(agents[event.station].stop)
    return stats


# -- revocation reach --------------------------------------------------------------------------


def revoke_and_watch(
    world: World, agents: list[Agent], tag: tuple[bytes, bytes, str, int], signer: Any, shape: Shape
) -> dict[str, Any]:
    """Revoke a cylinder in the registry, publish the status list as `serve`'s publisher would, and
    time until every online station holds the revocation (signed list, and JSON feed)."""
    _, _, cylinder_id, index = tag
    online = [i for i, a in enumerate(agents) if a.sync is not None and a.sync.status.online]
    run = _runner(world.sessions)
    run(lambda s: cylinders.revoke(s, "bench", datetime.now(UTC), cylinder_id, RevocationKind.STOLEN, "fleet bench"))
    committed = time.monotonic()
    outcome = status_lists.publish(run, signer, 0, datetime.now(UTC))
    published = time.monotonic()
    feed: dict[int, float] = {}
    listed: dict[int, float] = {}
    deadline = published + shape.scaled(2 * STATION.sync_interval.total_seconds()) + 5
    while (len(feed) < len(online) or len(listed) < len(online)) and time.monotonic() < deadline:
        now = time.monotonic()
        for i in online:
            cache = agents[i].cache
            if i not in feed and cache.revocations.cylinder_revocation(cylinder_id) is not None:
                feed[i] = now
            held = cache.status_lists.lists.get(0)
            if i not in listed and held is not None and index < len(held) and held.status(index) in REVOKED:
                listed[i] = now
        time.sleep(0.005)
    publish_s = published - committed
    list_reach = (
        PUBLISHER_WAIT_S + publish_s + (max(listed.values()) - published) * shape.compression
        if len(listed) == len(online)
        else None
    )
    feed_reach = (max(feed.values()) - committed) * shape.compression if len(feed) == len(online) else None
    return {
        "online_stations": len(online),
        "reached_status_list": len(listed),
        "reached_feed": len(feed),
        "publish_outcome": outcome.result,
        "publish_s": round(publish_s, 3),
        "publisher_wait_assumed_s": PUBLISHER_WAIT_S,
        "status_list_reach_s": _round(list_reach),
        "status_list_propagation_s": _round((max(listed.values()) - published) * shape.compression if listed else None),
        "feed_reach_s": _round(feed_reach),
    }


def _runner(sessions: sessionmaker[Session]) -> status_lists.Runner:
    def run(work: Callable[[Session], Any]) -> Any:
        return run_in_transaction(sessions, work)

    return run


def _round(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


# -- one measured run --------------------------------------------------------------------------


# A station's window is in the peak hours when its scans arrive at least this many times the day's
# average rate (DailyProfile: about 6:30-9:30 and 16:00-20:00; the morning peak is 2.5 times it).
PEAK_FACTOR = 1.5


def peak_hours(schedule: Plan, taken: Counts) -> dict[str, Any]:
    """Requests per scan of the stations whose window fell in the peak hours: the shape the
    registry sees when it is busiest. A heartbeat goes alone from an idle pump, so the day's
    average (the run's figures) has more of them per scan than the peak."""
    # By the profile's rate over the window, not by the scans drawn: picking the windows that
    # happened to draw more scans would pick fewer idle gaps, and fewer heartbeats alone.
    profile = DailyProfile()
    window = schedule.window_s

    def rate_over_window(start_s: float) -> float:
        return statistics.fmean(profile.density(start_s + window * (k + 0.5) / 12) for k in range(12))

    peak = [station for station, start_s in enumerate(schedule.starts_s) if rate_over_window(start_s) * DAY_S >= PEAK_FACTOR]
    scans = sum(len(schedule.arrivals[station]) for station in peak)
    if not scans:
        return {"stations": 0, "scans": 0}
    counts, rode = taken.overall(set(peak))
    kinds: Counter[str] = Counter()
    for (kind, _), n in counts.items():
        kinds[kind] += n
    return {
        "stations": len(peak),
        "scans": scans,
        "scans_per_station_hour": round(scans / (len(peak) * schedule.window_s / 3600), 1),
        "requests_per_scan": round(sum(kinds.values()) / scans, 3),
        "requests_by_kind_per_scan": {kind: round(n / scans, 3) for kind, n in sorted(kinds.items())},
        "heartbeats_alone_per_scan": round(kinds["heartbeat"] / scans, 3),
        "heartbeats_riding_per_scan": round(rode["status_with_events"] / scans, 3),
    }


def measure_fleet(
    folder: Path,
    world: World,
    api: str,
    shape: Shape,
    intervals: int,
    debounce_s: float,
    meter: CpuMeter,
    seed_: int,
    revoke: Callable[[list[Agent]], dict[str, Any]] | None,
) -> dict[str, Any]:
    tally = Tally()
    schedule = plan(shape, intervals, len(world.tags), seed_)
    window_s = schedule.window_s
    with fleet(folder, world, api, shape, debounce_s, tally) as agents:
        meter.start()
        own = os.times()
        reach: dict[str, Any] = {}
        watcher = None
        if revoke is not None:
            watcher = threading.Timer(
                shape.scaled(REVOKE_AT * STATION.sync_interval.total_seconds()), lambda: reach.update(revoke(agents))
            )
            watcher.start()
        stats = drive(agents, world, schedule.events, shape.workers)
        # Each station's window ends when it stops: events still waiting for a ride or their
        # debounce would go up in the next window, as the previous window's would have in this one.
        taken = tally.take()
        registry_cpu, database_cpu = meter.read()
        own_after = os.times()
        pending = pending_events(agents)
        if watcher is not None:
            watcher.join()
    counts, riding = taken.overall()
    downloaded = taken.downloaded
    station_days = shape.stations * window_s / DAY_S
    total = sum(counts.values())
    by_kind: dict[str, dict[str, int]] = {}
    for (kind, outcome), n in sorted(counts.items()):
        by_kind.setdefault(kind, {})[outcome] = n
    idle = sum(n for (_, outcome), n in counts.items() if outcome == "idle")
    alone = sum(n for (kind, _), n in counts.items() if kind == "heartbeat")
    registry_cpu_s = registry_cpu + database_cpu
    failed = sum(n for (_, outcome), n in counts.items() if outcome in ("unavailable", "rejected"))
    lag = sorted(stats.lag_s or [0.0])
    handle = sorted(stats.handle_s or [0.0])
    return {
        "scans": stats.scans,
        "scheduled_scans": schedule.scans,
        "events_pending_at_end": pending,
        "station_days": round(station_days, 2),
        "scans_per_station_day": round(stats.scans / station_days, 1),
        "requests": total,
        "requests_failed": failed,
        "requests_per_scan": round(total / stats.scans, 3),
        "requests_by_kind_per_scan": {k: round(sum(v.values()) / stats.scans, 3) for k, v in by_kind.items()},
        "requests_by_kind": by_kind,
        # Heartbeats sent alone (POST /stations/{code}/heartbeats), failed ones too: requests.
        "heartbeat_requests_per_station_day": round(alone / station_days, 1),
        # Recorded from a status request or an upload made anyway: no request of their own.
        "status_riding_heartbeats_per_station_day": round(riding["status_with_events"] / station_days, 1),
        "upload_riding_heartbeats_per_station_day": round(riding["upload"] / station_days, 1),
        "heartbeat_interval_s": shape.heartbeat_s,
        # Requests whose answer carried nothing new (304s, empty revocation pages).
        "idle_requests_per_station_day": round(idle / station_days, 1),
        "list_bytes_downloaded_per_station_day": {k: round(v / station_days) for k, v in downloaded.items() if v},
        "registry_cpu_s_per_1000_scans": round(registry_cpu_s / stats.scans * 1000, 3),
        "registry_cpu_s_per_station_day": round(registry_cpu_s / station_days, 1),
        "registry_process_cpu_s": round(registry_cpu, 2),
        "registry_database_cpu_s": round(database_cpu, 2),
        "load_generator_cpu_s_per_1000_scans": round(
            (own_after.user + own_after.system - own.user - own.system) / stats.scans * 1000, 3
        ),
        "decided_online_share": round(stats.online / stats.scans, 4),
        "decisions": dict(stats.decisions or {}),
        "refusal_reasons": dict(stats.refusals or {}),
        "arrival_lag_p99_ms": round(lag[int(0.99 * (len(lag) - 1))] * 1000, 1),
        # Above a few simulated seconds the load generator is falling behind (too much compression).
        "arrival_lag_p99_simulated_s": round(lag[int(0.99 * (len(lag) - 1))] * shape.compression, 1),
        "handle_p50_ms": round(statistics.median(handle) * 1000, 1),
        "handle_p99_ms": round(handle[int(0.99 * (len(handle) - 1))] * 1000, 1),
        "old_behaviour_requests_per_scan": round(old_behaviour_requests(schedule.arrivals, window_s) / max(1, schedule.scans), 3),
        "peak_hours": peak_hours(schedule, taken),
        "revocation": reach or None,
    }


@contextmanager
def registry_and_signer(work: Path, shape: Shape, pki: TestPki) -> Iterator[tuple[World, str, Any, int, str]]:
    """Database, world, the signer process and `cylinder-registry serve`; all torn down after."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database())
        world = seed(url, pki, shape.stations)
        files = SignerFiles(work / "signer", pki)
        files.folder.mkdir()
        files.write()
        signer = start_signer(files.serve_args(), files.socket)
        stack.callback(signer.stop)
        root = work / "bureau-root.pem"
        root.write_bytes(pki.root_certificate_pem)
        port = free_port()
        argv = registry_server_argv(
            url, port, 8, connection_limit=4 * shape.stations + 100, serve_options=("--bureau-root", str(root))
        )
        process = stack.enter_context(child_server(argv, port))
        api = f"http://127.0.0.1:{port}/api/v1"
        inspect_cylinders(world, api, max(400, 2 * shape.stations))
        status_lists.publish(_runner(world.sessions), signer.client, 0, datetime.now(UTC), force=True)
        yield world, api, signer.client, process.pid, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.stations} stations, compression {QUICK.compression:g}")
    parser.add_argument("--stations", type=int)
    parser.add_argument("--compression", type=float, help="simulated seconds per real second")
    parser.add_argument("--intervals", type=int, help="sync intervals each station lives in the main run")
    parser.add_argument("--cylinders", type=int, default=10_000_000, help="status list size (bench_status_list)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--heartbeat-s", type=float, default=STATION.heartbeat.total_seconds(), help="real-world seconds between heartbeats"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    base = QUICK if args.quick else FULL
    shape = Shape(
        args.stations or base.stations,
        args.compression or base.compression,
        args.intervals or base.intervals,
        base.baseline_intervals,
        heartbeat_s=args.heartbeat_s,
    )
    began = time.monotonic()
    # The national list is built and measured in a child process while the registry is set up
    # (nothing is measured then); the fleet runs only once it is done. Forked before any thread.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as child:
        pending_status = child.submit(measure_status_list, args.cylinders, 1)
        pki = TestPki.create(datetime.now(UTC))
        shm = Path("/dev/shm")
        with tempfile.TemporaryDirectory(prefix="bench-fleet-", dir=shm if shm.is_dir() else None) as tmp:
            work = Path(tmp)
            with registry_and_signer(work, shape, pki) as (world, api, signer, pid, url):
                status = pending_status.result()
                meter = CpuMeter(pid, url)
                try:
                    revoked = world.tags[0]  # never scanned: plan() draws vehicles from 1 on

                    def revoke(agents: list[Agent]) -> dict[str, Any]:
                        return revoke_and_watch(world, agents, revoked, signer, shape)

                    main_run = measure_fleet(
                        work / "fleet",
                        world,
                        api,
                        shape,
                        shape.intervals,
                        STATION.upload_debounce.total_seconds(),
                        meter,
                        args.seed,
                        revoke,
                    )
                    baseline = measure_fleet(
                        work / "baseline", world, api, shape, shape.baseline_intervals, 0.0, meter, args.seed + 1, None
                    )
                finally:
                    meter.close()
    print(json.dumps(report(shape, main_run, baseline, status, time.monotonic() - began), ensure_ascii=False, indent=2))
    return 0


def report(
    shape: Shape, main_run: dict[str, Any], baseline: dict[str, Any], status: dict[str, Any], elapsed_s: float
) -> dict[str, Any]:
    sync_interval_s = STATION.sync_interval.total_seconds()
    reach = main_run["revocation"] or {}
    reach_s = reach.get("status_list_reach_s" if REVOCATION_PATH == "status_list" else "feed_reach_s")
    result: dict[str, Any] = {
        "benchmark": "fleet",
        "requests_per_scan": main_run["requests_per_scan"],
        "registry_cpu_s_per_1000_scans": main_run["registry_cpu_s_per_1000_scans"],
        "registry_cpu_s_per_station_day": main_run["registry_cpu_s_per_station_day"],
        "revocation_reach_s": reach_s,
        "sync_interval_s": sync_interval_s,
        "status_list_bytes_10m": status["status_list_bytes_10m"],
        "status_list_load_s": status["status_list_load_s"],
        "status_lookup_us": status["status_lookup_us"],
        "heartbeat_requests_per_station_day": main_run["heartbeat_requests_per_station_day"],
        "status_riding_heartbeats_per_station_day": main_run["status_riding_heartbeats_per_station_day"],
        "idle_requests_per_station_day": main_run["idle_requests_per_station_day"],
        # The same requests counted for the stations whose window fell in the peak hours only.
        "peak_hours": main_run["peak_hours"],
        # Computed, not measured: the national list changes all day (about 9,000 re-inspections a
        # day supersede entries), so a station's conditional GET finds a new list on every sync.
        "status_list_download_bytes_per_station_day_estimate": round(DAY_S / sync_interval_s * status["status_list_bytes_10m"]),
        "revocation_path": REVOCATION_PATH,
        "baseline_requests_per_scan_old_behaviour": main_run["old_behaviour_requests_per_scan"],
        "baseline_requests_per_scan_no_debounce": baseline["requests_per_scan"],
        "baseline_registry_cpu_s_per_1000_scans_no_debounce": baseline["registry_cpu_s_per_1000_scans"],
        "baseline_revocation_reach_feed_s": reach.get("feed_reach_s"),
        "baseline_status_list": status["baseline"],
        "goal": {
            "requests_per_scan": GOAL_REQUESTS_PER_SCAN,
            "revocation_reach_s": sync_interval_s + GOAL_REACH_BEYOND_SYNC_S,
            **status["goal"],
        },
        "shape": {
            "stations": shape.stations,
            "compression": shape.compression,
            "real_seconds": round(shape.seconds(shape.intervals + 1), 1),
            "simulated_hours_per_station": round(shape.window_s(shape.intervals) / 3600, 2),
            "baseline_simulated_hours_per_station": round(shape.window_s(shape.baseline_intervals) / 3600, 2),
            "compressed_sync_interval_s": round(shape.scaled(sync_interval_s), 3),
            "compressed_upload_debounce_s": round(shape.scaled(STATION.upload_debounce.total_seconds()), 4),
            "heartbeat_s": shape.heartbeat_s,
            "compressed_heartbeat_s": round(shape.scaled(shape.heartbeat_s), 4),
            "scans_per_station_day": SCANS_PER_STATION_DAY,
        },
        "run": main_run,
        "baseline_no_debounce_run": baseline,
        "status_list": {k: status[k] for k in ("entries", "entries_by_status", "sign_s", "compression_ratio")},
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "elapsed_s": round(elapsed_s, 1),
    }
    result["goal_met"] = {
        "requests_per_scan": result["requests_per_scan"] <= GOAL_REQUESTS_PER_SCAN,
        "revocation_reach_s": reach_s is not None and reach_s <= sync_interval_s + GOAL_REACH_BEYOND_SYNC_S,
        "status_list": bool(status["goal_met"]),
    }
    return result


if __name__ == "__main__":
    sys.exit(main())
