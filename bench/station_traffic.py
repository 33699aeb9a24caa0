"""What station agents send the registry, request by request, for bench_registry_ingest.py's
realistic shape. Not a benchmark itself.

Every body comes from the agent's own code, so the shape cannot drift from what stations send: the
requests are made by station_agent.registry_client.HttpRegistryClient (status checks with riding
events and heartbeats, uploads, heartbeats with riding reports, the revocation feed) over a
transport that records them instead of sending them; the events by station_agent.events.scan_event;
the fill-life reports by station_agent.lifecycle.station_event; the heartbeat by a real Agent's
heartbeat_of (built once; per beat only its volatile members change: sent_at, backlog, last fill,
totaliser, clock offset).

Per scan at a station (one agent per station, pump 1, as bench_fleet.py runs them), in order:
- one status check: the cylinder just read and the plate (and the station's zone), carrying the
  station's pending events (normally the previous scan's one; at most RIDERS_PER_STATUS) and, on a
  share of the scans, the heartbeat (`TrafficShape.heartbeats_riding_per_scan`);
- the scan's own event goes to the pending list, with its decision and outcome (2 % refusals of the
  seed's problem cylinders by default, so cases are made); its fill's reports (pump_enabled and
  fill_ended with a metered quantity; a refused read: session_abandoned) wait for a heartbeat;
- on a share of the scans a heartbeat goes alone, with the pending reports riding on it (at most
  REPORT_BATCH); on a smaller share the pump goes idle and its pending events go by upload; on
  another the station fetches the revocation feed at its cursor (an empty page, as almost always).
Shares are applied by per-station accumulators started at a random phase, so over a run each
comes out exact, not drawn. Cylinders come in order (each read once, not the random worst case of
the large-batch figure).
"""

from __future__ import annotations

import itertools
import random
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from raw_http_load import RawRequest, raw_request

from station_agent import lifecycle
from station_agent.config import Policy, RegistrySettings, parse_config
from station_agent.deadline_http import Answer
from station_agent.events import EventContext, scan_event
from station_agent.heartbeat import rfc3339
from station_agent.metering import Reading
from station_agent.registry_client import HttpRegistryClient
from station_agent.session import CylinderResult
from station_agent.sync import REPORT_BATCH, REVOCATION_PAGE, RIDERS_PER_STATUS

API = "/api/v1"
# Whatever the request, the recording transport answers with this: enough for the client's checks.
UPLOAD_BATCH = RegistrySettings().upload_batch  # the agent's default batch
CANNED_ANSWER = b'{"cylinders":[{}],"events":{},"heartbeat":"recorded","registry_time":"2026-01-01T00:00:00Z"}'


@dataclass(frozen=True)
class TrafficShape:
    """Requests per scan besides the status check. Defaults: bench_fleet.py's measurements with the
    agent's defaults (docs/performance.md, "With heartbeats ..."): per station-day of 2,000 scans,
    1,102 heartbeats alone and 466 on status checks (60 s heartbeat), uploads 0.010-0.017 per scan,
    revocation feed 0.059-0.070 per scan."""

    heartbeats_riding_per_scan: float = 466 / 2000
    heartbeats_alone_per_scan: float = 1102 / 2000
    uploads_per_scan: float = 0.013
    feed_per_scan: float = 0.06
    refused_share: float = 0.02
    kg_per_fill: float = 12.0

    def as_json(self) -> dict[str, float]:
        return {name: round(getattr(self, name), 4) for name in self.__dataclass_fields__}


