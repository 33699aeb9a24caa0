"""What the station knows about the registry's reachability, shared by the read path and the sync
thread: jittered exponential back-off, and a circuit breaker so that once the registry is known
down a read decides offline at once instead of waiting out its budget.

States: closed (ask the registry), open (do not ask until the back-off has passed), half-open (one
caller may try; its result closes or re-opens the breaker). Jitter spreads 10,000 stations that lost
the registry together, so they do not all come back in the same second. Time is a parameter.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

FAILURES_TO_OPEN = 2  # consecutive failures: one lost packet does not send every read offline


class RegistryBreaker:
    def __init__(
        self,
        *,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.monotonic = monotonic
        self.uniform = uniform
        self._lock = threading.Lock()
        self._failures = 0
        self._backoff_s = 0.0
        self._open_until: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        """True while the registry is known down (the back-off has not yet passed)."""
        with self._lock:
            return self._open_until is not None and self.monotonic() < self._open_until

    @property
    def backoff_s(self) -> float:
        return self._backoff_s

    def allow(self) -> bool:
        """May a caller ask the registry now? While open: no. Once the back-off passed: one caller
        (half-open probe) at a time until a result comes back."""
        with self._lock:
            if self._open_until is None:
                return True
            if self.monotonic() < self._open_until or self._probing:
                return False
            self._probing = True
            return True

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._backoff_s = 0.0
            self._open_until = None
            self._probing = False

    def failure(self, retry_after_s: float | None = None) -> float:
        """Note a failed exchange; returns how long to wait before the next try (jittered: between
        half and all of the doubled back-off, never less than the registry's Retry-After)."""
        with self._lock:
            self._failures += 1
            self._probing = False
            self._backoff_s = min(self.max_backoff_s, max(self.first_backoff_s, self._backoff_s * 2))
            wait = self.uniform(self._backoff_s / 2, self._backoff_s)
            if retry_after_s is not None:
                wait = max(wait, min(self.max_backoff_s, retry_after_s))
            if self._failures >= FAILURES_TO_OPEN or retry_after_s is not None:
                self._open_until = self.monotonic() + wait
            return wait
