"""Engine and sessions. One engine per app; sessions are short and per request.

pool_pre_ping plus `run_in_transaction`'s retry let a node ride out a database restart without
being restarted itself: stale pooled connections are dropped and the unit of work is replayed.
`RegistryConfig.reconnect_wait_s` stretches the replaying over a Patroni switchover or failover
(`Reconnect`); with a libpq multi-host URL (`target_session_attrs=read-write`) the new connection
finds the new leader by itself.

Two engines when the config names a reader database (`make_reader_engine`): the writer for writes
and the station paths, and a reader for the bureau's queries, exports and reports, used while its
replica's replay lag is within the staleness bound, else the writer (`ReportRoute`). On PostgreSQL
the stations' uploads have a pool of their own on the writer's database (`make_station_engine`),
whose sessions carry the station statement timeout.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from registry_service import sync_commit
from registry_service.config import RegistryConfig
from registry_service.errors import ConfigError, DatabaseBusy, ServiceUnavailable
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
    return _server_engine(url, config, application_name="cylinder-registry", recycle_s=1800)


def make_reader_engine(config: RegistryConfig) -> Engine | None:
    """The engine for the bureau's reads (config.reader_database_url), or None when there is none.

    Its transactions are READ ONLY, so a report that landed on the leader behaves as on a replica.
    Connections are recycled after a minute: one opened on the leader while no replica was up
    (`target_session_attrs=prefer-standby`) moves back to a replica soon after one returns.
    """
    if not config.reader_database_url:
        return None
    url = make_url(config.reader_database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError("the reader database must be PostgreSQL (a streaming replica, or a multi-host URL of them)")
    engine = _server_engine(url, config, application_name="cylinder-registry-reader", recycle_s=60)
    return engine.execution_options(postgresql_readonly=True)


def make_station_engine(config: RegistryConfig, writer: Engine) -> Engine | None:
    """The engine for the stations' uploads on PostgreSQL (None on SQLite): the writer's database,
    with `station_statement_timeout_s` as each of its sessions' statement_timeout.

    A session setting of its own pool, not `SET LOCAL` in each upload: that was one more round trip
    (and statement) per station transaction, the most frequent write. The bureau's and admin
    transactions stay on the writer's pool, unbounded. Same pool size and reconnect handling as the
    writer's (`_server_engine`); SQLite has no statement timeout (its busy timeout bounds the wait).
    """
    if writer.dialect.name != "postgresql":
        return None
    return _server_engine(
        writer.url,
        config,
        application_name="cylinder-registry",
        recycle_s=1800,
        statement_timeout_s=config.station_statement_timeout_s,
    )


def _server_engine(
    url: URL, config: RegistryConfig, *, application_name: str, recycle_s: int, statement_timeout_s: float | None = None
) -> Engine:
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
        pool_recycle=recycle_s,
        connect_args={
            "connect_timeout": 5,
            "application_name": application_name,
            "options": pg_session_options(lock_wait_s=config.lock_wait_s, statement_timeout_s=statement_timeout_s),
        },
    )
    event.listen(engine, "handle_error", _mark_stale)
    event.listen(engine, "connect", sync_commit.watch_notices)
    return engine


def libpq_conninfo(engine: Engine) -> str:
    """The engine's own connection parameters as a libpq conninfo, for the connections the registry
    opens with psycopg itself (status reads, the token watch), so that a multi-host URL (a Patroni
    cluster, one host= per member with target_session_attrs) reaches libpq as the engine's pool sees it."""
    from psycopg.conninfo import make_conninfo

    _, parameters = engine.dialect.create_connect_args(make_url(engine.url))
    return make_conninfo("", **{k: v for k, v in parameters.items() if isinstance(v, (str, int))})


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
    wait_s: float = 0.0,
    commit_watch: sync_commit.CommitWatch | None = None,
) -> T:
    """Run `work` in one transaction, replaying it when the connection was lost (see `Reconnect`).

    Replaying is safe because `work` is a whole unit of work that never committed. (A connection
    lost during COMMIT leaves it unknown whether it did; the station paths are idempotent for that
    reason: services/events.py.) A COMMIT that no synchronous standby confirmed is answered
    WriteUnconfirmed (sync_commit.py), bounded by `commit_watch` when one is given.
    """

    def once() -> T:
        with sessions() as session:
            session.begin()
            result = work(session)
            session.flush()
            sync_commit.commit(session, commit_watch)
            return result

    return _retry_on_disconnect(once, Reconnect(attempts, backoff_s, wait_s))


def run_read_only(
    engine: Engine, work: Callable[[Connection], T], *, attempts: int = 3, backoff_s: float = 0.2, wait_s: float = 0.0
) -> T:
    """Like run_in_transaction, for reads on a plain (autocommit) connection."""

    def once() -> T:
        with engine.connect() as connection:
            return work(connection)

    return _retry_on_disconnect(once, Reconnect(attempts, backoff_s, wait_s))


