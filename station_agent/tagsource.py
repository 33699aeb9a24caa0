"""Where reads come from: a small protocol the agent consumes, over real readers or fakes.

    pcsc[:NAME], nfcpy:...   tag_tools.readers (see tag_tools/readers/paths.py)
    file:PATH                a JSON-lines file of reads, each served once (demos, dry runs, tests)
    none:                    no reads at all (a sender-only run that drains the outbox)
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from station_agent.errors import TagSourceError
from tag_tools.verdict import ChipEvidence, Originality

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TagReading:
    uid: bytes
    ndef_message: bytes | None
    chip: ChipEvidence | None = None
    completed_at: float = 0.0  # time.perf_counter() when the read completed (for latency figures)

    @property
    def read_counter(self) -> int | None:
        return self.chip.read_counter if self.chip is not None else None


class TagSource(Protocol):
    def next_read(self, timeout: float, cancel: threading.Event | None = None) -> TagReading | None:
        """The next completed read, or None when none came within `timeout` seconds."""

    def close(self) -> None: ...


class FakeTagSource:
    """In-memory reads for unit tests and the benchmark: `push()` what the reader would have read."""

    def __init__(self) -> None:
        self._queue: queue.Queue[TagReading] = queue.Queue()

    def push(self, uid: bytes, ndef_message: bytes | None, chip: ChipEvidence | None = None) -> None:
        self._queue.put(TagReading(uid, ndef_message, chip, time.perf_counter()))

    def next_read(self, timeout: float, cancel: threading.Event | None = None) -> TagReading | None:
        try:
            reading = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return TagReading(reading.uid, reading.ndef_message, reading.chip, time.perf_counter())

    def close(self) -> None:
        pass


class FileTagSource(FakeTagSource):
    """Reads from a JSON-lines file: {"uid": hex, "ndef": hex|null, "read_counter": n, "originality": ...}."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise TagSourceError(f"cannot read {path}: {error.strerror}") from error
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                chip = ChipEvidence(Originality(item.get("originality", "not_available")), item.get("chip"),
                                    item.get("read_counter"))
                self.push(bytes.fromhex(item["uid"]), bytes.fromhex(item["ndef"]) if item.get("ndef") else None, chip)
            except (ValueError, KeyError, TypeError) as error:
                raise TagSourceError(f"{path}:{number}: not a read: {error}") from error


class ReaderTagSource:
    """A real reader. The same tag left in the field is reported again only after `repeat_after_s`."""

    def __init__(self, path: str, *, repeat_after_s: float = 3.0, options: object | None = None) -> None:
        from tag_tools.readers import open_reader
        from tag_tools.readers.errors import ReaderError

        self.path = path
        self.repeat_after_s = repeat_after_s
        self.options = options
        self._last: tuple[bytes, float] | None = None
        try:
            self.reader = open_reader(path)
        except ReaderError as error:
            raise TagSourceError(f"cannot open reader {path}: {error}") from error

    def next_read(self, timeout: float, cancel: threading.Event | None = None) -> TagReading | None:
        from tag_tools.readers.errors import (
            ReaderBusyError,
            ReaderError,
            ReaderNotFoundError,
            ReadTimeout,
            WaitCancelled,
        )

        try:
            tag = self.reader.read_tag(timeout=timeout, cancel=cancel, options=self.options)  # type: ignore[arg-type]
        except (ReadTimeout, WaitCancelled):
            return None
        except (ReaderNotFoundError, ReaderBusyError) as error:
            raise TagSourceError(f"reader {self.path}: {error}") from error
        except ReaderError as error:
            log.warning("read failed (%s): %s", type(error).__name__, error)
            return None
        completed = time.perf_counter()
        if self._last is not None and self._last[0] == tag.uid and completed - self._last[1] < self.repeat_after_s:
            self._last = (tag.uid, completed)
            time.sleep(min(0.2, timeout))
            return None
        self._last = (tag.uid, completed)
        return TagReading(tag.uid, tag.ndef_message, tag.chip_evidence(), completed)

    def close(self) -> None:
        self.reader.close()


class NoTagSource:
    def next_read(self, timeout: float, cancel: threading.Event | None = None) -> TagReading | None:
        (cancel or threading.Event()).wait(timeout)
        return None

    def close(self) -> None:
        pass


def open_tag_source(path: str, *, repeat_after_s: float = 3.0) -> TagSource:
    if path.startswith("file:"):
        return FileTagSource(Path(path[5:]))
    if path == "none:":
        return NoTagSource()
    return ReaderTagSource(path, repeat_after_s=repeat_after_s)
