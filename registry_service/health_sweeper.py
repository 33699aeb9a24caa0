"""The silent-station sweep `cylinder-registry serve` runs in the background (docs/operations.md,
"Heartbeats and silent stations").

Every `silent_sweep_interval_s` it opens a silent alarm for each open station whose newest
heartbeat is older than `silent_after_s` (services/station_health.sweep_silent), by the registry's
own clock (Registry.clock, injected in tests). Several nodes may run it: a station already alarmed
is skipped, so a race costs at most a second alarm row for the same silence, cleared together by
the next heartbeat. A failing round is logged and retried; the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from registry_service.models import StationAlarm
from registry_service.node import Registry
from registry_service.services import station_health

log = logging.getLogger(__name__)


class SilentSweeper:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.interval_s = registry.config.silent_sweep_interval_s
        self.silent_after = timedelta(seconds=registry.config.silent_after_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="silent-sweeper", daemon=True)

    def start(self) -> SilentSweeper:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def run_once(self) -> list[StationAlarm]:
        zone = self.registry.default_zone
        return self.registry.transaction(
            lambda s: station_health.sweep_silent(s, self.registry.clock(), self.silent_after, zone=zone)
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage or a bug: log, and try again next interval
                log.exception("silent-station sweep failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)
