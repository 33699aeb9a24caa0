"""COMMITs on a PostgreSQL with synchronous replication (Patroni's strict synchronous mode): a
change is acknowledged only once a synchronous standby has it.

PostgreSQL holds a COMMIT until a standby confirms it, and with no standby streaming (the moments
after a failover, or two members of three down) it holds it for as long as that lasts: the
statement timeout does not apply to the wait. Two things here:

- A COMMIT whose wait is cut short (a cancel, a shutdown) returns as committed, on the leader
  alone, with a WARNING from syncrep.c. `watch_notices` notes that warning (recognised by its
  source file, so in any server language) and `commit` answers WriteUnconfirmed (503 with
  Retry-After) instead of acknowledging a change a failover could lose. The client sends it again;
  the station paths are idempotent.
- `CommitWatch` cancels a COMMIT still waiting after `RegistryConfig.commit_wait_s`, so requests
  do not hold every server thread while no standby streams: writes get 503 and Retry-After, and
  the reads (status checks, the bureau) go on being answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from registry_service.errors import WriteUnconfirmed

log = logging.getLogger(__name__)

# psycopg delivers a notice in the thread that runs the statement: one slot per thread.
_warning = threading.local()


def watch_notices(dbapi_connection: object, _record: object) -> None:
    """Engine "connect" hook: note synchronous replication's warnings on this connection."""
    add_notice_handler = getattr(dbapi_connection, "add_notice_handler", None)
    if add_notice_handler is not None:  # psycopg 3
        add_notice_handler(_note)


def _note(diagnostic: Any) -> None:
    if diagnostic.source_file == "syncrep.c" and diagnostic.severity_nonlocalized == "WARNING":
        _warning.message = diagnostic.message_primary


class CommitWatch:
    """Cancels COMMITs that wait longer than `wait_s` (for a synchronous standby).

    One daemon thread per registry node, started on first use, looks every `wait_s / 4` (at most
    a second) for COMMITs past their deadline: no wake-up per COMMIT.
    """

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._waiting: dict[object, tuple[float, Any]] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, dbapi_connection: Any) -> Iterator[None]:
        token = object()
        with self._lock:
            self._waiting[token] = (time.monotonic() + self.wait_s, dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="commit-watch", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:  # after this the connection may go back to the pool: no cancel reaches it
                self._waiting.pop(token, None)

    def _run(self) -> None:
        interval = min(1.0, self.wait_s / 4)
        while True:
            time.sleep(interval)
            now = time.monotonic()
            with self._lock:  # held while cancelling: the COMMIT's owner cannot release its connection meanwhile
                for token, (deadline, connection) in list(self._waiting.items()):
                    if deadline <= now:
                        del self._waiting[token]
                        log.warning("a COMMIT waited %.1f s for a synchronous standby: cancelling it", self.wait_s)
                        _cancel(connection)


def _cancel(connection: Any) -> None:
    try:
        cancel = getattr(connection, "cancel_safe", None) or connection.cancel
        cancel()
    except Exception:  # the COMMIT may have ended meanwhile; a failed cancel leaves it waiting
        log.warning("cancelling a waiting COMMIT failed", exc_info=True)


def commit(session: Session, watch: CommitWatch | None) -> None:
    """Commit `session`'s transaction; WriteUnconfirmed when no synchronous standby confirmed it."""
    _warning.message = None
    if watch is None:
        session.commit()
    else:
        with watch.watching(session.connection().connection.dbapi_connection):
            session.commit()
    message = _warning.message
    if message is not None:
        _warning.message = None
        log.warning("a COMMIT was not confirmed by a synchronous standby: %s", message)
        raise WriteUnconfirmed("the change is not yet on a standby; send it again shortly")
