"""The agent at the pump: read -> judge -> commit the event -> drive the interlock -> show why.

Order matters and is kept here only: an event is committed to the outbox before the pump can be
enabled, and any failure on the way (outbox, interlock, a bug) leaves the pump disabled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from station_agent.assess import Assessor
from station_agent.config import StationConfig
from station_agent.errors import InterlockError, OutboxError, OverrideRefused, TagSourceError
from station_agent.events import EventContext, scan_event
from station_agent.interlock import Interlock
from station_agent.outbox import Outbox
from station_agent.overrides import check_override
from station_agent.pump import PumpGuard
from station_agent.registry_client import RegistryClient
from station_agent.session import CylinderResult, SessionState, VehicleSession
from station_agent.sync import SyncWorker, TrustCache
from station_agent.tagsource import TagReading, TagSource
from station_agent.view import console_line, snapshot

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class Agent:
    def __init__(
        self,
        config: StationConfig,
        *,
        source: TagSource,
        interlock: Interlock,
        outbox: Outbox,
        cache: TrustCache,
        client: RegistryClient | None = None,
        clock: Callable[[], datetime] = utc_now,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.policy = config.policy
        self.source = source
        self.outbox = outbox
        self.cache = cache
        self.clock = clock
        self.echo = echo
        self.pump = PumpGuard(interlock, heartbeat_s=config.heartbeat.total_seconds(), on_change=self._pump_changed)
        self.assessor = Assessor(cache, self.policy, client=client, budget_s=config.registry.budget.total_seconds(),
                                 last_fill=outbox.last_fill)
        self.sync = SyncWorker(
            outbox, cache, client, config.station_code, batch=config.registry.upload_batch,
            sync_interval_s=config.registry.sync_interval.total_seconds(),
            max_backoff_s=config.registry.max_backoff.total_seconds(), clock=clock,
        ) if client is not None else None
        self.session: VehicleSession | None = None
        self.fault: str | None = None  # outbox or interlock failure: the pump stays disabled until cleared
        self.reader_problem: str | None = None
        self.attendant = config.attendant  # who is on shift at this pump: written into every event
        self.latencies: list[float] = []  # seconds from a read completing to the interlock settled
        self.recent: deque[str] = deque(maxlen=20)
        self.version = 0  # bumps on every change the attendant's page should show
        self.changed = threading.Condition()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._next_checkpoint = 0.0

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> Agent:
        self.pump.start()
        if self.sync is not None:
            self.sync.start()
        return self

    def request_stop(self) -> None:
        """Ask the read loop to end (signal handlers call this); stop() then releases everything."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.pump.stop()
        finally:
            if self.sync is not None:
                self.sync.stop()
            self.source.close()

    def run(self) -> None:
        """The read loop, until stop(). Never lets an exception leave the pump enabled."""
        while not self._stop.is_set():
            try:
                self.tick()
                reading = self.source.next_read(0.5, self._stop)
                if self.reader_problem is not None:
                    self.reader_problem = None
                    self._changed()
                if reading is not None:
                    self.handle(reading)
            except TagSourceError as error:
                # A reader problem stops new reads, not a fill already allowed: show it and retry.
                if self.reader_problem != str(error):
                    log.error("reader problem: %s", error)
                    self.reader_problem = str(error)
                    self._changed()
                self._stop.wait(1.0)
            except Exception as error:
                log.exception("error in the read loop")
                self._fail_safe(f"{type(error).__name__}: {error}")

    # -- reads -------------------------------------------------------------------------------

    def handle(self, reading: TagReading) -> CylinderResult:
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self.session is None or self.session.finished:
                self.session = VehicleSession(now, now)
            session = self.session
            result = session.add(self.assessor.assess(reading, now, session.started_at), now)
            context = EventContext(self.config.station_code, self.config.pump, self.attendant, session.id,
                                   self.policy.enforcing)
            event_id, body = scan_event(result, context, now)
            try:
                if self._pump_wanted(session):  # this read starts or joins a fill: note the fill times
                    self.outbox.add_with_fills(event_id, body, self._filled_cylinders(session), now)
                else:
                    self.outbox.add(event_id, body)
            except OutboxError as error:
                self._fail_safe(str(error))
                self._line(result, session)
                return result
            self._drive(session)
            self.latencies.append(time.perf_counter() - reading.completed_at)
            self._line(result, session)
        if self.sync is not None:
            self.sync.poke()
        return result

    def tick(self) -> None:
        """Housekeeping between reads: expire idle sessions, notice a fill ended by timeout, and
        checkpoint the outbox journal now rather than inside a read's commit."""
        with self._lock:
            self._expire(self.clock())
        if time.monotonic() >= self._next_checkpoint:
            self._next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
            try:
                self.outbox.checkpoint()
            except OutboxError as error:
                self._fail_safe(str(error))

    def _expire(self, now: datetime) -> None:
        session = self.session
        if session is None or session.finished:
            return
        if session.expired(now, self.policy.session_window):
            session.close(SessionState.EXPIRED)
            self._changed()
        elif self._pump_wanted(session) and not self.pump.enabled and session.state is not SessionState.REFUSED:
            session.close(SessionState.DONE)  # the guard's deadline ended the fill
            self._changed()

    def _pump_wanted(self, session: VehicleSession) -> bool:
        if self.fault is not None:
            return False
        if not self.policy.enforcing:  # monitor: never blocks a vehicle it has read
            return bool(session.cylinders) and not session.finished
        return session.pump_allowed

    def _filled_cylinders(self, session: VehicleSession) -> list[str]:
        return [c.cylinder_id for c in session.cylinders.values() if c.cylinder_id]

    def _drive(self, session: VehicleSession) -> None:
        if self._pump_wanted(session):
            if not self.pump.enabled:
                try:
                    self.pump.enable(self.config.fill_timeout.total_seconds())
                except InterlockError as error:
                    self._fail_safe(f"interlock: {error}")
        elif self.pump.enabled:
            self.pump.disable("session refused")

    def _fail_safe(self, why: str) -> None:
        log.error("pump disabled: %s", why)
        self.fault = why
        self.pump.disable(why)
        self._changed()

    # -- the attendant's actions -------------------------------------------------------------

    def end_fill(self) -> None:
        with self._lock:
            self.pump.disable("fill finished")
            if self.session is not None and not self.session.finished:
                self.session.close(SessionState.DONE)
            self._changed()

    def new_vehicle(self) -> None:
        """Abandon the current session (e.g. a vehicle drove off before all cylinders were read)."""
        with self._lock:
            self.pump.disable("new vehicle")
            if self.session is not None and not self.session.finished:
                self.session.close(SessionState.EXPIRED)
            self.session = None
            self._changed()

    def set_attendant(self, attendant: str) -> None:
        """The attendant on shift (personal code entered at the booth); events name them from now on."""
        code = attendant.strip()
        if not code or len(code) > 32:
            raise ValueError("an attendant code has 1 to 32 characters")
        with self._lock:
            log.info("attendant on shift at pump %d: %s", self.config.pump, code)
            self.attendant = code
            self._changed()

    def clear_fault(self) -> None:
        with self._lock:
            self.fault = None
            self._changed()

    def override(self, attendant: str, supervisor_id: str, password: str, reason: str) -> None:
        """Release a refused session. OverrideRefused unless every rule in overrides.py allows it."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            session = self.session
            check_override(self.config, session, supervisor_id, password, reason)
            assert session is not None
            context = EventContext(self.config.station_code, self.config.pump, attendant, session.id, True)
            cylinders = self._filled_cylinders(session)
            try:
                for result in session.refused_cylinders:
                    event_id, body = scan_event(result, context, now, supervisor=supervisor_id, override_reason=reason)
                    self.outbox.add_with_fills(event_id, body, cylinders, now)
            except OutboxError as error:
                self._fail_safe(str(error))
                raise OverrideRefused(f"cannot record the override: {error}") from error
            session.mark_overridden(supervisor_id)
            log.warning("override by supervisor %s for attendant %s: %s", supervisor_id, attendant, reason)
            self.recent.appendleft(f"{now:%H:%M:%S} OVERRIDE by {supervisor_id} for {attendant}: {reason}")
            self._drive(session)
            self._changed()
        if self.sync is not None:
            self.sync.poke()

    # -- what the attendant sees -------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            self._expire(self.clock())
            return snapshot(self)

    def _line(self, result: CylinderResult, session: VehicleSession) -> None:
        line = console_line(self.clock(), self.config.pump, result, session, self.pump.enabled, self.fault)
        self.recent.appendleft(line)
        self.echo(line)
        self._changed()

    def _pump_changed(self, enabled: bool) -> None:
        self._changed()

    def _changed(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()
