"""The faults an agent is in right now, each cleared by its own cause going away, and the one fault
report (station_agent.fault_report, schemas/station-fault-report.md) that tells the bureau when a
fault began and when it ended.

A fault that blocks the pump keeps every new fill off while it lasts; the others (a lost reader)
only stop new reads. Nothing here needs a restart: the agent raises a fault where it sees the
failure and clears it where it sees the cause gone (a write to the outbox lands again, the relay
module answers again, the reader reads again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from station_agent.errors import OutboxError
from station_agent.fault_report import MAX_DETAIL, FaultReport, fault_report

log = logging.getLogger(__name__)

# Fault codes (the `code` of a station_fault report). The registry stores unknown codes as they are.
INTERLOCK = "interlock_fault"
OUTBOX_FULL = "outbox_full"
OUTBOX = "outbox_error"
OUTBOX_CORRUPT = "outbox_corrupt"
READER = "reader_lost"
AGENT = "agent_error"
CLOCK_SKEW = "clock_skew"  # shown and reported; reads go on (events carry the offset)
METER = "meter_unreadable"  # the dispenser's totaliser (station_agent.metering): fills go on unmetered

BLOCKING = frozenset({INTERLOCK, OUTBOX_FULL, OUTBOX, OUTBOX_CORRUPT, AGENT})
PENDING_REPORTS_KEPT = 100  # reports waiting for a working outbox; the oldest go first


@dataclass(frozen=True)
class ActiveFault:
    code: str
    detail: str
    since: datetime
    report_id: str

    @property
    def blocks_pump(self) -> bool:
        return self.code in BLOCKING


class FaultBoard:
    """Thread-safe. `store` durably queues a report for upload (the outbox); when it cannot (the
    outbox is what failed) reports wait here and are stored once it works again."""

    def __init__(self, pump: int, store: Callable[[FaultReport], None]) -> None:
        self.pump = pump
        self._store = store
        self._active: dict[str, ActiveFault] = {}
        self._waiting: list[FaultReport] = []
        self._lock = threading.Lock()

    def raise_fault(self, code: str, detail: str, at: datetime) -> bool:
        """Note a fault; True when it is new (a report is queued), False when it was already active."""
        with self._lock:
            if code in self._active:
                return False
            report = fault_report("station_fault", code, detail[:MAX_DETAIL], at=at, pump=self.pump)
            self._active[code] = ActiveFault(code, detail, at, report.report_id)
            self._waiting.append(report)
        log.error("fault %s: %s", code, detail)
        self.flush()
        return True

    def clear(self, code: str, at: datetime) -> bool:
        """The cause went away: True when the fault was active (a clearing report is queued)."""
        with self._lock:
            fault = self._active.pop(code, None)
            if fault is None:
                return False
            # max(): a wall clock stepped back while the fault lasted must not date its end before its start.
            self._waiting.append(
                fault_report(
                    "station_fault",
                    code,
                    fault.detail[:MAX_DETAIL],
                    at=fault.since,
                    pump=self.pump,
                    subject_id=fault.report_id,
                    cleared_at=max(at, fault.since),
                )
            )
        log.warning("fault %s cleared", code)
        self.flush()
        return True

    def is_active(self, code: str) -> bool:
        return code in self._active

    def active(self) -> list[ActiveFault]:
        with self._lock:
            return sorted(self._active.values(), key=lambda f: f.since)

    def blocking(self) -> ActiveFault | None:
        """The oldest fault that keeps the pump off, if any."""
        return next((f for f in self.active() if f.blocks_pump), None)

    def flush(self) -> None:
        """Store the reports that are waiting; keep them (bounded) while the outbox refuses."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for index, report in enumerate(waiting):
            try:
                self._store(report)
            except OutboxError as error:
                log.debug("fault report waits for the outbox: %s", error)
                with self._lock:
                    self._waiting = (waiting[index:] + self._waiting)[-PENDING_REPORTS_KEPT:]
                return