# Where the day's shares come from (TrafficShape's defaults).
DAY_AVERAGE_SOURCE = (
    "bench_fleet.py, 60 s heartbeat, 2,000 scans per station-day, one agent per station: "
    "1,102 alone + 466 on status checks per station-day = 0.78 per scan (national average with one pump "
    "per station: 10,000 x 1,440 / 20 M = 0.72)"
)
# The shares in the peak hours, when the registry is busiest: bench_fleet.py's `peak_hours` (the
# stations whose window fell where scans arrive at 1.5 times the day's average rate or more). A
# busy pump's heartbeat rides on a read, so fewer go alone per scan than over the whole day. Each
# share is rounded to 0.001 (uploads: 0.000 measured, a busy pump's events ride on its reads).
PEAK_HOURS = TrafficShape(
    heartbeats_riding_per_scan=0.191,
    heartbeats_alone_per_scan=0.208,
    uploads_per_scan=0.0,
    feed_per_scan=0.031,
)
PEAK_HOURS_SOURCE = (
    "bench_fleet.py --stations 100 (2026-12-01), peak_hours: 28 stations, 4,571 scans at 163 scans per station-hour: "
    "heartbeats 0.208 alone and 0.191 on status checks per scan, revocation feed 0.031, uploads 0.000"
)


@dataclass(frozen=True)
class ReadCylinder:
    cylinder_id: str
    tag_uid: str
    plate: str
    refusal: str | None  # the reason code the station refuses it for; None: it passes


