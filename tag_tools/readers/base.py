"""The small interface every reader backend implements, and what a read returns.

Split as python-fido2 splits transport from protocol: a backend only knows how to find a tag and
move bytes (`Transport`: raw Type 2 command, READ of 4 pages, WRITE of one page); all NTAG logic
(what to read, how to write and lock, what the answers mean) lives once, in ntag_protocol, above
any backend.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tag_tools.chip_evidence import ChipEvidence, Originality
from tag_tools.ntag import NXP_NTAG21X_PUBLIC_KEY

log = logging.getLogger(__name__)


class Transport(ABC):
    """One activated tag on one reader. Counts round trips (one per command sent to the tag)."""

    uid: bytes
    round_trips: int = 0
    #: largest FAST_READ (in pages) the reader passes through; 0: use READ only.
    max_fast_read_pages: int = 0
    #: GET_VERSION answer when the backend already asked during activation (None: not asked).
    version: bytes | None = None
    version_known: bool = False
    #: True once the reader showed it cannot send raw frames (chip identity then unknown).
    raw_unavailable: bool = False

    @abstractmethod
    def command(self, frame: bytes) -> bytes:
        """Send a raw Type 2 command and return the tag's answer (a 1-byte answer is ACK/NAK).

        Raises CommandNotSupported when the tag stays silent but is still there, or the reader
        has no way to send raw frames; TagRemovedError when the tag is gone.
        """

    @abstractmethod
    def read4(self, page: int) -> bytes:
        """READ: the 16 bytes of pages page..page+3. TagCommandError on NAK."""

    @abstractmethod
    def write_page(self, page: int, data: bytes) -> None:
        """WRITE one 4-byte page. TagCommandError on NAK."""


@dataclass(frozen=True)
class TagRead:
    """Everything one read learnt about a tag."""

    uid: bytes
    chip: str  # "NTAG215", "Ultralight", "other", ...
    version: bytes | None  # GET_VERSION answer
    ndef_message: bytes | None  # None: the tag holds no NDEF message
    read_counter: int | None  # NFC counter after this read; None where the chip has none or it is off
    originality: Originality
    signature: bytes | None
    round_trips: int
    read_only: bool = False  # the capability container says no write access
    data_area_size: int | None = None

    def chip_evidence(self) -> ChipEvidence:
        return ChipEvidence(originality=self.originality, chip=self.chip, read_counter=self.read_counter)

    def to_json(self) -> dict[str, object]:
        return {
            "uid": self.uid.hex(),
            "chip": self.chip,
            "version": self.version.hex() if self.version is not None else None,
            "ndef_message": self.ndef_message.hex() if self.ndef_message is not None else None,
            "ndef_length": len(self.ndef_message) if self.ndef_message is not None else None,
            "read_counter": self.read_counter,
            "originality": self.originality.value,
            "signature": self.signature.hex() if self.signature is not None else None,
            "round_trips": self.round_trips,
            "read_only": self.read_only,
            "data_area_size": self.data_area_size,
        }


@dataclass(frozen=True)
class WriteResult:
    uid: bytes
    chip: str
    pages_written: int
    locked: bool
    round_trips: int


@dataclass
class ReadOptions:
    """Knobs of a read; the originality key is a parameter so emulated chips can be tested."""

    originality_key: bytes = NXP_NTAG21X_PUBLIC_KEY
    read_signature: bool = True
    read_counter: bool = True


class Reader(ABC):
    """A reader chosen by a path string (see paths.open_reader). Not thread-safe: one user at a time.

    It only opens sessions; reading and writing a tag are ntag_protocol.read_tag / write_tag.
    """

    path: str

    @abstractmethod
    def _connect(self, timeout: float | None, cancel: threading.Event | None) -> Transport:
        """Wait for a Type 2 tag and activate it. ReadTimeout / WaitCancelled when none comes."""

    @abstractmethod
    def _release(self, transport: Transport) -> None:
        """End the session with the tag (RF off / card unpowered), so the next tap is a new power-on."""

    @abstractmethod
    def close(self) -> None:
        """Give the reader back to the system."""

    @contextmanager
    def session(self, timeout: float | None = None, cancel: threading.Event | None = None) -> Iterator[Transport]:
        transport = self._connect(timeout, cancel)
        try:
            yield transport
        finally:
            try:
                self._release(transport)
            except Exception:  # releasing a vanished tag must not hide the real error
                log.debug("release failed", exc_info=True)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
