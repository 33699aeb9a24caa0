"""The life of a fill and of the agent, told to the bureau as `station_event` reports
(schemas/station-fault-report.md): the codes, the one way such a report is made, and the small
pure pieces the agent uses to notice them (a wall clock that jumped, the config that changed).

The agent decides when each happens (station_agent.agent); this module only names and builds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from datetime import datetime
from pathlib import Path
from typing import Literal

from station_agent.fault_report import FaultReport, fault_report
from station_agent.metering import Reading

AGENT_STARTED = "agent_started"
AGENT_STOPPED = "agent_stopped"
CONFIG_CHANGED = "config_changed"
PUMP_ENABLED = "pump_enabled"
FILL_ENDED = "fill_ended"
SESSION_ABANDONED = "session_abandoned"
CLOCK_JUMP = "clock_jump"
UNEXPLAINED_QUANTITY = "unexplained_quantity"

# Why a fill ended: the first word of a fill_ended report's detail.
FillEnd = Literal["flow_stop", "timeout", "attendant", "fault", "new_vehicle"]

CLOCK_JUMP_S = 60.0  # a wall clock that moves this far against the monotonic one between ticks jumped
CONFIG_KEY = "config_sha256"  # outbox state: the hash of the config file the agent last started with
OPEN_FILL_KEY = "open_fill"  # outbox state: the fill under way (a kill -9 leaves it for the restart)


def station_event(
    code: str,
    detail: str,
    *,
    at: datetime,
    pump: int,
    subject_id: str | None = None,
    reading: Reading | None = None,
    quantity: float | None = None,
) -> FaultReport:
    """One lifecycle report; `reading` gives the totaliser (and the unit of `quantity`)."""
    metered = reading is not None
    return fault_report(
        "station_event",
        code,
        detail,
        at=at,
        pump=pump,
        subject_id=subject_id,
        quantity=round(quantity, 6) if quantity is not None and metered else None,
        unit=reading.unit if reading is not None else None,
        totaliser=round(reading.value, 6) if reading is not None else None,
    )


def agent_version() -> str:
    """The installed cylinder-guard version, as the start report and the heartbeat give it."""
    try:
        return importlib.metadata.version("cylinder-guard")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def file_sha256(path: Path) -> str | None:
    """The hash of the config file as it is on disk now (None when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ClockJumps:
    """Notices a wall clock stepped against the monotonic clock (NTP, an operator, a dead RTC
    battery): the difference between the two should stay put between ticks."""

    def __init__(self, limit_s: float = CLOCK_JUMP_S) -> None:
        self.limit_s = limit_s
        self._anchor: float | None = None

    def seen(self, wall: datetime, mono: float) -> float | None:
        """The jump in seconds (+ forward) when beyond the limit since the last call, else None."""
        anchor = wall.timestamp() - mono
        previous, self._anchor = self._anchor, anchor
        if previous is None or abs(anchor - previous) <= self.limit_s:
            return None
        return anchor - previous
