"""How often a supervisor password may be tried at the booth: per supervisor id and per client.

Each wrong password counts against the supervisor id it named and against the client (remote
address) that sent it. After a failure the next try must wait an exponentially growing delay
(1 s, 2 s, 4 s, ...); `lock_after` failures within `lock_for` lock that key for `lock_for`, during
which even the right password is refused. A supervisor's counter is reset by a right password;
a client's counter only ages out (a booth that types the right password now and then cannot
be used to guess another supervisor's without limit). Time is the caller's monotonic clock, so
stepping the wall clock neither lifts nor extends a lock. In memory: a restart of the agent (which
the booth cannot cause) starts afresh. The table is bounded so that made-up supervisor ids cannot
grow it without limit.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from station_agent.errors import OverrideLocked

MAX_KEYS = 4096
BASE_DELAY_S = 1.0


@dataclass
class _Counter:
    failures: deque[float] = field(default_factory=deque)  # monotonic times within the window
    not_before: float = 0.0  # no try before this (delay or lock)
    locked_until: float = 0.0


@dataclass(frozen=True)
class Failure:
    """What one wrong password did: which keys it locked now (each lock is reported once)."""

    newly_locked: tuple[str, ...]
    locked_until: float


class PasswordThrottle:
    """Thread-safe. Keys are "supervisor:<id>" and "client:<address>"."""

    def __init__(self, *, lock_after: int = 5, lock_for_s: float = 900.0, base_delay_s: float = BASE_DELAY_S) -> None:
        self.lock_after = lock_after
        self.lock_for_s = lock_for_s
        self.base_delay_s = base_delay_s
        self._counters: dict[str, _Counter] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(supervisor_id: str, client: str) -> tuple[str, str]:
        return f"supervisor:{supervisor_id}", f"client:{client}"

    def check(self, supervisor_id: str, client: str, now: float) -> None:
        """OverrideLocked when either key must still wait; the password is then not even looked at."""
        with self._lock:
            wait, locked = 0.0, False
            for key in self.keys(supervisor_id, client):
                counter = self._counters.get(key)
                if counter is None:
                    continue
                wait = max(wait, counter.not_before - now)
                locked = locked or counter.locked_until > now
        if locked:
            minutes = max(1, math.ceil(wait / 60))
            raise OverrideLocked(f"locked after too many wrong passwords, try again in {minutes} min", retry_after_s=wait)
        if wait > 0:
            raise OverrideLocked(f"too many wrong passwords, try again in {math.ceil(wait)} s", retry_after_s=wait)

    def failed(self, supervisor_id: str, client: str, now: float) -> Failure:
        """Count a wrong password against both keys; say which of them it locked."""
        locked: list[str] = []
        until = 0.0
        with self._lock:
            for key in self.keys(supervisor_id, client):
                counter = self._counter(key, now)
                while counter.failures and counter.failures[0] <= now - self.lock_for_s:
                    counter.failures.popleft()
                counter.failures.append(now)
                if len(counter.failures) >= self.lock_after:
                    counter.failures.clear()
                    counter.locked_until = counter.not_before = now + self.lock_for_s
                    locked.append(key)
                    until = counter.locked_until
                else:
                    delay = self.base_delay_s * 2 ** (len(counter.failures) - 1)
                    counter.not_before = max(counter.not_before, now + delay)
        return Failure(tuple(locked), until)

    def succeeded(self, supervisor_id: str, client: str) -> None:
        with self._lock:
            self._counters.pop(self.keys(supervisor_id, client)[0], None)

    def _counter(self, key: str, now: float) -> _Counter:
        counter = self._counters.get(key)
        if counter is None:
            if len(self._counters) >= MAX_KEYS:
                self._forget_idle(now)
            counter = self._counters[key] = _Counter()
        return counter

    def _forget_idle(self, now: float) -> None:
        """Drop keys with nothing pending; if every key is busy, the oldest half (an attack with
        made-up ids: the per-client key still throttles it)."""
        idle = [
            k
            for k, c in self._counters.items()
            if c.not_before <= now and (not c.failures or c.failures[-1] <= now - self.lock_for_s)
        ]
        for key in idle:
            del self._counters[key]
        if len(self._counters) >= MAX_KEYS:
            oldest = sorted(
                self._counters,
                key=lambda k: self._counters[k].failures[-1] if self._counters[k].failures else self._counters[k].locked_until,
            )
            for key in oldest[: MAX_KEYS // 2]:
                del self._counters[key]