MAX_PAUSE_S = 0.5  # between two tries: a request notices a new leader within half a second


@dataclass(frozen=True)
class Reconnect:
    """How a request rides out a lost connection before it is answered 503 with Retry-After.

    At least `attempts` tries, and more until `wait_s` has passed since the first, sleeping
    `backoff_s` times the attempt number (at most MAX_PAUSE_S) between them. `wait_s` 0 keeps the
    three quick tries that cover a dropped pooled connection; on a Patroni cluster a few seconds
    (RegistryConfig.reconnect_wait_s) cover a planned switchover, so no request fails, while a
    failover that takes longer still answers 503 instead of holding stations past their timeouts.
    """

    attempts: int = 3
    backoff_s: float = 0.2
    wait_s: float = 0.0

    def pause_s(self, attempt: int, elapsed_s: float) -> float | None:
        """Seconds to sleep before the next try after failed try `attempt`, or None to give up."""
        pause = min(self.backoff_s * attempt, MAX_PAUSE_S)
        if attempt < self.attempts or elapsed_s + pause <= self.wait_s:
            return pause
        return None


def _retry_on_disconnect(once: Callable[[], T], policy: Reconnect) -> T:
    """Call `once`, again after a lost connection (pool_pre_ping cannot catch a drop mid-request)."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return once()
        except (OperationalError, DBAPIError) as exc:
            if is_busy(exc):
                log.info("database busy, answering 503: %s", exc.orig)
                raise DatabaseBusy("the database is busy; retry shortly") from exc
            if not is_disconnect(exc):
                raise
            pause = policy.pause_s(attempt, time.monotonic() - started)
            log.log(
                logging.WARNING if attempt == 1 else logging.INFO, "database connection lost (attempt %d): %s", attempt, exc.orig
            )
            if pause is None:
                raise ServiceUnavailable("the database is unreachable; retry shortly") from exc
            time.sleep(pause)
            if _is_stale(_driver_error(exc)):
                # SQLite shares one -shm mapping among all connections of a process to the same
                # file; a dropped read-only connection still referenced from an earlier request's
                # exception (a reference cycle through its traceback) keeps that mapping read-only
                # for every new connection until the cycle is collected. Collect it now.
                gc.collect()


# How far behind its leader a replica is, in seconds: 0 when it has replayed all it received (or
# is the leader itself, where prefer-standby found no replica); NULL when no WAL receiver runs (cut
# off from the leader, e.g. during a failover: its data may be stale by any amount). A replica
# that has received WAL it has not replayed is behind by the age of the last transaction it did
# replay. Readable without privileges (pg_stat_wal_receiver shows every role its rows' pid).
_REPLAY_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0.0"
    " WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN NULL"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0"
    " ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END"
)


class ReplicaBehind(Exception):
    """The reader's replica is further behind than the staleness bound (not an error: use the writer)."""


class ReportRoute:
    """Where the bureau's queries, exports and reports run: on the reader engine while the replica it
    reached has replayed to within `max_lag_s` of its leader, else on the writer.

    The lag is checked in the report's own (read-only) transaction, one query more per report. A
    reader that cannot be reached at all is not asked again for `pause_s`, so reports do not each
    wait for it while it is down.
    """

    def __init__(
        self,
        reader: Engine,
        max_lag_s: float,
        *,
        pause_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.sessions = make_session_factory(reader)
        self.max_lag_s = max_lag_s
        self.pause_s = pause_s
        self._monotonic = monotonic
        self._skip_until = 0.0

    def run(self, work: Callable[[Session], T], on_writer: Callable[[Callable[[Session], T]], T]) -> T:
        """`work` on a fresh-enough replica, else `on_writer(work)`."""
        if self._monotonic() >= self._skip_until:
            try:
                return run_in_transaction(self.sessions, lambda session: self._checked(session, work), attempts=2)
            except ReplicaBehind as behind:
                log.info("bureau read on the leader: %s", behind)
            except DatabaseBusy:
                raise  # a lock or statement timeout on the replica: the leader would not be faster
            except ServiceUnavailable as exc:
                log.warning(
                    "reader database unreachable, bureau reads go to the leader for %.0f s: %s", self.pause_s, exc.__cause__
                )
                self._skip_until = self._monotonic() + self.pause_s
        return on_writer(work)

    def _checked(self, session: Session, work: Callable[[Session], T]) -> T:
        lag = session.scalar(_REPLAY_LAG)
        if lag is None or lag > self.max_lag_s:
            raise ReplicaBehind("replica not streaming" if lag is None else f"replica {lag:.1f} s behind")
        return work(session)
