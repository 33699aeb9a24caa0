"""Engine and sessions. One engine per app; sessions are short and per request.

pool_pre_ping plus `run_in_transaction`'s retry let a node ride out a database restart without
being restarted itself: stale pooled connections are dropped and the unit of work is replayed.

Two faults are told apart from a lost connection, because retrying cannot help within a request:
- Busy: another writer holds the lock longer than `RegistryConfig.lock_wait_s` (SQLite's busy
  timeout, PostgreSQL's lock_timeout / statement_timeout). Answered at once with 503 and a
  Retry-After of a second or two, not held for SQLite's default 30 s times three attempts.
- A connection that cannot write any more although the database may be writable again: SQLite
  opens a file it may not write read-only, silently, and such a connection stays read-only for
  life (as does one whose file hit an I/O error); a PostgreSQL session keeps the
  default_transaction_read_only it started with. Such connections are treated as disconnected
  (`_mark_stale`), so the pool drops them and the next request opens a fresh one: the registry
  answers 200 again as soon as the database is writable, without a restart.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from registry_service.config import RegistryConfig
from registry_service.errors import DatabaseBusy, ServiceUnavailable
from tag_tools import private_files

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLite primary result codes (sqlite3.h); Python's sqlite3 errors carry the extended code.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN = 5, 6, 8, 10, 14
_SQLITE_BUSY_CODES = frozenset({_SQLITE_BUSY, _SQLITE_LOCKED})
_SQLITE_STALE_CODES = frozenset({_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN})
# PostgreSQL SQLSTATEs: lock_not_available (lock_timeout), query_canceled (statement_timeout),
# deadlock_detected; read_only_sql_transaction (a read-only default or a standby).
PG_BUSY_STATES = frozenset({"55P03", "57014", "40P01"})
_PG_STALE_STATES = frozenset({"25006"})


def _private_database_file(path: Path) -> None:
    """A new SQLite database is created 0600 (SQLite gives its -wal and -shm files the same mode);
    an existing one, or its folder, open to other users is left as it is, with a warning."""
    if path.name.startswith("file:") or not path.parent.is_dir():
        return  # a URI filename, or a folder that does not exist: SQLite reports that itself
    private_files.warn_if_open(path.parent, "the registry's database")
    if not private_files.private_file(path):
        private_files.warn_if_open(path, "the registry's data, password hashes and token hashes")


def make_engine(config: RegistryConfig) -> Engine:
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite":
        memory = url.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            echo=config.echo_sql,
            # The busy timeout: how long a write waits for another writer's lock.
            connect_args={"check_same_thread": False, "timeout": config.lock_wait_s},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not memory:  # an in-memory database lives in its one connection: never drop it
            event.listen(engine, "handle_error", _mark_stale)
            _private_database_file(Path(url.database or ""))
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(
        url,
        echo=config.echo_sql,
        # No pre-ping round trip per checkout: a connection that died with the server fails its
        # first statement, SQLAlchemy invalidates the pool, and run_* replays the unit of work.
        pool_pre_ping=config.pool_pre_ping,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_timeout=config.pool_timeout_s,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": 5,
            "application_name": "cylinder-registry",
            "options": pg_session_options(lock_wait_s=config.lock_wait_s),
        },
    )
    event.listen(engine, "handle_error", _mark_stale)
    return engine


def pg_session_options(*, lock_wait_s: float, statement_timeout_s: float | None = None) -> str:
    """libpq `options` for a request-path session: bounded waits for locks (and statements)."""
    options = f"-c lock_timeout={max(1, round(lock_wait_s * 1000))}"
    if statement_timeout_s is not None:
        options += f" -c statement_timeout={max(1, round(statement_timeout_s * 1000))}"
    return options


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _driver_error(exc: BaseException) -> BaseException:
    """The DBAPI error under a SQLAlchemy one (or the error itself)."""
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _sqlite_code(error: BaseException) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException) -> bool:
    """Another writer held a lock longer than this request may wait."""
    error = _driver_error(exc)
    code = _sqlite_code(error)
    if code is not None:
        return code in _SQLITE_BUSY_CODES
    return getattr(error, "sqlstate", None) in PG_BUSY_STATES


def _is_stale(error: BaseException) -> bool:
    code = _sqlite_code(error)
    return code in _SQLITE_STALE_CODES if code is not None else getattr(error, "sqlstate", None) in _PG_STALE_STATES


def _mark_stale(context: ExceptionContext) -> None:
    """handle_error hook: a connection that can no longer write is dropped like a lost one."""
    error = context.original_exception
    stale = _is_stale(error)
    if stale and not context.is_disconnect:
        log.warning("dropping a database connection that cannot write: %s", error)
        context.is_disconnect = True


def is_disconnect(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError) and not is_busy(exc)


def run_in_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    attempts: int = 3,
    backoff_s: float = 0.2,
) -> T:
    """Run `work` in one transaction, replaying it when the connection was lost.

    Replaying is safe because `work` is a whole unit of work that never committed.
    """

    def once() -> T:
        with sessions.begin() as session:
            return work(session)

    return _retry_on_disconnect(once, attempts, backoff_s)


def run_read_only(engine: Engine, work: Callable[[Connection], T], *, attempts: int = 3, backoff_s: float = 0.2) -> T:
    """Like run_in_transaction, for reads on a plain (autocommit) connection."""

    def once() -> T:
        with engine.connect() as connection:
            return work(connection)

    return _retry_on_disconnect(once, attempts, backoff_s)


def _retry_on_disconnect(once: Callable[[], T], attempts: int, backoff_s: float) -> T:
    """Call `once`, again after a lost connection (pool_pre_ping cannot catch a drop mid-request)."""
    for attempt in range(1, attempts + 1):
        try:
            return once()
        except (OperationalError, DBAPIError) as exc:
            if is_busy(exc):
                log.info("database busy, answering 503: %s", exc.orig)
                raise DatabaseBusy("the database is busy; retry shortly") from exc
            if not is_disconnect(exc):
                raise
            log.warning("database connection lost (attempt %d/%d): %s", attempt, attempts, exc.orig)
            if attempt == attempts:
                raise ServiceUnavailable("the database is unreachable; retry shortly") from exc
            time.sleep(backoff_s * attempt)
            if _is_stale(_driver_error(exc)):
                # SQLite shares one -shm mapping among all connections of a process to the same
                # file; a dropped read-only connection still referenced from an earlier request's
                # exception (a reference cycle through its traceback) keeps that mapping read-only
                # for every new connection until the cycle is collected. Collect it now.
                gc.collect()
    raise AssertionError("unreachable")
