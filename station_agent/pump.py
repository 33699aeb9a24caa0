"""Fail-safe control of the pump enable, above any interlock backend.

The output is driven from one decision state only: ON while an allowed fill is under way (between
`enable()` and whichever comes first of `disable()`, the fill deadline, `stop()` or any interlock
fault), OFF otherwise. Every heartbeat re-sends that state, so:

- a failed OFF is retried as OFF on the next beat, never replaced by an older ON;
- an interlock fault during a fill ends the fill: after the module comes back (a relay module that
  dropped off the network returns with its outputs off) the output stays OFF;
- a fill that ended, for whatever reason, cannot be switched on again: only a new session can
  (`enable()` refuses a session id it has already seen end);
- the deadline is measured on the monotonic clock and bounds every ON.

A background thread feeds the hardware watchdog and enforces the deadline, so a stuck main loop
cannot keep a pump running. If the agent dies outright (kill -9, power loss) only the relay
module's own watchdog can drop the output: docs/station.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from station_agent.errors import InterlockError, PumpSessionEnded
from station_agent.interlock import Interlock

log = logging.getLogger(__name__)

ENDED_SESSIONS_KEPT = 64  # enough to cover every session a pump can see within a fill timeout


class PumpGuard:
    def __init__(
        self,
        interlock: Interlock,
        *,
        heartbeat_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.interlock = interlock
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.on_change = on_change
        self._deadline: float | None = None
        self._session: str | None = None
        self._ended: deque[str] = deque(maxlen=ENDED_SESSIONS_KEPT)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: InterlockError | None = None  # None once a write (and watchdog feed) landed

    @property
    def enabled(self) -> bool:
        """The decision state: True only while an allowed fill is under way."""
        return self._deadline is not None

    @property
    def session(self) -> str | None:
        return self._session if self.enabled else None

    @property
    def healthy(self) -> bool:
        return self.last_error is None

    def start(self) -> PumpGuard:
        """Drive the output off (whatever state the relay was left in) and start the watchdog thread.
        Raises InterlockError when the output cannot be driven: a start that cannot succeed."""
        self._write(False)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pump-guard", daemon=True)
        self._thread.start()
        return self

    def enable(self, session_id: str, duration_s: float) -> None:
        """Enable the pump for `session_id`, for at most `duration_s`.

        PumpSessionEnded when that session's fill already ended (deadline, fault, disable): only a
        new allowed session may switch the pump on again. InterlockError after switching off again
        when the ON command did not land."""
        with self._lock:
            if session_id in self._ended:
                raise PumpSessionEnded(f"the fill of session {session_id} has ended; a new session is needed")
            self._deadline = self.clock() + duration_s
            self._session = session_id
            try:
                self._write(True)
            except InterlockError as error:
                self._end(f"interlock: {error}")
                raise

    def disable(self, why: str = "") -> None:
        with self._lock:
            was = self.enabled
            self._end(why)
        if was:
            log.info("pump disabled%s", f": {why}" if why else "")

    def check_deadline(self) -> None:
        """Switch off if the fill ran past its deadline (also called by the watchdog thread)."""
        with self._lock:
            if self._deadline is not None and self.clock() >= self._deadline:
                log.warning("fill timeout: disabling the pump")
                self._end("fill timeout")

    def beat(self) -> None:
        """One heartbeat: enforce the deadline, re-send the decision state, feed the watchdog.
        Any failure ends a fill under way; the next beat retries OFF."""
        with self._lock:
            self.check_deadline()
            try:
                self.interlock.set_enabled(self.enabled)
                self.interlock.heartbeat()
            except InterlockError as error:
                if self.last_error is None or str(self.last_error) != str(error):
                    log.error("interlock fault: %s", error)
                if self.enabled:
                    self._end(f"interlock: {error}")
                self.last_error = error
                return
            if self.last_error is not None:
                log.warning("interlock back: output confirmed %s", "ON" if self.enabled else "OFF")
                self.last_error = None
                self._notify()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self._lock:
                self._end("agent stopping")
        finally:
            self.interlock.close()

    def __enter__(self) -> PumpGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write(self, enabled: bool) -> None:
        try:
            self.interlock.set_enabled(enabled)
        except InterlockError as error:
            self.last_error = error
            raise
        self.last_error = None
        self._notify(enabled)

    def _end(self, why: str) -> None:
        """End the fill (if any) and drive OFF, best effort: the decision state is OFF even when the
        command fails, and the next heartbeat retries it."""
        if self._session is not None:
            self._ended.append(self._session)
        self._deadline = None
        self._session = None
        try:
            self._write(False)
        except InterlockError as error:
            log.error("cannot switch the pump off (%s): %s; retrying every %.1f s", why, error, self.heartbeat_s)

    def _notify(self, enabled: bool | None = None) -> None:
        if self.on_change is not None:
            self.on_change(self.enabled if enabled is None else enabled)

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.beat()
            except Exception:
                log.exception("pump guard thread error")
                with self._lock:
                    self._end("pump guard error")
