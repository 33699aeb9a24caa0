"""The local outbox: every scan event is committed here before the pump may be enabled.

SQLite in WAL mode with synchronous=FULL: once `add()` returns, the event survives kill -9 and
power loss. Events carry a UUID chosen at the station, and the registry ignores UUIDs it already
has, so an upload retried after a crash cannot duplicate anything. The same file keeps the last
good trust list, the revocation cursor and the time each cylinder was last filled.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from station_agent.errors import OutboxCorruptError, OutboxError, OutboxFullError

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Pending:
    event_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Counts:
    total: int
    unsent: int
    rejected: int


class Outbox:
    """Thread-safe (one connection behind a lock): the agent loop writes, the sender reads and marks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        except (OSError, sqlite3.Error) as error:
            raise OutboxError(f"cannot open the outbox {path}: {error}") from error
        with self._guard("open"):
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # No automatic checkpoint: it would run inside whichever commit crosses the threshold,
            # i.e. sometimes between a read and the pump. The agent checkpoints while idle instead.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {result}")
            self._db.executescript(SCHEMA)

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
                f"outbox {self.path} is corrupt ({error}); move it aside and restart (unsent events in it are lost "
                "unless recovered with `sqlite3 .recover`)"
            ) from error

    def add(self, event_id: str, body: dict[str, Any]) -> None:
        """Commit one event durably. Raises OutboxError (full, corrupt, I/O): the caller must not fill."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        with self._lock, self._guard("store an event"):
            self._db.execute("INSERT INTO events (event_id, body) VALUES (?, ?)", (event_id, text))

    def add_with_fills(self, event_id: str, body: dict[str, Any], cylinders: list[str], at: datetime) -> None:
        """Commit an event and, in the same transaction, the fill times of the vehicle's cylinders."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        with self._lock, self._guard("store an event"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO events (event_id, body) VALUES (?, ?)", (event_id, text))
                self._db.executemany("INSERT OR REPLACE INTO fills (cylinder_id, filled_at) VALUES (?, ?)",
                                     [(c, at.isoformat()) for c in cylinders])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite already rolled back on SQLITE_FULL
                    self._db.execute("ROLLBACK")
                raise

    def record_fill(self, cylinders: list[str], at: datetime) -> None:
        with self._lock, self._guard("record a fill"):
            self._db.executemany("INSERT OR REPLACE INTO fills (cylinder_id, filled_at) VALUES (?, ?)",
                                 [(c, at.isoformat()) for c in cylinders])

    def last_fill(self, cylinder_id: str) -> datetime | None:
        with self._lock, self._guard("read fill times"):
            row = self._db.execute("SELECT filled_at FROM fills WHERE cylinder_id = ?", (cylinder_id,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def unsent(self, limit: int) -> list[Pending]:
        with self._lock, self._guard("read unsent events"):
            rows = self._db.execute(
                "SELECT event_id, body FROM events WHERE sent_at IS NULL AND rejected IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [Pending(event_id, json.loads(body)) for event_id, body in rows]

    def mark_sent(self, event_ids: list[str], at: datetime) -> None:
        with self._lock, self._guard("mark events sent"):
            self._db.executemany("UPDATE events SET sent_at = ? WHERE event_id = ?", [(at.isoformat(), e) for e in event_ids])

    def mark_rejected(self, event_id: str, why: str) -> None:
        """The registry refused this event as invalid: keep it locally, stop retrying it."""
        with self._lock, self._guard("mark an event rejected"):
            self._db.execute("UPDATE events SET rejected = ? WHERE event_id = ?", (why[:500], event_id))

    def counts(self) -> Counts:
        with self._lock, self._guard("count events"):
            total, unsent, rejected = self._db.execute(
                "SELECT count(*), sum(sent_at IS NULL AND rejected IS NULL), sum(rejected IS NOT NULL) FROM events"
            ).fetchone()
        return Counts(total, unsent or 0, rejected or 0)

    def event_ids(self) -> list[str]:
        with self._lock, self._guard("list events"):
            return [r[0] for r in self._db.execute("SELECT event_id FROM events ORDER BY seq")]

    def get_state(self, key: str) -> bytes | None:
        with self._lock, self._guard("read saved state"):
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def put_state(self, key: str, value: bytes) -> None:
        with self._lock, self._guard("save state"):
            self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def checkpoint(self) -> tuple[int, int]:
        """Copy committed WAL pages into the database (PASSIVE: never waits on readers).
        Returns (WAL pages, pages checkpointed)."""
        with self._lock, self._guard("checkpoint the journal"):
            _busy, log_pages, done = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(log_pages), int(done)

    def close(self) -> None:
        with self._lock:
            self._db.close()
