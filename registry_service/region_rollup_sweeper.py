"""The region totals job `cylinder-registry serve` runs in the background (docs/performance.md,
"At national size"; services/region_rollups.py).

Every `region_rollup_interval_s` it rolls the closed local days into the per-region day totals, by
the registry's own clock (Registry.clock, injected in tests). Several nodes may run it: on
PostgreSQL one node rolls at a time (an advisory lock; the others skip the round), on SQLite the
database's writer lock serialises them. A failing round is logged and retried; the thread never
dies of it. Whatever it has not rolled yet, the overview reads from the station totals.
"""

from __future__ import annotations

from datetime import timedelta

from registry_service.node import Registry
from registry_service.periodic import PeriodicJob
from registry_service.services import region_rollups


class RegionRollupSweeper(PeriodicJob):
    name = "region totals roll"

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.interval_s = registry.config.region_rollup_interval_s
        self.lag = timedelta(seconds=registry.config.region_rollup_lag_s)
        super().__init__()

    def run_once(self) -> region_rollups.RollResult:
        offset = self.registry.config.report_utc_offset_hours
        return self.registry.transaction(lambda s: region_rollups.roll(s, self.registry.clock(), offset, self.lag))
