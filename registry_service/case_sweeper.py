"""The case deadline sweep `cylinder-registry serve` runs in the background (docs/grid.md,
"Deadlines and escalation").

Every `case_sweep_interval_s` it escalates the open cases whose step deadline has passed
(services/cases.sweep_deadlines), by the registry's own clock (Registry.clock, injected in tests).
Several nodes may run it: on PostgreSQL each round locks the cases it takes (SKIP LOCKED), so two
nodes never escalate one case twice for one missed deadline. A failing round is logged and retried;
the thread never dies of it.
"""

from __future__ import annotations

from registry_service import case_rules
from registry_service.models import Case
from registry_service.node import Registry
from registry_service.periodic import PeriodicJob
from registry_service.services import cases


class CaseSweeper(PeriodicJob):
    name = "case deadline sweep"

    def __init__(self, registry: Registry, rules: case_rules.CaseRules | None = None) -> None:
        self.registry = registry
        self.rules = rules or case_rules.active()
        self.interval_s = registry.config.case_sweep_interval_s
        super().__init__()

    def run_once(self) -> list[Case]:
        """One round: everything past its deadline now, in batches (a node back after an outage
        catches up in one round)."""
        touched: list[Case] = []
        while True:
            batch = self.registry.transaction(lambda s: cases.sweep_deadlines(s, self.registry.clock(), self.rules))
            touched.extend(batch)
            if len(batch) < cases.SWEEP_BATCH or self.stopping:
                return touched
