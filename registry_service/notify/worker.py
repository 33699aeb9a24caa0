"""The notice worker `cylinder-registry serve` runs in the background when a sender is configured
(`cylinder-registry send-notices` does one round from cron instead).

A round: once per local day (REGISTRY default_timezone) the due-soon/overdue planning and the purge
of contacts past their keeping day, then one delivery pass. Every node may run it: planning only
inserts what is missing, and delivery claims each notice with a lease. A failing round is logged
and retried next interval; the thread never dies of it. Time comes from the registry's clock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from registry_service.node import Registry
from registry_service.notify.delivery import DEFAULT_POLICY, DeliveryPolicy, deliver_due, node_name
from registry_service.notify.senders import Sender
from registry_service.notify.settings import NoticeSettings
from registry_service.services import notices

log = logging.getLogger(__name__)


@dataclass
class RoundReport:
    planned: dict[str, int] | None
    purged: int | None
    delivered: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"planned": self.planned, "purged": self.purged, "delivered": self.delivered}


class NoticeWorker:
    def __init__(
        self,
        registry: Registry,
        settings: NoticeSettings,
        senders: dict[str, Sender] | None = None,
        policy: DeliveryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.senders = settings.senders() if senders is None else senders
        self.policy = policy
        self.node = node_name()
        self._planned_on: date | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notice-worker", daemon=True)

    def start(self) -> NoticeWorker:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def run_once(self) -> RoundReport:
        now = self.registry.clock()
        today = now.astimezone(self.registry.default_zone).date()
        planned = purged = None
        if self._planned_on != today:
            due_soon_days = self.registry.config.due_soon_days
            planned = self.registry.transaction(lambda s: notices.plan_due_notices(s, today, due_soon_days, now)).to_json()
            purged = self.registry.transaction(lambda s: notices.purge_contacts(s, today, now))
            self._planned_on = today
        delivered = deliver_due(
            self.registry.sessions, self.senders, now, self.policy, language=self.settings.language, node=self.node
        )
        return RoundReport(planned, purged, delivered.to_json())

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage or a bug: log, and try again next interval
                log.exception("notice round failed; retrying in %.0f s", self.settings.interval_s)
            self._stop.wait(self.settings.interval_s)
