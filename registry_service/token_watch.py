"""Token revocations reach every registry node as they commit: PostgreSQL LISTEN/NOTIFY.

Each node caches a resolved token (principal.TokenCache) so that a request skips the token lookup.
A station sends a request a minute or so, so a cache of a few seconds misses nearly every time in
production; a longer one would let a revoked token keep working on the nodes that did not take the
revocation. This module removes that trade:

- A transaction that revokes a token, or changes what a user's principal holds (a grid user's
  regions), calls `announce`: `pg_notify` in that transaction, so the message goes out when it
  commits and never for a change rolled back.
- `TokenWatch`, one thread per node (started by `cylinder-registry serve`), listens on the writer
  (the leader, by the engine's own URL) and evicts what each message names. While it listens the
  cache keeps entries `token_cache_listening_s` (default 600 s); when its connection is lost (a
  failover, a restart, a network cut seen by its liveness query) the node empties its cache and
  falls back to `token_cache_s` (10 s) until it listens again, so a message sent while nobody
  listened leaves no stale entry behind (TokenCache.listening).

SQLite has one process serving, whose own revocations evict at once (api/public.py); a revocation
made by another process (the CLI) waits out `token_cache_s` there, as before.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry_service.db import libpq_conninfo
from registry_service.metrics import RegistryMetrics
from registry_service.node import Registry
from registry_service.periodic import PeriodicJob
from registry_service.principal import TokenCache

log = logging.getLogger(__name__)

CHANNEL = "registry_tokens"
TOKEN = "token"  # the payload "token:<id>" names one token ...
USER = "user"  # ... and "user:<id>" every token of one user
LIVENESS_S = 5.0  # a query this often on the listening connection: a silent network cut is seen too
RETRY_S = 1.0  # between attempts to listen again


def announce(session: Session, *, token_id: int | None = None, user_id: int | None = None) -> None:
    """Tell every node, when this transaction commits, to forget a token or a user's tokens (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    payload = f"{TOKEN}:{token_id}" if token_id is not None else f"{USER}:{user_id}"
    session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})


def apply(cache: TokenCache, payload: str) -> None:
    """Evict what one message names; a message this node cannot read empties the cache (the safe side)."""
    kind, _, number = payload.partition(":")
    # Any database user may NOTIFY on the channel: only ASCII digits are an id (int() takes more).
    identifier = int(number) if number.isascii() and number.isdigit() else None
    if identifier is not None and kind == TOKEN:
        cache.forget_token(identifier)
    elif identifier is not None and kind == USER:
        cache.forget_user(identifier)
    else:
        log.warning("token message %r not understood: the token cache is emptied", payload[:80])
        cache.clear()


class TokenWatch(PeriodicJob):
    """The listening thread of one node (PostgreSQL only: `for_registry` gives None elsewhere). A
    round listens until the node stops or the connection is lost; the next begins `retry_s` later."""

    name = "token watch"

    def __init__(
        self,
        conninfo: str,
        cache: TokenCache,
        metrics: RegistryMetrics | None = None,
        *,
        liveness_s: float = LIVENESS_S,
        retry_s: float = RETRY_S,
    ) -> None:
        self._conninfo = conninfo
        self._cache = cache
        self._metrics = metrics
        self._liveness_s = liveness_s
        self.interval_s = retry_s
        self._lost = False  # the connection was lost and not yet back: said once per outage
        self.listening = threading.Event()  # set while LISTEN holds (tests wait on it)
        super().__init__()

    @classmethod
    def for_registry(cls, registry: Registry, metrics: RegistryMetrics | None = None) -> TokenWatch | None:
        if registry.engine.dialect.name != "postgresql":
            return None
        return cls(libpq_conninfo(registry.engine), registry.tokens, metrics)

    def run_once(self) -> None:
        import psycopg

        try:
            self._listen()
        except psycopg.Error as error:
            if not self._lost:
                log.warning(
                    "token watch lost its connection (%s); tokens are cached %.0f s until it listens again",
                    str(error).strip()[:200],
                    self._cache.ttl_s,
                )
            self._lost = True
        finally:
            if self.listening.is_set():
                self._set_listening(False)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name="cylinder-registry-token-watch",
            # A cut network, not only a closed connection, must end the listening within seconds.
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=10_000,
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._set_listening(True)
            self._lost = False
            log.info("token watch listening: tokens are cached %.0f s", self._cache.listening_ttl_s)
            while not self.stopping:
                for message in connection.notifies(timeout=self._liveness_s):
                    apply(self._cache, message.payload)
                connection.execute("SELECT 1")  # raises when the connection is gone

    def _set_listening(self, listening: bool) -> None:
        self._cache.listening(listening)
        if self._metrics is not None:
            self._metrics.token_watch_listening.set(1 if listening else 0)
        if listening:
            self.listening.set()
        else:
            self.listening.clear()
