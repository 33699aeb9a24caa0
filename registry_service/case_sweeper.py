"""The case deadline sweep `cylinder-registry serve` runs in the background (docs/grid.md,
"Deadlines and escalation").

Every `case_sweep_interval_s` it escalates the open cases whose step deadline has passed
(services/cases.sweep_deadlines), by the registry's own clock (Registry.clock, injected in tests).
Several nodes may run it: on PostgreSQL each round locks the cases it takes (SKIP LOCKED), so two
nodes never escalate one case twice for one missed deadline. A failing round is logged and retried;
the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading

from registry_service import case_rules
from registry_service.models import Case
from registry_service.node import Registry
from registry_service.services import cases

log = logging.getLogger(__name__)


class CaseSweeper:
    def __init__(self, registry: Registry, rules: case_rules.CaseRules | None = None) -> None:
        self.registry = registry
        self.rules = rules or case_rules.active()
        self.interval_s = registry.config.case_sweep_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="case-sweeper", daemon=True)

    def start(self) -> CaseSweeper:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def run_once(self) -> list[Case]:
        """One round: everything past its deadline now, in batches (a node back after an outage
        catches up in one round)."""
        touched: list[Case] = []
        while True:
            batch = self.registry.transaction(lambda s: cases.sweep_deadlines(s, self.registry.clock(), self.rules))
            touched.extend(batch)
            if len(batch) < cases.SWEEP_BATCH or self._stop.is_set():
                return touched

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage or a bug: log, and try again next interval
                log.exception("case deadline sweep failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)
