"""A per-client token bucket for the anonymous manual lookup (POST /verify/lookup).

Why not Flask-Limiter: it is not in the lock files (requirements/*.lock.txt), and adding it brings
`limits`, `rich` and `ordered-set` into the runtime for one endpoint; with in-memory storage it
would count per process exactly as this does. The registry's log-in throttle
(services/login_throttle.py) keeps its state in the database because a lock-out must hold on every
node; a lookup limit only has to make enumeration slow, so per process is enough (with N nodes
behind one address a client gets at most N times the rate; a proxy's own limit, e.g. nginx
`limit_req`, can sit in front).

Each client (its address, as waitress reports it behind a trusted proxy) has a bucket of
`burst` lookups that refills one every `every_s` seconds: a driver checking the two or three
cylinders of a taxi is never slowed, a script walking ID numbers gets `3600 / every_s` an hour.
The clock is a parameter (monotonic seconds) so tests can move it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from registry_service.errors import RegistryError

MAX_CLIENTS: Final = 100_000  # buckets kept; the least recently seen go first


class LookupLimited(RegistryError):
    """Too many lookups from this client: 429 with Retry-After (problems.py sends it)."""

    status = 429
    type_slug = "too-many-lookups"
    title = "Too many lookups"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many lookups from this address; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LookupRate:
    burst: int = 6  # lookups in a row
    every_s: float = 120.0  # one more lookup per this many seconds (30 an hour)


class LookupLimiter:
    def __init__(self, rate: LookupRate = LookupRate(), clock: Callable[[], float] = time.monotonic) -> None:
        if rate.burst < 1 or rate.every_s <= 0:
            raise ValueError("a lookup rate needs a burst of at least 1 and a positive refill time")
        self.rate = rate
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        """Spend one lookup of `client`'s bucket, or raise LookupLimited saying when the next is due."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.rate.burst), now))
            tokens = min(float(self.rate.burst), tokens + (now - at) / self.rate.every_s)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                raise LookupLimited(max(1, math.ceil((1.0 - tokens) * self.rate.every_s)))
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
