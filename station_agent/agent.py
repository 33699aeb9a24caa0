"""The agent at the pump: read -> judge -> commit the event -> drive the interlock -> show why.

Order matters and is kept here only: an event is committed to the outbox before the pump can be
enabled, and any failure on the way (outbox, interlock, a bug) leaves the pump disabled. Faults are
raised where they are seen and cleared where their cause is seen gone (station_agent.faults), so
none needs a restart. Sessions and fill deadlines run on the monotonic clock; the wall clock only
dates events and judges records, so stepping it cannot keep a stale session alive.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from station_agent import faults, lifecycle, overrides
from station_agent.assess import Assessor
from station_agent.booth_throttle import PasswordThrottle
from station_agent.breaker import RegistryBreaker
from station_agent.central_policy import CentralPolicy
from station_agent.clock_offset import ClockOffset
from station_agent.config import Policy, StationConfig
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
from station_agent.heartbeat import heartbeat_of
from station_agent.interlock import Interlock
from station_agent.lifecycle import FillEnd
from station_agent.metering import Metering, Reading
from station_agent.metrics import AgentMetrics
from station_agent.outbox import Outbox
from station_agent.overrides import WRONG_CREDENTIALS, check_session, credentials_match
from station_agent.pump import PumpGuard
from station_agent.reasons import AGENT_ERROR
from station_agent.registry_client import RegistryClient
from station_agent.session import CylinderResult, SessionState, VehicleSession
from station_agent.sync import SyncWorker, TrustCache
from station_agent.tagsource import TagReading, TagSource
from station_agent.totaliser import Meter
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


@dataclass(frozen=True)
class _Fill:
    """The fill under way: its session and when its deadline falls (monotonic)."""

    session_id: str
    deadline: float


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
        meter: Meter | None = None,
        config_sha256: str | None = None,
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
                heartbeat=lambda: heartbeat_of(self, self.clock()),
                heartbeat_s=config.registry.heartbeat.total_seconds(),
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
        # The life of a fill (station_agent.lifecycle): the fill under way, the sessions whose end
        # is already told (filled or abandoned: each is told once), the wall clock's jumps.
        self.config_sha256 = config_sha256  # of the config file; config_changed when it differs from the last start's
        self.metering = (
            Metering(meter, config.totaliser, outbox, self.faults, clock=clock, monotonic=monotonic)
            if meter is not None and config.totaliser is not None
            else None
        )
        self._fill: _Fill | None = None
        self._told: deque[str] = deque(maxlen=64)
        self._clock_jumps = lifecycle.ClockJumps()
        self._started = False
        self.policy_sequence: int | None = None  # the central policy's in force; None: the file's alone
        self.central_policy = CentralPolicy(
            outbox, lambda: cache.trust_list, config.station_code, config.policy, apply=self.apply_policy, clock=clock
        )
        if self.sync is not None:
            self.sync.central_policy = self.central_policy

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
        self._started = True
        try:
            self._announce_start()
        except Exception:  # telling the bureau must never keep the agent from running
            log.exception("cannot report the agent's start")
        if self.sync is not None:
            self.sync.start()
        return self

    def _announce_start(self) -> None:
        """agent_started with the version, the config's hash and the meter's reading; config_changed
        when the hash differs from the one the last start saw; and the end of a fill a kill -9
        left open (its pump is off now: the relay module's watchdog, then pump.start())."""
        now = self.clock()
        reading = self.metering.read() if self.metering is not None else None
        if reading is not None and self.metering is not None:
            self.metering.baseline(reading)
        with self._lock:
            self._close_open_fill(now)
        digest = self.config_sha256
        self._report(
            lifecycle.AGENT_STARTED,
            f"station-agent {lifecycle.agent_version()}, config sha256 {digest or 'unknown'}, {self.policy.mode} mode",
            at=now,
            reading=reading,
        )
        if digest is not None:
            saved = self.outbox.get_state(lifecycle.CONFIG_KEY)
            before = saved.decode("ascii", "replace") if saved else None
            if before is not None and before != digest:
                self._report(lifecycle.CONFIG_CHANGED, f"config sha256 {before} -> {digest}", at=now)
            if before != digest:
                self.outbox.put_state(lifecycle.CONFIG_KEY, digest.encode("ascii"))
        self._clock_jumps.seen(now, self.monotonic())

    def _close_open_fill(self, now: datetime) -> None:
        """A fill the last run left open (killed during it): its fill_ended, dated now."""
        raw = self.outbox.get_state(lifecycle.OPEN_FILL_KEY)
        if not raw:
            return
        try:
            session_id = str(json.loads(raw)["session"])
        except (ValueError, KeyError, TypeError):
            log.warning("the saved open fill is unreadable: ignored")
            self.outbox.put_state(lifecycle.OPEN_FILL_KEY, b"")
            return
        # No quantity: when the gas stopped is unknown. The registry compares this start's reading
        # with the fill's first one (services/meters.py), so the gas is not lost from the account.
        self._report(
            lifecycle.FILL_ENDED,
            "fault: the agent stopped during the fill (found open at the restart)",
            at=now,
            subject_id=session_id,
            state=(lifecycle.OPEN_FILL_KEY, b""),
        )
        self._told.append(session_id)

    def request_stop(self) -> None:
        """Ask the read loop to end (signal handlers call this); stop() then releases everything."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        try:
            if self._started:
                self._started = False
                self._announce_stop()
        except Exception:  # the pump goes off below whatever happened here
            log.exception("cannot report the agent's stop")
        finally:
            try:
                self.pump.stop()
            finally:
                if self.sync is not None:
                    self.sync.stop()
                self.source.close()
                if self.metering is not None:
                    self.metering.meter.close()

    def _announce_stop(self) -> None:
        with self._lock:
            if self._fill is not None:
                self.pump.disable("agent stopping")
                self._fill_over("fault", "the agent stopped during the fill")
            last = self.metering.last if self.metering is not None else None
            self._report(lifecycle.AGENT_STOPPED, "station-agent stopping", at=self.clock(), reading=last)

    def meter_reading(self) -> tuple[float, str] | None:
        """The totaliser's last reading (value, unit), or None without a totaliser or a reading."""
        last = self.metering.last if self.metering is not None else None
        return (last.value, last.unit) if last is not None else None

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
            self._watch_meter()
        self._watch_interlock()
        self._watch_clock()
        self._watch_clock_jump()
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

    def _watch_clock_jump(self) -> None:
        now = self.clock()
        jump = self._clock_jumps.seen(now, self.monotonic())
        if jump is not None:
            log.warning("wall clock jumped %+.0f s", jump)
            self._report(lifecycle.CLOCK_JUMP, f"wall clock moved {jump:+.0f} s against the monotonic clock", at=now)

    def _watch_meter(self) -> None:
        """The meter's poll (under the lock): a fill whose flow stopped ends; gas that flowed with
        no fill is reported with its quantity."""
        if self.metering is None:
            return
        finding = self.metering.poll()
        if finding is None:
            return
        if finding.kind == "flow_stop":
            if self._fill is None:
                return
            self.pump.disable("flow stopped")
            if self.session is not None and self.session.id == self._fill.session_id and not self.session.finished:
                self.session.close(SessionState.DONE)
            self._fill_over("flow_stop", f"the totaliser stood at {finding.reading.value:g} {finding.reading.unit}")
            self._changed()
            return
        log.error("unexplained quantity: %.3f %s with no allowed session", finding.quantity, finding.reading.unit)
        self._report(
            lifecycle.UNEXPLAINED_QUANTITY,
            f"{finding.quantity:g} {finding.reading.unit} dispensed with no allowed session (the pump was disabled)",
            at=finding.reading.at,
            reading=finding.reading,
            quantity=finding.quantity,
        )

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
        if self._fill is not None and self.pump.session != self._fill.session_id:
            # The pump went off under the fill: its deadline, or an interlock fault.
            timed_out = mono >= self._fill.deadline
            self._fill_over("timeout" if timed_out else "fault", "fill time-out" if timed_out else "the pump went off")
        session = self.session
        if session is None or session.finished:
            return
        if session.expired(mono, self.policy.session_window):
            session.close(SessionState.EXPIRED)
            self._session_over(session, "expired")
            self._changed()
        elif session.pump_allowed and self.pump.session != session.id:
            # The fill ended under the session (deadline, interlock fault) or never started (a fault
            # held it off): the session is over, and only a new one may switch the pump on again.
            session.close(SessionState.DONE)
            self._session_over(session, "the pump never ran")
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
                if not self._fill_begins(session):
                    return
                try:
                    self.pump.enable(session.id, self.config.fill_timeout.total_seconds())
                except PumpSessionEnded:
                    session.close(SessionState.DONE)
                    self._fill_over("fault", "the session's fill had already ended")
                except InterlockError as error:
                    self._fail_safe(faults.INTERLOCK, f"interlock: {error}")
        elif self.pump.enabled:
            self.pump.disable("session refused")
            other = self._fill is not None and self._fill.session_id != session.id
            self._fill_over("new_vehicle" if other else "fault", "a read refused the vehicle during the fill")

    def _fill_begins(self, session: VehicleSession) -> bool:
        """Tell the bureau the pump is about to be enabled, with the meter's reading, BEFORE it is:
        False (and the pump stays off, fail-safe) when the report cannot be stored."""
        if self._fill is not None:  # monitor mode: the pump passes straight to the next vehicle
            self._fill_over("new_vehicle", "the next vehicle's session took the pump")
        reading = self.metering.fill_started(session.id) if self.metering is not None else None
        report = lifecycle.station_event(
            lifecycle.PUMP_ENABLED,
            f"{session.state}: {len(session.cylinders)} cylinder(s), {self.policy.mode} mode",
            at=self.clock(),
            pump=self.config.pump,
            subject_id=session.id,
            reading=reading,
        )
        # With the report, in one transaction, the open fill: a kill -9 from here on leaves it for
        # the next start to close (its fill_ended), and never a fill_ended without its pump_enabled.
        open_fill = json.dumps({"session": session.id}).encode()
        try:
            self.outbox.add_report(report, state=(lifecycle.OPEN_FILL_KEY, open_fill))
        except OutboxError as error:
            if self.metering is not None:
                self.metering.fill_ended()
            self._fail_safe(_outbox_fault(error), str(error))
            return False
        self._fill = _Fill(session.id, self.monotonic() + self.config.fill_timeout.total_seconds())
        self._told.append(session.id)
        return True

    def _fill_over(self, why: FillEnd, detail: str) -> None:
        """The fill under way (if any) has ended: fill_ended with its metered quantity."""
        fill, self._fill = self._fill, None
        if fill is None:
            return
        quantity, reading = self.metering.fill_ended() if self.metering is not None else (None, None)
        self._report(
            lifecycle.FILL_ENDED,
            f"{why}: {detail}",
            at=self.clock(),
            subject_id=fill.session_id,
            reading=reading,
            quantity=quantity,
            state=(lifecycle.OPEN_FILL_KEY, b""),  # the open fill closes with its report, in one transaction
        )

    def _session_over(self, session: VehicleSession, why: str) -> None:
        """A session that ended without a fill: session_abandoned, once (a read-less one is nothing)."""
        if session.id in self._told or not session.cylinders:
            return
        self._told.append(session.id)
        expected = f" of {session.expected}" if session.expected is not None else ""
        self._report(
            lifecycle.SESSION_ABANDONED,
            f"{why}: {session.state}, {len(session.cylinders)}{expected} cylinder(s) read",
            at=self.clock(),
            subject_id=session.id,
        )

    def _report(
        self,
        code: str,
        detail: str,
        *,
        at: datetime,
        subject_id: str | None = None,
        reading: Reading | None = None,
        quantity: float | None = None,
        state: tuple[str, bytes] | None = None,
    ) -> bool:
        """Queue one station_event for the bureau; False (logged) when the outbox refuses it. Only
        pump_enabled must be stored before its action (see _fill_begins); the others tell what
        already happened."""
        report = lifecycle.station_event(
            code, detail, at=at, pump=self.config.pump, subject_id=subject_id, reading=reading, quantity=quantity
        )
        try:
            self.outbox.add_report(report, state=state)
        except OutboxError as error:
            log.error("cannot store the %s report: %s", code, error)
            return False
        if self.sync is not None:
            self.sync.poke()
        return True

    def _fail_safe(self, code: str, why: str) -> None:
        """Switch the pump off and hold new fills off until the fault's cause is gone."""
        log.error("pump disabled: %s", why)
        self.faults.raise_fault(code, why, self.clock())
        self.pump.disable(why)
        self._fill_over("fault", why)
        if self.session is not None and not self.session.finished:
            self.session.close(SessionState.DONE if self.session.pump_allowed else SessionState.EXPIRED)
            self._session_over(self.session, f"fault: {why}")
        self._changed()

    # -- the attendant's actions -------------------------------------------------------------

    def end_fill(self) -> None:
        with self._lock:
            self.pump.disable("fill finished")
            self._fill_over("attendant", "the attendant ended the fill")
            if self.session is not None and not self.session.finished:
                self.session.close(SessionState.DONE)
                self._session_over(self.session, "ended by the attendant")
            self._changed()

    def new_vehicle(self) -> None:
        """Abandon the current session (e.g. a vehicle drove off before all cylinders were read)."""
        with self._lock:
            self.pump.disable("new vehicle")
            self._fill_over("new_vehicle", "the attendant started the next vehicle")
            if self.session is not None and not self.session.finished:
                self.session.close(SessionState.EXPIRED)
                self._session_over(self.session, "replaced by the next vehicle")
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

    def apply_policy(self, policy: Policy, sequence: int | None = None) -> None:
        """Put `policy` in force from the next read: the central policy merged into the file's
        (station_agent.central_policy), with its sequence. The assessor, the override rules (which
        read config.policy) and the page all follow."""
        with self._lock:
            self.policy, self.policy_sequence = policy, sequence
            self.config = replace(self.config, policy=policy)
            self.assessor.policy = policy
            self.assessor.verification = replace(self.assessor.verification, warning_days=policy.warning_days)
        log.warning("policy in force at pump %d: %s mode (central sequence %s)", self.config.pump, policy.mode, sequence)
        self._changed()

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
