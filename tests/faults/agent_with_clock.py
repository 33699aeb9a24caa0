"""`python -m tests.faults.agent_with_clock CLOCKFILE -- run --config station.toml`

The real station agent (station_agent.cli.main) with its wall clock stepped by a file: the clock is
real UTC now plus the offset in seconds written in CLOCKFILE, re-read whenever the file changes.
Only this process sees the stepped time: the host's clock is never touched, and monotonic time is
never faked (libfaketime 0.9.10 breaks time.sleep under Python 3.11, so it is not used).
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


class FileClock:
    """A wall clock = now + offset; the offset comes from a file and is re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        try:
            status = os.stat(self.path)
            key: tuple[int, int, int] | None = (status.st_ino, status.st_mtime_ns, status.st_size)
        except OSError:
            key = None
        with self._lock:
            if key is not None and key != self._seen:
                try:
                    self._offset = timedelta(seconds=float(self.path.read_text(encoding="ascii").strip() or 0))
                    self._seen = key
                except (OSError, ValueError):
                    pass  # caught mid-write: keep the last offset, read again next call
            offset = self._offset
        return datetime.now(UTC) + offset


def step_clock(path: Path, offset_s: float) -> None:
    """Set the agent's clock to now + `offset_s` (atomic: a reader never sees half a number)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{offset_s!r}\n", encoding="ascii")
    os.replace(temporary, path)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tests.faults.agent_with_clock CLOCKFILE -- run --config station.toml", file=sys.stderr)
        return 2
    from station_agent import cli

    entry: Any = cli.main  # main(argv, *, wall_clock=...) is the agent's injection point
    return int(entry(argv[2:], wall_clock=FileClock(Path(argv[0]))))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
