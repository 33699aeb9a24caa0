"""The silent-station sweep `cylinder-registry serve` runs in the background (docs/operations.md,
"Heartbeats and silent stations").

Every `silent_sweep_interval_s` it opens a silent alarm for each open station whose newest
heartbeat is older than `silent_after_s` (services/station_health.sweep_silent), by the registry's
own clock (Registry.clock, injected in tests). Several nodes may run it: a station already alarmed
is skipped, so a race costs at most a second alarm row for the same silence, cleared together by
the next heartbeat. A failing round is logged and retried; the thread never dies of it.
"""

from __future__ import annotations

from datetime import timedelta

from registry_service.models import StationAlarm
from registry_service.node import Registry
from registry_service.periodic import PeriodicJob
from registry_service.services import station_health


class SilentSweeper(PeriodicJob):
    name = "silent-station sweep"

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.interval_s = registry.config.silent_sweep_interval_s
        self.silent_after = timedelta(seconds=registry.config.silent_after_s)
        super().__init__()

    def run_once(self) -> list[StationAlarm]:
        zone = self.registry.default_zone
        return self.registry.transaction(
            lambda s: station_health.sweep_silent(s, self.registry.clock(), self.silent_after, zone=zone)
        )
