"""Station-shaped traffic against a served registry, for tests/registry/test_patroni.py and
bench/bench_failover.py: status checks, scan-event uploads and bureau queries, every answer
recorded with its time, and the count of each accepted event in the database afterwards.

Each uploader is a station of its own, and behaves like a station's outbox: one upload at a time,
a batch answered 503 sent again with the same event ids after the answer's Retry-After; when the
load stops, each uploader keeps sending its last batch until it is accepted, so every event sent
ends up acknowledged and can be counted.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from registry_service.db import make_session_factory, run_in_transaction
from registry_service.models import Role, ScanEvent
from registry_service.services import accounts, places
from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle

STATION = "ST-HA-01"
STATIONS = [f"ST-HA-{n:02d}" for n in range(1, 5)]  # at most this many uploaders
PLATES = [f"豫A{n:05d}" for n in range(1, 6)]
BATCH = 3  # events per upload: a station's coalesced upload is small
DRAIN_S = 60.0  # how long an uploader keeps resending its last batch after the load stops


@dataclass(frozen=True)
class Fleet:
    station_tokens: dict[str, str]  # station code: its user's token
    bureau_token: str

    @property
    def station_token(self) -> str:
        return self.station_tokens[STATION]


def seed(engine: Engine) -> Fleet:
    """STATIONS each with a user, a bureau user, and PLATES each with one cylinder."""
    now = datetime.now(UTC)

    def work(s: Session) -> Fleet:
        places.ensure_region(s, "4101", "郑州市")
        for code in STATIONS:
            places.create_station(s, "test", now, code=code, name=f"高可用{code[-2:]}站", region_code="4101")
            accounts.create_user(s, "test", now, username=code.lower(), role=Role.STATION, station_code=code)
        accounts.create_user(s, "test", now, username="ha-bureau", role=Role.BUREAU)
        for n, plate in enumerate(PLATES, start=1):
            upsert_vehicle(s, plate, None, "taxi", None)
            upsert_cylinder(
                s,
                CylinderIn(
                    cylinder_id=f"156-4101-2000{n:04d}",
                    serial=f"S-{n}",
                    manufactured_on=date(2020, 1, 1),
                    end_of_life=date(2035, 1, 1),
                    next_due=now.date() + timedelta(days=300),
                    tag_uid=None,
                    plate=plate,
                    position=1,
                    last_result="pass",
                ),
            )
        return Fleet(
            {code: accounts.issue_token(s, "test", now, username=code.lower()).token for code in STATIONS},
            accounts.issue_token(s, "test", now, username="ha-bureau").token,
        )

    return run_in_transaction(make_session_factory(engine), work)


@dataclass(frozen=True)
class Answer:
    kind: str  # status, upload or bureau
    started: float  # time.monotonic()
    ended: float
    status: int  # -1: no HTTP answer at all
    retry_after: str | None
    content_type: str
    detail: str = ""


@dataclass
class MixedLoad:
    base: str  # http://127.0.0.1:port
    fleet: Fleet
    answers: list[Answer] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # event ids answered 200
    sent: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def running(self, uploaders: int = 2, checkers: int = 2, bureau: int = 1) -> Iterator[MixedLoad]:
        """The load runs in threads for the `with` block; on leaving, uploads drain and threads join."""
        work = [self._upload] * uploaders + [self._check] * checkers + [self._query] * bureau
        threads = [threading.Thread(target=target, args=(i,), daemon=True) for i, target in enumerate(work)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=DRAIN_S + 30)

    # --- what the threads do --------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.base)
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def _call(
        self, connection: http.client.HTTPConnection, kind: str, method: str, path: str, token: str, body: Any = None
    ) -> tuple[Answer, http.client.HTTPConnection]:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            answer = Answer(
                kind,
                started,
                time.monotonic(),
                response.status,
                response.getheader("Retry-After"),
                response.getheader("Content-Type", ""),
                raw[:200].decode(errors="replace") if response.status != 200 else "",
            )
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            connection = self._connection()
            answer = Answer(kind, started, time.monotonic(), -1, None, "", repr(error))
        self.answers.append(answer)
        return answer, connection

    def _upload(self, index: int) -> None:
        connection = self._connection()
        station = STATIONS[index % len(STATIONS)]
        path = f"/api/v1/stations/{station}/scan-events"
        batch: list[dict[str, Any]] = []
        drain_until: float | None = None
        while True:
            if self._stop.is_set():
                if not batch:
                    break
                drain_until = drain_until or time.monotonic() + DRAIN_S
                if time.monotonic() > drain_until:
                    break
            if not batch:
                batch = [station_event() for _ in range(BATCH)]
                self.sent.update(e["event_id"] for e in batch)
            token = self.fleet.station_tokens[station]
            answer, connection = self._call(connection, "upload", "POST", path, token, {"events": batch})
            if answer.status == 200:
                self.accepted.update(e["event_id"] for e in batch)
                batch = []
            else:  # a station keeps the batch in its outbox and tries again after Retry-After
                time.sleep(_retry_after_s(answer))
        connection.close()

    def _check(self, index: int) -> None:
        connection = self._connection()
        n = index
        while not self._stop.is_set():
            n += 1
            plate = PLATES[n % len(PLATES)]
            body = {"plate": plate, "cylinders": [{"cylinder_id": f"156-4101-2000{n % len(PLATES) + 1:04d}"}]}
            answer, connection = self._call(connection, "status", "POST", "/api/v1/status", self.fleet.station_token, body)
            if answer.status != 200:
                time.sleep(_retry_after_s(answer))
        connection.close()

    def _query(self, _index: int) -> None:
        connection = self._connection()
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
        path = f"/api/v1/bureau/aggregates?group_by=station&since={since}"
        while not self._stop.is_set():
            answer, connection = self._call(connection, "bureau", "GET", path, self.fleet.bureau_token)
            time.sleep(0.05 if answer.status == 200 else _retry_after_s(answer))
        connection.close()

    # --- what happened --------------------------------------------------------------------------

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[int]:
        return Counter(a.status for a in self.answers if since <= a.started <= until)

    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]

    def stored(self, engine: Engine) -> Counter[str]:
        """How often each event this load sent is in the database."""
        ids = [uuid.UUID(i) for i in self.sent]
        stored: Counter[str] = Counter()
        with engine.connect() as connection:
            for start in range(0, len(ids), 1000):
                rows = connection.execute(
                    select(ScanEvent.event_uuid, func.count())
                    .where(ScanEvent.event_uuid.in_(ids[start : start + 1000]))
                    .group_by(ScanEvent.event_uuid)
                )
                stored.update({str(event_uuid): count for event_uuid, count in rows})
        return stored

    def lost_and_duplicated(self, engine: Engine) -> tuple[int, int]:
        """(accepted events not in the database, events stored more than once)."""
        stored = self.stored(engine)
        return sum(1 for i in self.accepted if stored[i] == 0), sum(1 for n in stored.values() if n > 1)

    def write_gap_s(self, after: float) -> float:
        """From `after` to the first upload acknowledged (200) that was sent after it: how long
        writes were unavailable."""
        done = [a.ended for a in self.answers if a.kind == "upload" and a.status == 200 and a.started >= after]
        return (min(done) - after) if done else float("inf")


def station_event(**fields: Any) -> dict[str, Any]:
    """One scan event as a station uploads it: an allowed fill now, with `fields` on top."""
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "pump": 1,
        "decision": "allow",
        "outcome": "allowed",
        "reasons": [],
        **fields,
    }


def _retry_after_s(answer: Answer) -> float:
    """The answer's Retry-After (what a station honours), else a short pause."""
    try:
        return min(float(answer.retry_after or 0.2), 5.0)
    except ValueError:
        return 0.2
