"""The agent at the pump: read -> judge -> commit the event -> drive the interlock -> show why.

Order matters and is kept here only: an event is committed to the outbox before the pump can be
enabled, and any failure on the way (outbox, interlock, a bug) leaves the pump disabled. Faults are
raised where they are seen and cleared where their cause is seen gone (station_agent.faults), so
none needs a restart. Sessions and fill deadlines run on the monotonic clock; the wall clock only
dates events and judges records, so stepping it cannot keep a stale session alive.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from station_agent import faults, overrides
from station_agent.assess import Assessor
from station_agent.booth_throttle import PasswordThrottle
from station_agent.breaker import RegistryBreaker
from station_agent.clock_offset import ClockOffset
from station_agent.config import StationConfig
from station_agent.errors import (
    BoothInputError,
    InterlockError,
    OutboxCorruptError,
    OutboxError,
    OutboxFullError,
    OverrideRefused,
    PumpSessionEnded,
    TagSourceError,
)
from station_agent.events import EventContext, scan_event
from station_agent.fault_report import fault_report
from station_agent.faults import FaultBoard
from station_agent.interlock import Interlock
from station_agent.metrics import AgentMetrics
from station_agent.outbox import Outbox
from station_agent.overrides import WRONG_CREDENTIALS, check_session, credentials_match
from station_agent.pump import PumpGuard
from station_agent.reasons import AGENT_ERROR
from station_agent.registry_client import RegistryClient
from station_agent.session import CylinderResult, SessionState, VehicleSession
from station_agent.sync import SyncWorker, TrustCache
from station_agent.tagsource import TagReading, TagSource
from station_agent.view import console_line, snapshot, station_time
from tag_tools.fields import ATTENDANT, OVERRIDE_REASON, SUPERVISOR, FieldError, TextRule, has_forbidden_character

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 10.0
PRUNE_INTERVAL_S = 3600.0
COUNT_INTERVAL_S = 5.0
CLOCK_SKEW_RAISE_MS = 120_000  # beyond this, the attendant and the bureau are told the clock is off
PROBE_KEY = "agent_probe"  # a tiny write that shows the outbox takes writes again
OVERRIDE_REFUSED = "override_refused"  # station_fault report codes of the booth's password checks
SUPERVISOR_LOCKED = "supervisor_locked"


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
        clock_offset: ClockOffset | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.policy = config.policy
        self.source = source
        self.outbox = outbox
        self.cache = cache
        self.clock = clock
        self.monotonic = monotonic
        self.echo = echo
        self.pump = PumpGuard(
            interlock, heartbeat_s=config.heartbeat.total_seconds(), clock=monotonic, on_change=self._pump_changed
        )
        self.faults = FaultBoard(config.pump, outbox.add_report)
        self.clock_offset = clock_offset or ClockOffset(monotonic)
        # One view of the registry's reachability for reads and the sync thread: once it is known
        # down, reads decide offline at once.
        self.breaker = RegistryBreaker(max_backoff_s=config.registry.max_backoff.total_seconds(), monotonic=monotonic)
        self.sync = (
            SyncWorker(
                outbox,
                cache,
                client,
                config.station_code,
                pump=config.pump,
                batch=config.registry.upload_batch,
                sync_interval_s=config.registry.sync_interval.total_seconds(),
                max_backoff_s=config.registry.max_backoff.total_seconds(),
                upload_debounce_s=config.registry.upload_debounce.total_seconds(),
                breaker=self.breaker,
                clock=clock,
                monotonic=monotonic,
            )
            if client is not None
            else None
        )
        self.assessor = Assessor(
            cache,
            self.policy,
            client=client,
            budget_s=config.registry.budget.total_seconds(),
            last_fill=outbox.last_fill,
            breaker=self.breaker,
            riders=self.sync,
        )
        self.session: VehicleSession | None = None
        self.reader_problem: str | None = None
        self.attendant = config.attendant  # who is on shift at this pump: written into every event
        self.throttle = PasswordThrottle(lock_after=config.override_lock_after, lock_for_s=config.override_lock.total_seconds())
        self.recent: deque[str] = deque(maxlen=20)
        self.undelivered = 0  # events the registry refused for good or the outbox quarantined (reported)
        self.version = 0  # bumps on every change the attendant's page should show
        self.changed = threading.Condition()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._next_checkpoint = 0.0
        self._next_prune = 0.0
        self.metrics = AgentMetrics()  # served by `station-agent run` when [metrics] listen is set
        self.metrics.watch(self)
        self._next_count = 0.0

    @property
    def fault(self) -> str | None:
        """Why the pump is held off right now, or None: the oldest blocking fault's detail."""
        blocking = self.faults.blocking()
        return blocking.detail if blocking is not None else None

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> Agent:
        """Drive the pump off and start the background threads. InterlockError when the output
        cannot be driven: the caller exits non-zero so that systemd restarts the agent."""
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
                self._reader_ok()
                if reading is not None:
                    self.handle(reading)
                self._clear(faults.AGENT)
            except TagSourceError as error:
                # A reader problem stops new reads, not a fill already allowed: show it and retry
                # (the source reopens the reader itself; see station_agent.tagsource).
                if self.reader_problem != str(error):
                    self.reader_problem = str(error)
                    self.faults.raise_fault(faults.READER, str(error), self.clock())
                    self._changed()
                self._stop.wait(1.0)
            except Exception as error:
                log.exception("error in the read loop")
                self._fail_safe(faults.AGENT, f"{type(error).__name__}: {error}")
                self._stop.wait(0.5)  # a bug that repeats must not spin the CPU

    def _reader_ok(self) -> None:
        if self.reader_problem is not None:
            self.reader_problem = None
            self._clear(faults.READER)

    # -- reads -------------------------------------------------------------------------------

    def handle(self, reading: TagReading) -> CylinderResult:
        with self._lock:
            now, mono = self.clock(), self.monotonic()
            self._expire(mono)
            if self.session is None or self.session.finished:
                self.session = VehicleSession(now, mono)
            session = self.session
            started = time.perf_counter()
            result = session.add(self._assess(reading, now, session), mono)
            self.metrics.decided(result, time.perf_counter() - started)
            event_id, body = scan_event(result, self._context(session), now)
            try:
                if self._pump_wanted(session):  # this read starts or joins a fill: note the fill times
                    self.outbox.add_with_fills(event_id, body, self._filled_cylinders(session), now)
                else:
                    self.outbox.add(event_id, body)
            except OutboxError as error:
                self._fail_safe(_outbox_fault(error), str(error))
                self._line(result, session)
                return result
            self._drive(session)
            self._line(result, session)
        if self.sync is not None:
            self.sync.poke()
        return result

    def _context(self, session: VehicleSession, attendant: str | None = None) -> EventContext:
        return EventContext(
            self.config.station_code,
            self.config.pump,
            attendant or self.attendant,
            session.id,
            self.policy.enforcing,
            self.clock_offset.offset_ms(),
        )

    def _assess(self, reading: TagReading, now: datetime, session: VehicleSession) -> CylinderResult:
        """The verdict on one read. A bug anywhere in judging refuses this read (it is still stored
        and shown) instead of losing it."""
        try:
            return self.assessor.assess(reading, now, session.started_at)
        except Exception as error:
            log.exception("error while judging a read")
            self.faults.raise_fault(faults.AGENT, f"{type(error).__name__}: {error}", now)
            return CylinderResult(
                tag_uid=reading.uid.hex().upper(),
                decision="refuse",
                reasons=(AGENT_ERROR,),
                online=False,
                read_counter=reading.read_counter,
                detail=f"{type(error).__name__}: {error}",
            )

    def tick(self) -> None:
        """Housekeeping between reads: expire idle sessions, notice a fill ended by timeout or by a
        fault, clear faults whose cause went away, and checkpoint and prune the outbox now rather
        than inside a read's commit."""
        with self._lock:
            self._expire(self.monotonic())
        self._watch_interlock()
        self._watch_clock()
        self._probe_outbox()
        self.faults.flush()
        mono = self.monotonic()
        if mono >= self._next_checkpoint:
            self._next_checkpoint = mono + CHECKPOINT_INTERVAL_S
            try:
                self.outbox.checkpoint()
            except OutboxError as error:
                self._fail_safe(_outbox_fault(error), str(error))
        if mono >= self._next_count:
            self._next_count = mono + COUNT_INTERVAL_S
            self._count_undelivered()
        if mono >= self._next_prune:
            self._next_prune = mono + PRUNE_INTERVAL_S
            try:
                self.outbox.prune(self.clock() - self.config.outbox_retention)
            except OutboxError as error:
                log.warning("cannot prune the outbox: %s", error)

    def _count_undelivered(self) -> None:
        try:
            counts = self.outbox.counts()
        except OutboxError:
            return
        undelivered = counts.rejected + counts.quarantined
        if undelivered != self.undelivered:
            self.undelivered = undelivered
            self._changed()

    def _watch_interlock(self) -> None:
        if self.pump.healthy:
            self._clear(faults.INTERLOCK)
        elif self.faults.raise_fault(faults.INTERLOCK, str(self.pump.last_error), self.clock()):
            self._changed()

    def _watch_clock(self) -> None:
        """Show a skewed clock (hysteresis: raised beyond CLOCK_SKEW_RAISE_MS, cleared below half)."""
        offset = self.clock_offset.offset_ms()
        if offset is None:
            return
        if abs(offset) > CLOCK_SKEW_RAISE_MS:
            if self.faults.raise_fault(
                faults.CLOCK_SKEW, f"station clock is {offset / 1000:+.0f} s off the registry's", self.clock()
            ):
                self._changed()
        elif abs(offset) < CLOCK_SKEW_RAISE_MS / 2:
            self._clear(faults.CLOCK_SKEW)

    def _probe_outbox(self) -> None:
        """While an outbox fault lasts, try a tiny durable write: when it lands, space was freed (or
        the I/O error passed) and the fault clears. Corruption needs salvage and never clears here."""
        if not (self.faults.is_active(faults.OUTBOX_FULL) or self.faults.is_active(faults.OUTBOX)):
            return
        now = self.clock()
        try:
            self.outbox.put_state(PROBE_KEY, now.isoformat().encode())
        except OutboxError:
            return
        self._clear(faults.OUTBOX_FULL)
        self._clear(faults.OUTBOX)

    def _clear(self, code: str) -> None:
        if self.faults.clear(code, self.clock()):
            self._changed()

    def _expire(self, mono: float) -> None:
        session = self.session
        if session is None or session.finished:
            return
        if session.expired(mono, self.policy.session_window):
            session.close(SessionState.EXPIRED)
            self._changed()
        elif session.pump_allowed and self.pump.session != session.id:
            # The fill ended under the session (deadline, interlock fault) or never started (a fault
            # held it off): the session is over, and only a new one may switch the pump on again.
            session.close(SessionState.DONE)
            self._changed()

    def _pump_wanted(self, session: VehicleSession) -> bool:
        if self.faults.blocking() is not None:
            return False
        if not self.policy.enforcing:  # monitor: never blocks a vehicle it has read
            return bool(session.cylinders) and not session.finished
        return session.pump_allowed

    def _filled_cylinders(self, session: VehicleSession) -> list[str]:
        return [c.cylinder_id for c in session.cylinders.values() if c.cylinder_id]

    def _drive(self, session: VehicleSession) -> None:
        if self._pump_wanted(session):
            if self.pump.session != session.id:
                try:
                    self.pump.enable(session.id, self.config.fill_timeout.total_seconds())
                except PumpSessionEnded:
                    session.close(SessionState.DONE)
                except InterlockError as error:
                    self._fail_safe(faults.INTERLOCK, f"interlock: {error}")
        elif self.pump.enabled:
            self.pump.disable("session refused")

    def _fail_safe(self, code: str, why: str) -> None:
        """Switch the pump off and hold new fills off until the fault's cause is gone."""
        log.error("pump disabled: %s", why)
        self.faults.raise_fault(code, why, self.clock())
        self.pump.disable(why)
        if self.session is not None and not self.session.finished:
            self.session.close(SessionState.DONE if self.session.pump_allowed else SessionState.EXPIRED)
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

    def set_attendant(self, attendant: object) -> None:
        """The attendant on shift (personal code entered at the booth); events name them from now on.
        BoothInputError (a ValueError) when the code breaks the shared rule (tag_tools.fields)."""
        code = _typed(ATTENDANT, attendant)
        with self._lock:
            log.info("attendant on shift at pump %d: %s", self.config.pump, code)
            self.attendant = code
            self._changed()

    def override(
        self, attendant: object, supervisor_id: object, password: object, reason: object, *, client: str = "local"
    ) -> None:
        """Release a refused session. BoothInputError for a typed value the registry would refuse,
        OverrideLocked while the supervisor or the client must wait, OverrideRefused unless every
        rule in overrides.py allows it. All of them leave the pump as it was. `client` is who asked
        (the page's remote address): wrong passwords are counted per supervisor and per client."""
        code = _typed(ATTENDANT, attendant)
        supervisor = _typed(SUPERVISOR, supervisor_id)
        why = _typed(OVERRIDE_REASON, reason)
        with self._lock:
            now, mono = self.clock(), self.monotonic()
            self._expire(mono)
            session = self.session
            check_session(self.config, session)  # before any credential: see overrides.py
            assert session is not None
            self.throttle.check(supervisor, client, mono)
            if not credentials_match(self.config, supervisor, password):
                self._password_failed(supervisor, client, now, mono)
                raise OverrideRefused(WRONG_CREDENTIALS, code=overrides.BAD_CREDENTIALS)
            self.throttle.succeeded(supervisor, client)
            context = self._context(session, code)
            cylinders = self._filled_cylinders(session)
            try:  # every event is made before any is stored: one that cannot be made refuses them all
                events = [
                    scan_event(result, context, now, supervisor=supervisor, override_reason=why)
                    for result in session.refused_cylinders
                ]
            except Exception as error:
                log.error("override refused: its event cannot be made: %s", error)
                raise OverrideRefused(f"cannot record the override: {error}", code=overrides.NOT_RECORDED) from error
            try:
                for event_id, body in events:
                    self.outbox.add_with_fills(event_id, body, cylinders, now)
            except OutboxError as error:
                self._fail_safe(_outbox_fault(error), str(error))
                raise OverrideRefused(f"cannot record the override: {error}", code=overrides.NOT_RECORDED) from error
            session.mark_overridden(supervisor)
            log.warning("override by supervisor %s for attendant %s: %s", supervisor, code, why)
            self.recent.appendleft(f"{station_time(self.policy, now):%H:%M:%S} OVERRIDE by {supervisor} for {code}: {why}")
            self._drive(session)
            self._changed()
        if self.sync is not None:
            self.sync.poke()

    def _password_failed(self, supervisor: str, client: str, now: datetime, mono: float) -> None:
        """Count a wrong password and tell the bureau (a station_fault report through the outbox):
        which supervisor id was tried, from where, never what was typed. A lock is reported once,
        with the time it ends as its `cleared_at`."""
        failure = self.throttle.failed(supervisor, client, mono)
        known = self.config.supervisor(supervisor) is not None
        rule = "wrong_password" if known else "unknown_supervisor"
        log.warning("override refused at pump %d: %s for supervisor %r from %s", self.config.pump, rule, supervisor, client)
        reports = [
            fault_report(
                "station_fault",
                OVERRIDE_REFUSED,
                f"override refused ({rule}): supervisor {supervisor!r}, client {client}",
                at=now,
                pump=self.config.pump,
            )
        ]
        if failure.newly_locked:
            minutes = self.throttle.lock_for_s / 60
            locked = ", ".join(failure.newly_locked)
            log.warning("override locked at pump %d for %.0f min: %s", self.config.pump, minutes, locked)
            reports.append(
                fault_report(
                    "station_fault",
                    SUPERVISOR_LOCKED,
                    f"overrides locked for {minutes:.0f} min after {self.throttle.lock_after} wrong passwords: {locked}",
                    at=now,
                    pump=self.config.pump,
                    cleared_at=now + timedelta(seconds=failure.locked_until - mono),
                )
            )
        try:
            for report in reports:
                self.outbox.add_report(report)
        except OutboxError as error:
            log.error("cannot store the override failure report: %s", error)
        if self.sync is not None:
            self.sync.poke()

    # -- what the attendant sees -------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            self._expire(self.monotonic())
            return snapshot(self)

    def _line(self, result: CylinderResult, session: VehicleSession) -> None:
        now = station_time(self.policy, self.clock())
        line = console_line(now, self.config.pump, result, session, self.pump.enabled, self.fault)
        self.recent.appendleft(line)
        self.echo(line)
        self._changed()

    def _pump_changed(self, enabled: bool) -> None:
        self._changed()

    def _changed(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()


def _typed(rule: TextRule, value: object) -> str:
    """`value` as the shared rule normalises it (what the event will carry), or BoothInputError
    with a code saying which limit it broke (the page words it; the rule's own text is English)."""
    try:
        return rule.check(value)
    except FieldError as error:
        code, limits = _input_problem(rule, value)
        raise BoothInputError(str(error), code=code, field=rule.field, **limits) from None


def _input_problem(rule: TextRule, value: object) -> tuple[str, dict[str, int]]:
    """The code (and the limit) of a typed value `rule` refused, found from the value and the rule's
    limits in the order tag_tools.fields checks them, not from its message."""
    if not isinstance(value, str) or has_forbidden_character(value):
        return overrides.INPUT_INVALID, {}
    length = len(unicodedata.normalize("NFC", value).strip())
    if length == 0:
        return overrides.INPUT_EMPTY, {}
    if length < rule.min_len:
        return overrides.INPUT_TOO_SHORT, {"min": rule.min_len}
    if length > rule.max_len:
        return overrides.INPUT_TOO_LONG, {"max": rule.max_len}
    return overrides.INPUT_INVALID, {}


def _outbox_fault(error: OutboxError) -> str:
    if isinstance(error, OutboxFullError):
        return faults.OUTBOX_FULL
    if isinstance(error, OutboxCorruptError):
        return faults.OUTBOX_CORRUPT
    return faults.OUTBOX
