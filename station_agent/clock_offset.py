"""How far the station's wall clock is from the registry's, measured on every answer that carries
`registry_time` (status checks and uploads; schemas/registry-api.yaml).

The estimate is NTP's simplest one: the registry stamped its answer somewhere between our send and
our receipt, so offset = midpoint of (sent, received) - registry_time, with an error of at most half
the round trip. The sample with the shortest round trip among recent ones wins (the least queueing).
Every event carries the offset, so the bureau can place events of a station whose clock is wrong,
and the attendant is shown a skewed clock. Time is a parameter.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

SAMPLES_KEPT = 8
MAX_AGE_S = 3600.0  # an estimate older than this says nothing about the clock now (it may have been stepped)


@dataclass(frozen=True)
class Sample:
    offset_ms: int
    round_trip_ms: int
    taken_at: float  # monotonic


class ClockOffset:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._samples: deque[Sample] = deque(maxlen=SAMPLES_KEPT)
        self._lock = threading.Lock()

    def observe(self, sent: datetime, received: datetime, registry_time: datetime) -> None:
        round_trip = received - sent
        midpoint = sent + round_trip / 2
        sample = Sample(
            round((midpoint - registry_time).total_seconds() * 1000),
            max(0, round(round_trip.total_seconds() * 1000)),
            self.monotonic(),
        )
        with self._lock:
            self._samples.append(sample)

    def forget(self) -> None:
        """The wall clock jumped: earlier samples no longer describe it."""
        with self._lock:
            self._samples.clear()

    def offset_ms(self) -> int | None:
        """Station clock minus registry clock (positive: the station is fast), or None when unknown."""
        now = self.monotonic()
        with self._lock:
            fresh = [s for s in self._samples if now - s.taken_at <= MAX_AGE_S]
        if not fresh:
            return None
        return min(fresh, key=lambda s: s.round_trip_ms).offset_ms
