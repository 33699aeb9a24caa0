"""Fail-safe control of the pump enable, above any interlock backend.

The enable is on only between `enable()` and whichever comes first of `disable()`, the fill
deadline, `stop()` or an error. A background thread feeds the hardware watchdog and enforces the
deadline, so a stuck main loop cannot keep a pump running. If the agent dies outright (kill -9,
power loss) only the relay module's own watchdog can drop the output: docs/station.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from station_agent.errors import InterlockError
from station_agent.interlock import Interlock

log = logging.getLogger(__name__)


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
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: InterlockError | None = None

    @property
    def enabled(self) -> bool:
        return self._deadline is not None

    def start(self) -> PumpGuard:
        """Drive the output off (whatever state the relay was left in) and start the watchdog thread."""
        self._switch(False)
        self._thread = threading.Thread(target=self._run, name="pump-guard", daemon=True)
        self._thread.start()
        return self

    def enable(self, duration_s: float) -> None:
        """Enable the pump for at most `duration_s`. Raises InterlockError after switching off again."""
        with self._lock:
            self._deadline = self.clock() + duration_s
            try:
                self._switch(True)
            except InterlockError:
                self._safe_off()
                raise

    def disable(self, why: str = "") -> None:
        with self._lock:
            was = self._deadline is not None
            self._deadline = None
            self._switch(False)
        if was:
            log.info("pump disabled%s", f": {why}" if why else "")

    def check_deadline(self) -> None:
        """Switch off if the fill ran past its deadline (also called by the watchdog thread)."""
        with self._lock:
            if self._deadline is not None and self.clock() >= self._deadline:
                log.warning("fill timeout: disabling the pump")
                self._safe_off()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self._safe_off()
        finally:
            self.interlock.close()

    def __enter__(self) -> PumpGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _switch(self, enabled: bool) -> None:
        self.interlock.set_enabled(enabled)
        if self.on_change is not None:
            self.on_change(enabled)

    def _safe_off(self) -> None:
        """Best effort: the deadline is cleared even when the command fails, so nothing re-enables."""
        self._deadline = None
        try:
            self._switch(False)
            self.last_error = None
        except InterlockError as error:
            self.last_error = error
            log.error("cannot switch the pump off: %s", error)

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self._lock:
                    self.check_deadline()
                    self.interlock.heartbeat()
                self.last_error = None
            except InterlockError as error:
                log.error("interlock heartbeat failed: %s", error)
                with self._lock:
                    self._safe_off()
                self.last_error = error  # kept even when switching off worked
            except Exception:
                log.exception("pump guard thread error")
                with self._lock:
                    self._safe_off()
