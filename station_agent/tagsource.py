"""Where reads come from: a small protocol the agent consumes, over real readers or fakes.

    pcsc[:NAME], nfcpy:...   tag_tools.readers (see tag_tools/readers/paths.py)
    file:PATH                a JSON-lines file of reads, each served once (demos, dry runs, tests)
    none:                    no reads at all (a sender-only run that drains the outbox)

A real reader that goes away (unplugged, pcscd restarted, an ACR122U that stopped answering) is
reopened by the source itself with capped exponential back-off; meanwhile next_read raises
TagSourceError, which the agent shows as a reader problem, and reads resume once it is back.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from station_agent.errors import TagSourceError
from tag_tools.verdict import ChipEvidence, Originality

if TYPE_CHECKING:  # pragma: no cover
    from tag_tools.readers.base import Reader, ReadOptions, TagRead

    #: Wait for a tag on a reader and read it (the seam a test replaces, as `opener` is).
    ReadTag = Callable[[Reader, float, threading.Event | None, ReadOptions | None], TagRead]

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
                chip = ChipEvidence(
                    Originality(item.get("originality", "not_available")), item.get("chip"), item.get("read_counter")
                )
                self.push(bytes.fromhex(item["uid"]), bytes.fromhex(item["ndef"]) if item.get("ndef") else None, chip)
            except (ValueError, KeyError, TypeError) as error:
                raise TagSourceError(f"{path}:{number}: not a read: {error}") from error


@dataclass(frozen=True)
class Backoff:
    """Capped exponential back-off with jitter between attempts to reopen a lost reader.

    Attempt n waits between half and all of min(max_s, first_s * 2**n): never zero (a reader that
    fails at once is not hammered), never past the cap (a re-plugged reader is found within max_s),
    and jittered so stations restarted together by one pcscd update do not retry in step.
    """

    first_s: float = 0.25
    max_s: float = 5.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        ceiling = min(self.max_s, self.first_s * 2.0 ** min(attempt, 32))
        return ceiling / 2 + rng() * ceiling / 2


def _open_reader(path: str) -> Reader:
    from tag_tools.readers import open_reader

    return open_reader(path)


def _read_tag(reader: Reader, timeout: float, cancel: threading.Event | None, options: ReadOptions | None) -> TagRead:
    from tag_tools.readers import read_tag

    return read_tag(reader, timeout=timeout, cancel=cancel, options=options)


class ReaderTagSource:
    """A real reader. The same tag left in the field is reported again only after `repeat_after_s`.

    The reader must open at construction (TagSourceError otherwise: a start that cannot succeed
    exits, and systemd restarts it). Once running, a lost reader is closed and reopened with
    `backoff`: while it cannot be, next_read raises TagSourceError("... lost ...; reopening"), and
    returns reads again as soon as it is back, on the same source object.
    """

    def __init__(
        self,
        path: str,
        *,
        repeat_after_s: float = 3.0,
        options: ReadOptions | None = None,
        backoff: Backoff = Backoff(),
        opener: Callable[[str], Reader] = _open_reader,
        read: ReadTag = _read_tag,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        from tag_tools.readers.errors import ReaderError

        self.path = path
        self.repeat_after_s = repeat_after_s
        self.options = options
        self.backoff = backoff
        self.reopened = 0  # how often a lost reader came back (the attendant page may show it)
        self._opener, self._read, self._clock, self._rng = opener, read, clock, rng
        self._last: tuple[bytes, float] | None = None
        self._lost: str | None = None
        self._attempts = 0
        self._next_attempt = 0.0
        try:
            self.reader: Reader | None = opener(path)
        except ReaderError as error:
            raise TagSourceError(f"cannot open reader {path}: {error}") from error

    @property
    def lost(self) -> str | None:
        """Why the reader is gone (None while it works)."""
        return self._lost

    def next_read(self, timeout: float, cancel: threading.Event | None = None) -> TagReading | None:
        from tag_tools.readers.errors import (
            ReaderBusyError,
            ReaderError,
            ReaderNotFoundError,
            ReadTimeout,
            WaitCancelled,
        )

        reader = self.reader if self.reader is not None else self._reopen()
        try:
            tag = self._read(reader, timeout, cancel, self.options)
        except (ReadTimeout, WaitCancelled):
            return None
        except (ReaderNotFoundError, ReaderBusyError) as error:
            self._lose(error)
            raise TagSourceError(self._problem()) from error
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

    def _problem(self) -> str:
        return f"reader {self.path} lost: {self._lost}; reopening"

    def _lose(self, error: Exception) -> None:
        """Give the dead reader back (its pcscd context or USB handle is useless now) and plan a reopen."""
        log.error("reader %s lost (%s): %s", self.path, type(error).__name__, error)
        self._close_reader()
        self._lost = str(error)
        self._attempts = 0
        self._next_attempt = self._clock() + self.backoff.delay(0, self._rng)

    def _reopen(self) -> Reader:
        from tag_tools.readers.errors import ReaderError

        now = self._clock()
        if now < self._next_attempt:
            raise TagSourceError(self._problem())
        try:
            reader = self._opener(self.path)
        except ReaderError as error:
            self._attempts += 1
            self._lost = str(error)
            self._next_attempt = now + self.backoff.delay(self._attempts, self._rng)
            log.info("reader %s still gone (attempt %d): %s", self.path, self._attempts, error)
            raise TagSourceError(self._problem()) from error
        log.info("reader %s reopened after %d failed attempts", self.path, self._attempts)
        self.reader, self._lost = reader, None
        self.reopened += 1
        return reader

    def _close_reader(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:  # a reader that is gone may fail to close: it is gone either way
                log.debug("closing the lost reader failed", exc_info=True)

    def close(self) -> None:
        self._close_reader()


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
