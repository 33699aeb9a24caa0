"""The local outbox: every scan event is committed here before the pump may be enabled.

SQLite in WAL mode with synchronous=FULL: once `add()` returns, the event survives kill -9 and
power loss. Events carry a UUID chosen at the station, and the registry ignores UUIDs it already
has, so an upload retried after a crash cannot duplicate anything. The same file keeps the last
good trust list, the revocation cursor, the time each cylinder was last filled, and the fault
reports (station_agent.fault_report) still to be delivered.

The file carries a schema version (PRAGMA user_version); older files are migrated in place in one
transaction, a newer one is refused untouched. A damaged event never blocks the queue: `unsent()`
quarantines it and queues a fault report in the same transaction. `prune()` bounds the file:
delivered events and reports are kept for a retention period; a rejected or quarantined event is
kept until its report has been delivered and it is older than the same retention.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from station_agent.errors import OutboxCorruptError, OutboxError, OutboxFullError
from station_agent.fault_report import FaultReport, Kind, fault_report, is_uuid
from tag_tools import private_files

log = logging.getLogger(__name__)

# Version 0: the schema before versioning. It stays the base every file is built from, so the
# migrations below run on every new file too and cannot rot.
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent_at TEXT,
    rejected TEXT
);
CREATE INDEX IF NOT EXISTS events_unsent ON events (seq) WHERE sent_at IS NULL AND rejected IS NULL;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS fills (cylinder_id TEXT PRIMARY KEY, filled_at TEXT NOT NULL);
"""

# Migration N takes a file from version N to N+1: plain statements, then an optional data step.
_TO_V1 = (
    "ALTER TABLE events ADD COLUMN quarantined TEXT",  # why the stored row cannot be sent
    "ALTER TABLE events ADD COLUMN problem_at TEXT",  # when it was rejected or quarantined
    "DROP INDEX events_unsent",
    "CREATE INDEX events_unsent ON events (seq) WHERE sent_at IS NULL AND rejected IS NULL AND quarantined IS NULL",
    "CREATE INDEX events_problems ON events (seq) WHERE rejected IS NOT NULL OR quarantined IS NOT NULL",
    # event_id links a report to its event locally (the report's subject_id is null for non-UUID ids).
    """CREATE TABLE reports (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL UNIQUE,
        event_id TEXT,
        body TEXT NOT NULL,
        sent_at TEXT,
        damaged TEXT
    )""",
    "CREATE INDEX reports_unsent ON reports (seq) WHERE sent_at IS NULL AND damaged IS NULL",
    "CREATE INDEX reports_event ON reports (event_id) WHERE sent_at IS NULL AND event_id IS NOT NULL",
)
SCHEMA_VERSION = 1

_EVENT_COLUMNS = "event_id, body, sent_at, rejected, quarantined, problem_at"
_WAL_LIMIT = 4 * 1024 * 1024  # the -wal is cut back to this when a checkpoint lets it restart


@dataclass(frozen=True)
class Pending:
    event_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Counts:
    total: int
    unsent: int
    rejected: int
    quarantined: int = 0
    reports_unsent: int = 0


@dataclass(frozen=True)
class Problem:
    """A rejected or quarantined event, for the attendant's screen."""

    event_id: str
    kind: Literal["rejected", "quarantined"]
    why: str
    at: datetime | None  # None for an event rejected before the outbox recorded when
    reported: bool  # its fault report has reached the registry


@dataclass(frozen=True)
class StoredEvent:
    """One events row as stored, for copying rows between outboxes (salvage)."""

    event_id: str
    body: str
    sent_at: str | None = None
    rejected: str | None = None
    quarantined: str | None = None
    problem_at: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def _private_location(path: Path) -> None:
    """The state folder and the outbox file only the agent's user may read (tag_tools.private_files):
    created 0700 / 0600; an existing one open to other users is left as it is, with a warning."""
    if not private_files.private_dir(path.parent):
        private_files.warn_if_open(path.parent, "the station's outbox")
    if not private_files.private_file(path):
        private_files.warn_if_open(path, "the station's events")


