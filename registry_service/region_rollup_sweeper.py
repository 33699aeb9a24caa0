"""The region totals job `cylinder-registry serve` runs in the background (docs/performance.md,
"At national size"; services/region_rollups.py).

Every `region_rollup_interval_s` it rolls the closed local days into the per-region day totals, by
the registry's own clock (Registry.clock, injected in tests). Several nodes may run it: on
PostgreSQL one node rolls at a time (an advisory lock; the others skip the round), on SQLite the
database's writer lock serialises them. A failing round is logged and retried; the thread never
dies of it. Whatever it has not rolled yet, the overview reads from the station totals.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from registry_service.node import Registry
from registry_service.services import region_rollups

log = logging.getLogger(__name__)


class RegionRollupSweeper:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.interval_s = registry.config.region_rollup_interval_s
        self.lag = timedelta(seconds=registry.config.region_rollup_lag_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="region-rollup", daemon=True)

    def start(self) -> RegionRollupSweeper:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def run_once(self) -> region_rollups.RollResult:
        offset = self.registry.config.report_utc_offset_hours
        return self.registry.transaction(lambda s: region_rollups.roll(s, self.registry.clock(), offset, self.lag))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage or a bug: log, and try again next interval
                log.exception("region totals roll failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)
