"""One registry node's shared state (`Registry`: engine, sessions, token cache, clock) and how a
request finds it. Below the web modules: the API, the dashboard and the app factory import it,
it imports none of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import current_app
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from registry_service.config import RegistryConfig
from registry_service.db import (
    ReportRoute,
    make_engine,
    make_reader_engine,
    make_session_factory,
    make_station_engine,
    pg_session_options,
    run_in_transaction,
    run_read_only,
)
from registry_service.principal import Principal, TokenCache, resolve_token_row, resolve_token_row_pg
from registry_service.services.status_reads import CoreStatusReads, StatusReads, ThreadLocalPg
from registry_service.services.trust import TrustStoreCache
from registry_service.sync_commit import CommitWatch

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    """Per-app state shared by all requests of one node (thread-safe)."""

    def __init__(self, config: RegistryConfig, engine: Engine | None = None, clock: Clock = utc_now) -> None:
        self.config = config
        self.engine = engine or make_engine(config)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        reader = make_reader_engine(config)
        self.reports = ReportRoute(reader, config.reader_max_lag_s) if reader is not None else None
        self._wait_s = config.reconnect_wait_s
        self._commit_watch = (
            CommitWatch(config.commit_wait_s) if config.commit_wait_s > 0 and self.engine.dialect.name == "postgresql" else None
        )
        self.clock = clock
        self.default_zone = config.zone()  # "today" for status requests that name no zone
        self.tokens = TokenCache(config.token_cache_s, config.token_cache_listening_s)
        # Set after a revocation commits: the status publisher (if this node runs one) publishes at
        # once instead of at its next interval, so a revocation reaches stations within one sync.
        self.revoked = threading.Event()
        self.trust_stores = TrustStoreCache()
        postgresql = self.engine.dialect.name == "postgresql"
        self._pg_status = (
            ThreadLocalPg(
                self.engine,
                options=pg_session_options(
                    lock_wait_s=config.lock_wait_s, statement_timeout_s=config.station_statement_timeout_s
                ),
                wait_s=config.reconnect_wait_s,
            )
            if postgresql
            else None
        )
        # Station uploads: on PostgreSQL a pool whose sessions carry the station statement timeout
        # (db.make_station_engine); SQLite has none, its busy timeout (lock_wait_s) bounds the wait.
        self.station_engine = make_station_engine(config, self.engine)
        self._station_sessions = make_session_factory(self.station_engine) if self.station_engine is not None else self.sessions

    def transaction(self, work: Callable[[Session], T]) -> T:
        return run_in_transaction(self.sessions, work, wait_s=self._wait_s, commit_watch=self._commit_watch)

    def station_transaction(self, work: Callable[[Session], T]) -> T:
        """A station's upload: like `transaction`, bounded by station_statement_timeout_s on PostgreSQL."""
        return run_in_transaction(self._station_sessions, work, wait_s=self._wait_s, commit_watch=self._commit_watch)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Read-only work on an autocommit connection: no BEGIN/COMMIT round trips."""
        return run_read_only(self.autocommit, work, wait_s=self._wait_s)

    def report(self, work: Callable[[Session], T]) -> T:
        """The bureau's queries, exports and reports (read-only work): on a replica that is at most
        config.reader_max_lag_s behind when a reader database is configured, else on the writer."""
        if self.reports is None:
            return self.transaction(work)
        return self.reports.run(work, self.transaction)

    def status_read(self, work: Callable[[StatusReads], T]) -> T:
        """Status lookups: psycopg directly on PostgreSQL (see services/status_reads.py), else Core."""
        if self._pg_status is not None:
            return self._pg_status.run(work)
        return self.read(lambda connection: work(CoreStatusReads(connection)))

    def authenticate(self, token: str) -> Principal:
        now = self.clock()
        cached = self.tokens.get(token, now)
        if cached is not None:
            return cached
        generation = self.tokens.generation  # before the read: an eviction during it keeps it uncached
        # One read on an autocommit connection: no session, BEGIN or COMMIT for a cache miss; on
        # PostgreSQL as prepared statements on the status path's connection of this thread.
        if self._pg_status is not None:
            principal, expires = self._pg_status.run(lambda pg: resolve_token_row_pg(pg, token, now))
        else:
            principal, expires = self.read(lambda connection: resolve_token_row(connection, token, now))
        self.tokens.put(token, principal, expires, generation)
        return principal


def registry() -> Registry:
    return current_app.extensions["registry"]  # type: ignore[no-any-return]