class Outbox:
    """Thread-safe (one connection behind a lock): the agent loop writes, the sender reads and marks.

    `pump` and `clock` stamp the fault reports the outbox writes by itself (a quarantined event)."""

    def __init__(self, path: Path, *, pump: int | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self.pump = pump
        self.clock = clock
        self._lock = threading.Lock()
        try:
            _private_location(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        except (OSError, sqlite3.Error) as error:
            raise OutboxError(f"cannot open the outbox {path}: {error}") from error
        try:
            with self._guard("open"):
                self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:  # checked before any pragma below can write to the file
            raise OutboxError(
                f"outbox {self.path} has schema version {version}, newer than this agent's "
                f"{SCHEMA_VERSION}: left untouched; run the newer agent or move the file aside"
            )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # No automatic checkpoint: it would run inside whichever commit crosses the threshold,
        # i.e. sometimes between a read and the pump. The agent checkpoints while idle instead.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
        result = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed: {result}")
        self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Bring the file to SCHEMA_VERSION in one transaction: a crash leaves it at its old version."""
        if version == SCHEMA_VERSION:
            return
        with self._transaction():
            if version == 0:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self._db.execute(statement)
                for statement in _TO_V1:
                    self._db.execute(statement)
                self._report_legacy_rejections()
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        log.info("outbox %s migrated from schema version %d to %d", self.path, version, SCHEMA_VERSION)

    def _report_legacy_rejections(self) -> None:
        """Events rejected before reports existed: the bureau hears of them now, dated now."""
        at = self.clock()
        rows = self._db.execute(
            "SELECT seq, CAST(event_id AS BLOB), CAST(body AS BLOB), CAST(rejected AS BLOB) "
            "FROM events WHERE rejected IS NOT NULL"
        ).fetchall()
        for seq, event_id, body, why in rows:
            self._db.execute("UPDATE events SET problem_at = ? WHERE seq = ?", (at.isoformat(), seq))
            self._queue_event_report(
                bytes(event_id),
                "rejected_event",
                "registry_rejected",
                f"rejected by the registry (before this agent version): {_text(why)}",
                at,
                self.pump,
                bytes(body),
            )

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Translate SQLite failures into the two errors an operator can act on, keeping the cause."""
        try:
            yield
        except sqlite3.OperationalError as error:
            text = str(error).lower()
            if "full" in text:
                raise OutboxFullError(f"outbox {self.path}: disk full while trying to {what}") from error
            raise OutboxError(f"outbox {self.path}: cannot {what}: {error}") from error
        except sqlite3.DatabaseError as error:
            raise OutboxCorruptError(
                f"outbox {self.path} is corrupt ({error}); move it aside and restart, then recover its unsent "
                "events with `station-agent outbox salvage OLD NEW`"
            ) from error

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE .. COMMIT; on any failure roll back unless SQLite already did (SQLITE_FULL)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def add(self, event_id: str, body: dict[str, Any]) -> None:
        """Commit one event durably. Raises OutboxError (full, corrupt, I/O): the caller must not fill."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        with self._lock, self._guard("store an event"):
            self._db.execute("INSERT INTO events (event_id, body) VALUES (?, ?)", (event_id, text))

    def add_with_fills(self, event_id: str, body: dict[str, Any], cylinders: list[str], at: datetime) -> None:
        """Commit an event and, in the same transaction, the fill times of the vehicle's cylinders."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        with self._lock, self._guard("store an event"), self._transaction():
            self._db.execute("INSERT INTO events (event_id, body) VALUES (?, ?)", (event_id, text))
            self._db.executemany(
                "INSERT OR REPLACE INTO fills (cylinder_id, filled_at) VALUES (?, ?)", [(c, at.isoformat()) for c in cylinders]
            )

    def record_fill(self, cylinders: list[str], at: datetime) -> None:
        with self._lock, self._guard("record a fill"):
            self._db.executemany(
                "INSERT OR REPLACE INTO fills (cylinder_id, filled_at) VALUES (?, ?)", [(c, at.isoformat()) for c in cylinders]
            )

    def last_fill(self, cylinder_id: str) -> datetime | None:
        with self._lock, self._guard("read fill times"):
            row = self._db.execute("SELECT filled_at FROM fills WHERE cylinder_id = ?", (cylinder_id,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def latest_fill(self) -> datetime | None:
        """When this pump last started a fill (the newest fill time kept), for the heartbeat."""
        with self._lock, self._guard("read fill times"):
            row = self._db.execute("SELECT filled_at FROM fills ORDER BY julianday(filled_at) DESC LIMIT 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def unsent(self, limit: int) -> list[Pending]:
        """Up to `limit` events to upload, oldest first. A row that cannot be sent (not UTF-8, not JSON,
        not an object with a "registry" object) is quarantined and reported instead, never raised."""
        good: list[Pending] = []
        last = -1  # rows are read in seq order; good ones are not read twice, bad ones leave the queue
        with self._lock, self._guard("read unsent events"):
            while len(good) < limit:
                rows = self._db.execute(
                    "SELECT seq, CAST(event_id AS BLOB), CAST(body AS BLOB) FROM events WHERE sent_at IS NULL "
                    "AND rejected IS NULL AND quarantined IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                    (last, limit - len(good)),
                ).fetchall()
                if not rows:
                    break
                bad: list[tuple[int, bytes, bytes, str, str]] = []
                for seq, raw_id, raw_body in rows:
                    event_id, body, code, why = _decode_event(bytes(raw_id), bytes(raw_body))
                    if body is None:
                        bad.append((seq, bytes(raw_id), bytes(raw_body), code, why))
                    else:
                        good.append(Pending(event_id, body))
                last = rows[-1][0]
                if bad:
                    self._quarantine(bad)
        return good

    def _quarantine(self, rows: list[tuple[int, bytes, bytes, str, str]]) -> None:
        at = self.clock()
        with self._transaction():
            for seq, event_id, raw, code, why in rows:
                log.error("outbox event %r (row %d) quarantined: %s", _text(event_id), seq, why)
                self._db.execute(
                    "UPDATE events SET quarantined = ?, problem_at = ? WHERE seq = ?", (why[:500], at.isoformat(), seq)
                )
                self._queue_event_report(
                    event_id, "quarantined_event", code, f"stored event cannot be sent: {why}", at, self.pump, raw
                )

    def _queue_event_report(
        self, event_id: str | bytes, kind: Kind, code: str, detail: str, at: datetime, pump: int | None, payload: bytes
    ) -> None:
        """`event_id` as stored (bytes when damage left it unreadable as text), to link the report."""
        text = _text(event_id)
        report = fault_report(
            kind, code, f"event {text}: {detail}", at=at, pump=pump, subject_id=text if is_uuid(text) else None, payload=payload
        )
        self._insert_report(report, event_id)

    def _insert_report(self, report: FaultReport, event_id: str | bytes | None) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO reports (report_id, event_id, body) VALUES (?, CAST(? AS TEXT), ?)",
            (report.report_id, event_id, json.dumps(report.to_json(), separators=(",", ":"))),
        )

    def mark_sent(self, event_ids: list[str], at: datetime) -> None:
        with self._lock, self._guard("mark events sent"):
            self._db.executemany("UPDATE events SET sent_at = ? WHERE event_id = ?", [(at.isoformat(), e) for e in event_ids])

    def mark_rejected(
        self, event_id: str, why: str, *, at: datetime | None = None, pump: int | None = None, code: str = "registry_rejected"
    ) -> None:
        """The registry refused this event as invalid: keep it, stop retrying it, and queue one fault
        report (raw event bytes included) in the same transaction. `at` and `pump` default to the
        outbox's clock and pump. Marking an event twice queues no second report."""
        at = self.clock() if at is None else at
        with self._lock, self._guard("mark an event rejected"), self._transaction():
            row = self._db.execute(
                "SELECT CAST(body AS BLOB) FROM events WHERE event_id = ? AND rejected IS NULL", (event_id,)
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "UPDATE events SET rejected = ?, problem_at = ? WHERE event_id = ?", (why[:500], at.isoformat(), event_id)
            )
            self._queue_event_report(
                event_id,
                "rejected_event",
                code,
                f"rejected by the registry: {why}",
                at,
                self.pump if pump is None else pump,
                bytes(row[0]),
            )

    def add_report(self, report: FaultReport, *, state: tuple[str, bytes] | None = None) -> None:
        """Queue a fault report durably; adding the same report_id again changes nothing. A report
        about an event (subject_id) is linked to it locally, for `problems()` and `prune()`.
        `state` (key, value) is saved in the same transaction (the agent's open fill, see agent.py)."""
        with self._lock, self._guard("store a fault report"), self._transaction():
            self._insert_report(report, report.subject_id)
            if state is not None:
                self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", state)

    def unsent_reports(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` undelivered reports (their JSON), oldest first. A stored report that no longer
        decodes is set aside (`damaged`) and logged, so it cannot block the others."""
        with self._lock, self._guard("read unsent reports"):
            rows = self._db.execute(
                "SELECT seq, CAST(body AS BLOB) FROM reports WHERE sent_at IS NULL AND damaged IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            good: list[dict[str, Any]] = []
            for seq, raw in rows:
                document, why = _json_object(bytes(raw))
                if document is None:
                    log.error("outbox report row %d is damaged and set aside: %s", seq, why)
                    self._db.execute("UPDATE reports SET damaged = ? WHERE seq = ?", (why, seq))
                else:
                    good.append(document)
        return good

    def mark_reports_sent(self, report_ids: Iterable[str], at: datetime) -> None:
        with self._lock, self._guard("mark reports sent"):
            self._db.executemany("UPDATE reports SET sent_at = ? WHERE report_id = ?", [(at.isoformat(), r) for r in report_ids])

    def problems(self, limit: int = 20) -> list[Problem]:
        """Rejected and quarantined events, newest first."""
        with self._lock, self._guard("list problem events"):
            rows = self._db.execute(
                "SELECT CAST(event_id AS BLOB), quarantined IS NOT NULL, CAST(coalesce(quarantined, rejected) AS BLOB), "
                "problem_at, NOT EXISTS (SELECT 1 FROM reports r WHERE r.event_id = events.event_id "
                "AND r.sent_at IS NULL AND r.damaged IS NULL) "
                "FROM events WHERE rejected IS NOT NULL OR quarantined IS NOT NULL "
                "ORDER BY julianday(problem_at) DESC, seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Problem(_text(event_id), "quarantined" if quarantined else "rejected", _text(why), _time_or_none(at), bool(reported))
            for event_id, quarantined, why, at, reported in rows
        ]

    def counts(self) -> Counts:
        with self._lock, self._guard("count events"):
            total, unsent, rejected, quarantined = self._db.execute(
                "SELECT count(*), sum(sent_at IS NULL AND rejected IS NULL AND quarantined IS NULL), "
                "sum(rejected IS NOT NULL), sum(quarantined IS NOT NULL) FROM events"
            ).fetchone()
            reports = self._db.execute("SELECT count(*) FROM reports WHERE sent_at IS NULL AND damaged IS NULL").fetchone()[0]
        return Counts(total, unsent or 0, rejected or 0, quarantined or 0, reports)

    def event_ids(self) -> list[str]:
        with self._lock, self._guard("list events"):
            return [_text(r[0]) for r in self._db.execute("SELECT CAST(event_id AS BLOB) FROM events ORDER BY seq")]

    def import_events(self, rows: Iterable[StoredEvent]) -> int:
        """Copy rows as they were stored (salvage): states kept, known event ids skipped. Returns rows added."""
        with self._lock, self._guard("import events"), self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [(r.event_id, r.body, r.sent_at, r.rejected, r.quarantined, r.problem_at) for r in rows],
            )
            return self._db.total_changes - before

    def get_state(self, key: str) -> bytes | None:
        with self._lock, self._guard("read saved state"):
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def put_state(self, key: str, value: bytes) -> None:
        with self._lock, self._guard("save state"):
            self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def prune(self, delivered_before: datetime, *, fills_before: datetime | None = None) -> int:
        """Delete what no longer needs keeping; returns the rows deleted (events, reports and fills).

        - events delivered before `delivered_before`, and reports delivered before it;
        - rejected or quarantined events that became so before it AND whose reports are delivered
          (an unsent event is never deleted, nor a problem the bureau has not heard of);
        - fill times older than `fills_before` (default: `delivered_before`). Fill times only feed the
          minimum refill interval, so the caller may pass a much later cutoff, but never one later
          than now minus that interval.
        Times compare as instants (julianday), whatever UTC offset they were written with. Then the
        journal is checkpointed with TRUNCATE so the -wal file shrinks back too."""
        cut = _aware_text(delivered_before)
        fills_cut = cut if fills_before is None else _aware_text(fills_before)
        with self._lock, self._guard("prune delivered events"), self._transaction():
            before = self._db.total_changes
            self._db.execute("DELETE FROM events WHERE sent_at IS NOT NULL AND julianday(sent_at) < julianday(?)", (cut,))
            self._db.execute(
                "DELETE FROM events WHERE (rejected IS NOT NULL OR quarantined IS NOT NULL) "
                "AND julianday(problem_at) < julianday(?) AND NOT EXISTS (SELECT 1 FROM reports r "
                "WHERE r.event_id = events.event_id AND r.sent_at IS NULL AND r.damaged IS NULL)",
                (cut,),
            )
            self._db.execute("DELETE FROM reports WHERE sent_at IS NOT NULL AND julianday(sent_at) < julianday(?)", (cut,))
            self._db.execute("DELETE FROM fills WHERE julianday(filled_at) < julianday(?)", (fills_cut,))
            deleted = self._db.total_changes - before
        self.checkpoint("TRUNCATE")
        return deleted

    def checkpoint(self, mode: Literal["PASSIVE", "TRUNCATE"] = "PASSIVE") -> tuple[int, int]:
        """Copy committed WAL pages into the database. Returns (WAL pages, pages checkpointed).

        PASSIVE (the agent's idle call) never waits. TRUNCATE (after `prune`) also empties the -wal
        file; it waits at most 0.2 s for other readers, and if it cannot finish it behaves as PASSIVE.
        Either way the next write after a complete checkpoint restarts the WAL and cuts it back to
        journal_size_limit, so the file cannot grow without bound while checkpoints can run."""
        with self._lock, self._guard("checkpoint the journal"):
            if mode == "TRUNCATE":
                self._db.execute("PRAGMA busy_timeout = 200")
            try:
                _busy, log_pages, done = self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            finally:
                if mode == "TRUNCATE":
                    self._db.execute("PRAGMA busy_timeout = 10000")
        return int(log_pages), int(done)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _json_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the object, "") or (None, why) for stored JSON text that should hold an object."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "invalid_utf8: the stored text is not UTF-8"
    except (ValueError, RecursionError) as error:
        return None, f"invalid_json: {error}"
    if not isinstance(document, dict):
        return None, f"not_an_object: the stored JSON is a {type(document).__name__}"
    return document, ""


def _decode_event(raw_id: bytes, raw_body: bytes) -> tuple[str, dict[str, Any] | None, str, str]:
    """(event id, body or None, report code, why) for one stored row."""
    event_id = _text(raw_id)
    if event_id.encode("utf-8") != raw_id or not event_id:
        return event_id, None, "outbox_bad_event_id", "bad_event_id: the event id is not UTF-8 text"
    body, why = _json_object(raw_body)
    if body is not None and not isinstance(body.get("registry"), dict):
        body, why = None, 'no_registry_object: the body has no "registry" object'
    if body is None:
        return event_id, None, "outbox_" + why.split(":", 1)[0], why
    return event_id, body, "", ""


def _text(raw: bytes | str | None) -> str:
    """Stored text for display and logs, whatever bytes damage left in it."""
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")


def _time_or_none(text: str | None) -> datetime | None:
    try:
        return None if text is None else datetime.fromisoformat(text)
    except ValueError:
        return None


def _aware_text(at: datetime) -> str:
    if at.utcoffset() is None:
        raise ValueError(f"outbox: {at!r} has no UTC offset; retention cutoffs must be aware datetimes")
    return at.isoformat()