class RecordingTransport:
    """Stands in for station_agent.deadline_http.DeadlineHttp: records each exchange as raw bytes
    (what http.client would put on the wire) and answers CANNED_ANSWER."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.recorded: list[bytes] = []

    def exchange(
        self, method: str, path: str, *, deadline_s: float, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        self.recorded.append(raw_request(method, API + path, self.host, headers or {}, body))
        answer_headers = Message()
        answer_headers["Content-Type"] = "application/json"
        return Answer(200, answer_headers, CANNED_ANSWER)

    def take(self) -> bytes:
        (raw,) = self.recorded
        self.recorded.clear()
        return raw

    def close(self) -> None:
        pass


def agent_heartbeat(code: str) -> dict[str, Any]:
    """A heartbeat body made by a real Agent (station_agent.cli.build_agent), as bench_fleet.py builds them."""
    from station_agent.cli import build_agent
    from station_agent.tagsource import FakeTagSource
    from tests.testkit import TestPki

    pki = TestPki.create(datetime.now(UTC))
    with tempfile.TemporaryDirectory(prefix="bench-ingest-agent-") as tmp:
        folder = Path(tmp)
        (folder / "root.pem").write_bytes(pki.root_certificate_pem)
        (folder / "trust.cwt").write_bytes(pki.trust_list_bytes)
        document: dict[str, Any] = {
            "station": {"code": code, "pump": 1, "state_dir": str(folder / "state")},
            "reader": {"path": "none:"},
            "interlock": {"path": "log:"},
            "trust": {"root_certificate": str(folder / "root.pem"), "initial_trust_list": str(folder / "trust.cwt")},
            "registry": {"url": "http://127.0.0.1:9/api/v1", "token": "unused", "heartbeat_s": 60},
        }
        agent = build_agent(parse_config(document), source=FakeTagSource())
        try:
            assert agent.sync is not None and agent.sync.heartbeat is not None
            return agent.sync.heartbeat()
        finally:
            agent.stop()
            agent.outbox.close()


@dataclass
class _Station:
    code: str
    client: HttpRegistryClient
    wire: RecordingTransport
    phase: dict[str, float]  # per-share accumulators
    events: list[dict[str, Any]] = field(default_factory=list)  # the registry's copy of pending events
    reports: list[dict[str, Any]] = field(default_factory=list)
    totaliser: float = 100_000.0
    last_fill: datetime | None = None

    def due(self, share: str, rate: float) -> bool:
        self.phase[share] += rate
        if self.phase[share] >= 1.0:
            self.phase[share] -= 1.0
            return True
        return False


@dataclass
class Tally:
    """What the built requests carry, over all built so far."""

    scans: int = 0
    refused: int = 0
    cylinders_reused: int = 0


class StationTraffic:
    """Builds request sequences, one per connection; station i always goes on connection
    i % connections, so each station's requests reach the registry in its order."""

    def __init__(
        self,
        codes: list[str],
        tokens: list[str],
        fine: list[ReadCylinder],
        problems: list[ReadCylinder],
        port: int,
        revocation_cursor: int,
        shape: TrafficShape,
        seed: int = 17,
    ) -> None:
        self.shape = shape
        self.rng = random.Random(seed)
        self.host = f"127.0.0.1:{port}"
        self.cursor = revocation_cursor
        self.heartbeat = agent_heartbeat(codes[0])
        self.context_policy = Policy()
        self.stations = [self._station(code, token) for code, token in zip(codes, tokens, strict=True)]
        self.fine, self.problems = fine, problems
        self._fine = self._endless(fine)
        self._problems = self._endless(problems)
        self.read_counter = 1_000_000  # above any counter the seed's scans carry, and growing
        self.tally = Tally()
        self._lock = threading.Lock()

    def _station(self, code: str, token: str) -> _Station:
        client = HttpRegistryClient(f"http://{self.host}{API}", token, timezone=self.context_policy.timezone)
        client._http.close()
        wire = RecordingTransport(self.host)
        client._http = wire  # type: ignore[assignment]  # the agent's client, its transport recorded
        shares = ("riding", "alone", "upload", "feed")
        return _Station(code, client, wire, {share: self.rng.random() for share in shares})

    def _endless(self, cylinders: list[ReadCylinder]) -> Iterator[ReadCylinder]:
        """Each cylinder once in this order; if the run needs more, again (counted as reused)."""
        first = True
        while True:
            for cylinder in cylinders:
                if not first:
                    self.tally.cylinders_reused += 1
                yield cylinder
            first = False

    # -- status-only ------------------------------------------------------------------------------

    def status_only(self, connections: int, per_connection: int) -> list[Iterator[RawRequest]]:
        """Status checks alone, in the station shape (cylinder, tag, plate, zone), each with its
        station's token: the baseline. Built before the clock starts, and sent over and over (they
        change nothing)."""
        sequences: list[list[RawRequest]] = [[] for _ in range(connections)]
        order = self.fine + self.problems
        for n in range(connections * per_connection):
            index = n % len(self.stations)
            station = self.stations[index]
            cylinder = order[self.rng.randrange(len(order))]
            station.client.status_with_events(cylinder.plate, cylinder.cylinder_id, cylinder.tag_uid, 1.0, None, [])
            sequences[index % connections].append(RawRequest("status", station.wire.take(), scans=1))
        return [itertools.cycle(sequence) for sequence in sequences]

    # -- realistic ----------------------------------------------------------------------------

    def realistic(self, connections: int) -> list[Iterator[RawRequest]]:
        """One endless sequence per connection: its stations' scans in turn, each built when the
        connection gets to it (so no scan is built that is not sent, and a station's pending events
        carry over from one phase to the next as they would)."""
        return [self._stream(self.stations[index::connections]) for index in range(connections)]

    def _stream(self, stations: list[_Station]) -> Iterator[RawRequest]:
        while True:
            for station in stations:
                with self._lock:  # the cylinders, counters and random draws are shared
                    requests = self._scan(station)
                yield from requests

    def _scan(self, station: _Station) -> list[RawRequest]:
        shape = self.shape
        refused = self.rng.random() < shape.refused_share
        cylinder = next(self._problems if refused and self.problems else self._fine)
        now = datetime.now(UTC)
        requests = [self._status(station, cylinder, now)]
        self._read(station, cylinder, now)
        if station.due("alone", shape.heartbeats_alone_per_scan):
            reports = station.reports[:REPORT_BATCH]
            station.client.heartbeat(station.code, self._beat(station, now), reports=reports or None)
            del station.reports[: len(reports)]
            requests.append(
                RawRequest(
                    "heartbeat",
                    station.wire.take(),
                    heartbeats=1,
                    reports=len(reports),
                    answer_must_have=b'"reports"' if reports else None,
                )
            )
        if station.due("upload", shape.uploads_per_scan) and station.events:
            events = station.events[:UPLOAD_BATCH]
            station.client.upload(station.code, events)
            del station.events[: len(events)]
            requests.append(RawRequest("upload", station.wire.take(), events=len(events)))
        if station.due("feed", shape.feed_per_scan):
            station.client.revocations(self.cursor, REVOCATION_PAGE)
            requests.append(RawRequest("feed", station.wire.take()))
        return requests

    def _status(self, station: _Station, cylinder: ReadCylinder, now: datetime) -> RawRequest:
        """The read's status check, with the pending events and (when due) the heartbeat riding."""
        riders = station.events[:RIDERS_PER_STATUS]
        beat = self._beat(station, now) if station.due("riding", self.shape.heartbeats_riding_per_scan) else None
        station.client.status_with_events(cylinder.plate, cylinder.cylinder_id, cylinder.tag_uid, 1.0, None, riders, beat)
        del station.events[: len(riders)]
        return RawRequest(
            "status",
            station.wire.take(),
            scans=1,
            events=len(riders),
            heartbeats=beat is not None,
            answer_must_have=b'"recorded"' if beat is not None else None,
            answer_must_not_have=b'"error"' if riders else None,
        )

    def _read(self, station: _Station, cylinder: ReadCylinder, now: datetime) -> None:
        """The scan's event and its fill's reports, as the agent stores them in its outbox."""
        self.read_counter += 1
        self.tally.scans += 1
        refused = cylinder.refusal is not None
        self.tally.refused += refused
        result = CylinderResult(
            tag_uid=cylinder.tag_uid,
            decision="refuse" if refused else "allow",
            reasons=(cylinder.refusal,) if cylinder.refusal is not None else (),
            online=True,
            cylinder_id=cylinder.cylinder_id,
            plate=cylinder.plate,
            vehicle_cylinders=1,
            read_counter=self.read_counter,
        )
        session = str(uuid.uuid4())
        context = EventContext(station.code, 1, "张师傅", session, enforcing=True, clock_offset_ms=self.rng.randint(-300, 300))
        _, body = scan_event(result, context, now)
        station.events.append(body["registry"])
        if refused:
            report = lifecycle.station_event(
                lifecycle.SESSION_ABANDONED, "refused: 1 cylinder(s) read", at=now, pump=1, subject_id=session
            )
            station.reports.append(report.to_json())
            return
        start = Reading(station.totaliser, "kg", now)
        station.totaliser += self.shape.kg_per_fill
        end_at = now + timedelta(seconds=90)
        end = Reading(station.totaliser, "kg", end_at)
        enabled = lifecycle.station_event(
            lifecycle.PUMP_ENABLED, "ready: 1 cylinder(s), enforce mode", at=now, pump=1, subject_id=session, reading=start
        )
        ended = lifecycle.station_event(
            lifecycle.FILL_ENDED,
            "flow_stop: the totaliser stood still",
            at=end_at,
            pump=1,
            subject_id=session,
            reading=end,
            quantity=self.shape.kg_per_fill,
        )
        station.reports += [enabled.to_json(), ended.to_json()]
        station.last_fill = end_at

    def _beat(self, station: _Station, now: datetime) -> dict[str, Any]:
        """The agent's heartbeat with this station's volatile members (schemas/station-heartbeat.md)."""
        return {
            **self.heartbeat,
            "sent_at": rfc3339(now),
            "clock_offset_ms": self.rng.randint(-300, 300),
            "outbox_backlog": len(station.events) + len(station.reports),
            "last_fill_at": rfc3339(station.last_fill) if station.last_fill is not None else None,
            "totaliser": {"value": round(station.totaliser, 3), "unit": "kg"},
        }

    def prime(self, connections: int) -> list[list[RawRequest]]:
        """What a running fleet has done before measuring starts, sent untimed: each station's
        heartbeat (its pump's latest-heartbeat row exists, the first one inserts it) and one scan
        (so its next status check carries that scan's event, as in a busy station)."""
        now = datetime.now(UTC)
        sequences: list[list[RawRequest]] = [[] for _ in range(connections)]
        for index, station in enumerate(self.stations):
            station.client.heartbeat(station.code, self._beat(station, now))
            sequences[index % connections].append(RawRequest("heartbeat", station.wire.take(), heartbeats=1))
            sequences[index % connections] += self._scan(station)
        return sequences
