"""The background jobs `cylinder-registry serve` runs on a timer (the silent-station sweep, the case
deadline sweep, the region totals roll), in one shape: a daemon thread that calls `run_once` every
`interval_s`, logs a failing round and tries again next interval, so a database outage or a bug
never kills the thread. Each job says only what one round does."""

from __future__ import annotations

import logging
import threading
from typing import Any, Self

log = logging.getLogger(__name__)


class PeriodicJob:
    """Subclasses set `name` (the thread's, and the log's words for the job) and `interval_s`
    before calling this __init__, and implement `run_once`."""

    name = "periodic job"
    interval_s: float

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage or a bug: log, and try again next interval
                log.exception("%s failed; retrying in %.0f s", self.name, self.interval_s)
            self._stop.wait(self.interval_s)
