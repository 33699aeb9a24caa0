"""Metered reconciliation: what the dispenser's totaliser says against what the agent allowed.

The agent reads the totaliser when it enables the pump and when the fill ends (the difference is
the fill's quantity), every FILL_POLL_S during a fill (a total that advanced and then stood still
for `flow_stop_s` means the vehicle is full: the agent ends the fill), and every `poll_s` between
fills. Between fills nothing should flow: an advance beyond `tolerance` is gas no allowed session
explains (the relay bypassed), reported with its quantity. The last reading is kept in the outbox's
state, so the agent's start and stop reports carry it and the registry can compare readings across
a restart (gas dispensed while the agent was stopped).

Metering reconciles; it never decides. It cannot enable a pump, and a meter it cannot read is a
fault the bureau hears of (non-blocking: fills go on). Time is injected (wall clock for dating,
monotonic for every interval).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from station_agent.config import TotaliserSettings
from station_agent.errors import OutboxError
from station_agent.faults import METER, FaultBoard
from station_agent.totaliser import Meter, TotaliserError

log = logging.getLogger(__name__)

METER_FAULT = METER  # station_fault code; not blocking (faults.BLOCKING does not name it)
STATE_KEY = "meter_reading"  # outbox state: the last reading, as JSON
FILL_POLL_S = 1.0


class StateStore(Protocol):
    """The outbox's small key/value state (station_agent.outbox.Outbox)."""

    def get_state(self, key: str) -> bytes | None: ...

    def put_state(self, key: str, value: bytes) -> None: ...


@dataclass(frozen=True)
class Reading:
    value: float
    unit: str
    at: datetime  # station clock


@dataclass(frozen=True)
class Finding:
    """What a poll found: the fill's flow stopped, or gas flowed that no session explains."""

    kind: Literal["flow_stop", "unexplained_quantity"]
    reading: Reading
    quantity: float = 0.0


@dataclass
class _Fill:
    session_id: str
    start: Reading | None
    last_value: float | None
    advanced_at: float | None = None  # monotonic time of the last advance seen during the fill


class Metering:
    def __init__(
        self,
        meter: Meter,
        settings: TotaliserSettings,
        state: StateStore,
        faults: FaultBoard,
        *,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> None:
        self.meter = meter
        self.settings = settings
        self.state = state
        self.faults = faults
        self.clock = clock
        self.monotonic = monotonic
        self.last: Reading | None = self._saved()
        self._fill: _Fill | None = None
        self._next_poll = 0.0

    @property
    def unit(self) -> str:
        return self.settings.unit

    @property
    def filling(self) -> bool:
        return self._fill is not None

    def read(self) -> Reading | None:
        """Read the meter now: the reading, or None when it cannot be read (a fault is raised; the
        next good read clears it)."""
        try:
            value = self.meter.read()
        except TotaliserError as error:
            self.faults.raise_fault(METER_FAULT, str(error), self.clock())
            return None
        except Exception as error:  # a bug in a backend must not reach the pump's decisions
            log.exception("error while reading the totaliser")
            self.faults.raise_fault(METER_FAULT, f"{type(error).__name__}: {error}", self.clock())
            return None
        now = self.clock()
        self.faults.clear(METER_FAULT, now)
        return Reading(value, self.unit, now)

    def _unreadable(self) -> bool:
        return self.faults.is_active(METER_FAULT)

    # -- a fill ---------------------------------------------------------------------------------

    def fill_started(self, session_id: str) -> Reading | None:
        """The reading as the pump is enabled (None when the meter cannot be read: the fill goes on
        unmetered). A meter already known down is not waited for again here."""
        reading = None if self._unreadable() else self.read()
        self._fill = _Fill(session_id, reading, None if reading is None else reading.value)
        self._next_poll = self.monotonic() + FILL_POLL_S
        return reading

    def fill_ended(self) -> tuple[float | None, Reading | None]:
        """(quantity, reading) as the fill ends; quantity None when either end could not be read.
        The end reading is the new baseline for the idle comparison."""
        fill, self._fill = self._fill, None
        self._next_poll = self.monotonic() + self.settings.poll.total_seconds()
        reading = None if self._unreadable() else self.read()
        if reading is None:
            return None, None
        self._keep(reading)
        if fill is None or fill.start is None:
            return None, reading
        return max(0.0, reading.value - fill.start.value), reading

    # -- polling --------------------------------------------------------------------------------

    def poll(self) -> Finding | None:
        """Called often (every agent tick); reads the meter only when a poll is due."""
        mono = self.monotonic()
        if mono < self._next_poll:
            return None
        fill = self._fill
        # While the meter is down, retry at the idle pace even during a fill: a dead device's
        # timeout must not slow the read loop every second.
        interval = FILL_POLL_S if fill is not None and not self._unreadable() else self.settings.poll.total_seconds()
        self._next_poll = mono + interval
        reading = self.read()
        if reading is None:
            return None
        if fill is not None:
            return self._during_fill(fill, reading, mono)
        return self._between_fills(reading)

    def _during_fill(self, fill: _Fill, reading: Reading, mono: float) -> Finding | None:
        if fill.start is None:  # the meter came back during the fill: measure from here
            fill.start = reading
        if fill.last_value is None or reading.value > fill.last_value:
            if fill.last_value is not None:
                fill.advanced_at = mono
            fill.last_value = reading.value
            return None
        if fill.advanced_at is not None and mono - fill.advanced_at >= self.settings.flow_stop.total_seconds():
            return Finding("flow_stop", reading)
        return None

    def _between_fills(self, reading: Reading) -> Finding | None:
        last = self.last
        if last is None or last.unit != reading.unit or reading.value < last.value:
            # First reading ever, a unit changed in the config, or a meter reset or replaced: a
            # new baseline (the registry sees the drop in the readings it is sent).
            if last is not None and reading.value < last.value:
                log.warning("totaliser went back from %s to %s %s: new baseline", last.value, reading.value, reading.unit)
            self._keep(reading)
            return None
        advance = reading.value - last.value
        if advance <= self.settings.tolerance:
            return None  # the meter's noise, or the run-on after a fill: the baseline stays
        self._keep(reading)
        return Finding("unexplained_quantity", reading, advance)

    # -- the last reading -----------------------------------------------------------------------

    def baseline(self, reading: Reading) -> None:
        """Take `reading` as the reference between fills (the agent's start: what flowed while it
        was stopped is the registry's comparison, not this agent's). The next poll is a period on."""
        self._keep(reading)
        self._next_poll = self.monotonic() + self.settings.poll.total_seconds()

    def _keep(self, reading: Reading) -> None:
        self.last = reading
        document = {"value": reading.value, "unit": reading.unit, "at": reading.at.isoformat()}
        try:
            self.state.put_state(STATE_KEY, json.dumps(document).encode())
        except OutboxError as error:  # the outbox's own fault is raised where events are written
            log.warning("cannot save the meter reading: %s", error)

    def _saved(self) -> Reading | None:
        try:
            raw = self.state.get_state(STATE_KEY)
        except OutboxError as error:
            log.warning("cannot read the saved meter reading: %s", error)
            return None
        if raw is None:
            return None
        try:
            document = json.loads(raw)
            return Reading(float(document["value"]), str(document["unit"]), datetime.fromisoformat(document["at"]))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("saved meter reading is unreadable (%s): ignored", error)
            return None
