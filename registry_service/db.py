"""Engine and sessions. One engine per app; sessions are short and per request.

pool_pre_ping plus `run_in_transaction`'s retry let a node ride out a database restart without
being restarted itself: stale pooled connections are dropped and the unit of work is replayed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from registry_service.config import RegistryConfig
from registry_service.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_engine(config: RegistryConfig) -> Engine:
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite":
        memory = url.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            echo=config.echo_sql,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        echo=config.echo_sql,
        # No pre-ping round trip per checkout: a connection that died with the server fails its
        # first statement, SQLAlchemy invalidates the pool, and run_* replays the unit of work.
        pool_pre_ping=config.pool_pre_ping,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_timeout=config.pool_timeout_s,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "cylinder-registry"},
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_disconnect(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError)


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
            if not is_disconnect(exc):
                raise
            log.warning("database connection lost (attempt %d/%d): %s", attempt, attempts, exc.orig)
            if attempt == attempts:
                raise ServiceUnavailable("the database is unreachable; retry shortly") from exc
            time.sleep(backoff_s * attempt)
    raise AssertionError("unreachable")
