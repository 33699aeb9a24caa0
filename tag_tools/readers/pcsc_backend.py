"""Readers behind PC/SC (pcscd + pyscard): the ACS readers stations buy, and any CCID reader.

An NTAG shows up as a "Mifare Ultralight" storage card (PC/SC part 3 ATR). Pages are read and
written with the storage-card pseudo-APDUs (FF B0 READ BINARY of 16 bytes, FF D6 UPDATE BINARY of
one page, FF CA GET DATA for the UID). Raw NTAG commands (GET_VERSION, FAST_READ, READ_SIG,
READ_CNT) go through the ACR122U-style direct transmit escape, FF 00 00 00 Lc D4 42 <cmd>, which
answers D5 43 <status> <data> 90 00. A reader without that escape still reads and writes, with
READ only and no chip identification, signature or counter.

Status words are the ACR122U API's (v2.04, sections 4.1, 5.3, 5.4, 6.1): 90 00 success, 63 00 "the
operation failed" (the tag answered NAK, or nothing), 6A 81 "function not supported".

A real NTAG goes back to IDLE after any NAK and answers nothing until it is selected again, so
after a NAK (or silence) the transport re-selects it before the next command: InListPassiveTarget
through the escape, FF 00 00 00 04 D4 4A 01 00 (answer D5 4B 01 01 <ATQA> <SAK> 07 <UID> 90 00),
or, on a reader without the escape, SCardReconnect with SCARD_RESET_CARD (the reader powers the
card again and selects it: a new power-on for the chip).
"""

from __future__ import annotations

import logging
import threading
import time

from tag_tools.ntag import nak_code
from tag_tools.readers.base import Reader, Transport
from tag_tools.readers.errors import (
    CommandNotSupported,
    NotType2TagError,
    ReaderBusyError,
    ReaderError,
    ReaderNotFoundError,
    ReadTimeout,
    TagCommandError,
    TagRemovedError,
    WaitCancelled,
)

log = logging.getLogger(__name__)

SW_OK = b"\x90\x00"
SW_FAILED = b"\x63\x00"
SW_NOT_SUPPORTED = b"\x6a\x81"
RESELECT_APDU = bytes.fromhex("FF00000004D44A0100")  # PN532 InListPassiveTarget, 1 target, 106 kbps type A
IN_COMMUNICATE_THRU_TIMEOUT = 0x01  # PN532 status: the target did not answer
MAX_FAST_READ_PAGES = 60  # D5 43 00 + 240 bytes + SW stays inside a short APDU answer
STORAGE_ATR_PREFIX = bytes.fromhex("3B8F8001804F0CA000000306")
TYPE2_CARD_NAMES = {0x0003: "Mifare Ultralight / NTAG", 0x003A: "Mifare Ultralight C"}
POLL_MS = 200


def _require_pyscard() -> None:
    """pyscard is the `pcsc` extra: without it, opening a reader fails as a ReaderError, not an ImportError."""
    try:
        import smartcard.scard  # noqa: F401
    except ImportError as error:
        raise ReaderNotFoundError("pyscard is not installed: pip install 'cylinder-guard[pcsc]'", cause=error) from error


def _pcsc_error(code: int) -> str:
    from smartcard import scard

    return f"{scard.SCardGetErrorMessage(code).strip()} ({code & 0xFFFFFFFF:#010x})"


def _cause(code: int) -> BaseException:
    """pyscard's own exception for a PC/SC return code, kept as the cause of ours."""
    from smartcard.pcsc.PCSCExceptions import BaseSCardException

    return BaseSCardException(hresult=code)


def check_storage_atr(atr: bytes) -> str:
    """The card name from a PC/SC part 3 storage-card ATR; NotType2TagError for anything else."""
    if not atr.startswith(STORAGE_ATR_PREFIX) or len(atr) < 15:
        raise NotType2TagError(f"card with ATR {atr.hex()} is not a storage card (ISO-DEP / Type 4 or contact card?)")
    standard, name = atr[12], int.from_bytes(atr[13:15], "big")
    if standard != 0x03 or name not in TYPE2_CARD_NAMES:
        raise NotType2TagError(f"card type {name:#06x} (standard {standard:#04x}) is not a Type 2 Tag")
    return TYPE2_CARD_NAMES[name]


class PcscTransport(Transport):
    def __init__(self, card: int, protocol: int, reader: str) -> None:
        self._card = card
        self._protocol = protocol
        self._reader = reader
        self.max_fast_read_pages = MAX_FAST_READ_PAGES
        self.raw_unavailable = False
        self._needs_reselect = False  # the tag NAKed: it is IDLE until selected again
        self.uid = b""
        self.uid = self._uid()

    def transmit(self, apdu: bytes) -> tuple[bytes, bytes]:
        from smartcard import scard

        self.round_trips += 1
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise self._failure(hresult)
        data = bytes(response)
        if len(data) < 2:  # no status word: the card went away while the reader waited (vpcd does this)
            raise TagRemovedError(f"tag {self.uid.hex()} stopped answering (empty response)")
        return data[:-2], data[-2:]

    def _failure(self, hresult: int) -> ReaderError:
        from smartcard import scard

        if hresult in (
            scard.SCARD_E_READER_UNAVAILABLE,
            scard.SCARD_E_NO_SERVICE,
            scard.SCARD_E_UNKNOWN_READER,
            scard.SCARD_E_INVALID_HANDLE,
        ):
            return ReaderNotFoundError(f"reader {self._reader} went away: {_pcsc_error(hresult)}", cause=_cause(hresult))
        return TagRemovedError(f"tag {self.uid.hex()} stopped answering: {_pcsc_error(hresult)}", cause=_cause(hresult))

    def _uid(self) -> bytes:
        data, sw = self.transmit(bytes.fromhex("FFCA000000"))
        if sw != SW_OK:
            raise TagCommandError(f"reader refused GET DATA (UID): SW {sw.hex()}")
        return data

    # -- selecting the tag again after a NAK -----------------------------------------------------

    def reselect(self) -> bool:
        """Select the same tag again; False when it does not answer (it left the field)."""
        self._needs_reselect = False
        if not self.raw_unavailable:
            data, sw = self.transmit(RESELECT_APDU)
            if sw != SW_NOT_SUPPORTED:
                return sw == SW_OK and data[:3] == b"\xd5\x4b\x01" and len(data) > 8 and data[8 : 8 + data[7]] == self.uid
            self.raw_unavailable = True
        return self._reset_card()

    def _reset_card(self) -> bool:
        """The generic PC/SC way: the reader powers the card off and on, and selects it again."""
        from smartcard import scard

        self.round_trips += 1
        hresult, protocol = scard.SCardReconnect(
            self._card, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, scard.SCARD_RESET_CARD
        )
        if hresult != scard.SCARD_S_SUCCESS:
            error = self._failure(hresult)
            if isinstance(error, ReaderNotFoundError):
                raise error
            return False
        self._protocol = protocol
        data, sw = self.transmit(bytes.fromhex("FFCA000000"))
        return sw == SW_OK and data == self.uid

    def _ready(self, what: str) -> None:
        """Before a command: a tag that NAKed the last one must be selected first."""
        if self._needs_reselect and not self.reselect():
            raise TagRemovedError(f"tag {self.uid.hex()} left the field before {what}")

    def _refused(self, what: str, sw: bytes) -> ReaderError:
        """63 00: the tag NAKed (it is IDLE now) or said nothing (gone?). Re-selecting tells which."""
        if self.reselect():
            return TagCommandError(f"tag refused {what} (SW {sw.hex()})", nak=0)
        return TagRemovedError(f"tag {self.uid.hex()} left the field during {what} (SW {sw.hex()})")

    # -- Transport -------------------------------------------------------------------------------

    def command(self, frame: bytes) -> bytes:
        if self.raw_unavailable:
            raise CommandNotSupported("reader has no direct-transmit escape")
        what = f"command {frame[:1].hex()}"
        self._ready(what)
        payload = b"\xd4\x42" + frame
        data, sw = self.transmit(bytes([0xFF, 0x00, 0x00, 0x00, len(payload)]) + payload)
        if sw == SW_NOT_SUPPORTED or (sw == SW_OK and (data[:2] != b"\xd5\x43" or len(data) < 3)):
            self.raw_unavailable = True
            raise CommandNotSupported(f"reader refused the direct-transmit escape (SW {sw.hex()})")
        if sw != SW_OK:
            raise self._refused(what, sw)
        status = data[2] & 0x3F
        if status == IN_COMMUNICATE_THRU_TIMEOUT:  # silent: an unknown command (tag now IDLE), or gone
            if self.reselect():
                raise CommandNotSupported(f"tag did not answer {what}")
            raise TagRemovedError(f"tag {self.uid.hex()} left the field during {what}")
        if status != 0:
            self._needs_reselect = True
            raise TagCommandError(f"reader reports error {status:#04x} for {what}")
        answer = data[3:]
        if nak_code(answer) is not None:
            self._needs_reselect = True  # lazily: a NAK to the last command of a read costs nothing
        return answer

    def read4(self, page: int) -> bytes:
        what = f"READ of page {page}"
        self._ready(what)
        data, sw = self.transmit(bytes([0xFF, 0xB0, 0x00, page, 0x10]))
        if sw != SW_OK:
            raise self._refused(what, sw)
        return data

    def write_page(self, page: int, data: bytes) -> None:
        what = f"WRITE of page {page}"
        self._ready(what)
        _, sw = self.transmit(bytes([0xFF, 0xD6, 0x00, page, 0x04]) + data)
        if sw != SW_OK:
            raise self._refused(what, sw)


class PcscReader(Reader):
    """`name` selects the first PC/SC reader whose name contains it (empty: the first reader)."""

    def __init__(self, name: str = "") -> None:
        _require_pyscard()
        from smartcard import scard

        self.path = f"pcsc:{name}" if name else "pcsc"
        self._closed = False
        hresult, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise ReaderNotFoundError(f"cannot reach pcscd ({_pcsc_error(hresult)}): is it running?", cause=_cause(hresult))
        self.reader = self._find(name)

    def _find(self, name: str) -> str:
        from smartcard import scard

        hresult, readers = scard.SCardListReaders(self._context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE or (hresult == scard.SCARD_S_SUCCESS and not readers):
            raise ReaderNotFoundError("pcscd sees no reader: is it plugged in?")
        if hresult != scard.SCARD_S_SUCCESS:
            raise ReaderNotFoundError(f"cannot list PC/SC readers: {_pcsc_error(hresult)}", cause=_cause(hresult))
        matches = [reader for reader in readers if name.lower() in reader.lower()]
        if not matches:
            raise ReaderNotFoundError(f"no PC/SC reader matches {name!r} (readers: {', '.join(readers)})")
        return str(matches[0])

    def _wait_present(self, timeout: float | None, cancel: threading.Event | None) -> None:
        from smartcard import scard

        deadline = None if timeout is None else time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while True:
            if cancel is not None and cancel.is_set():
                raise WaitCancelled("waiting for a tag was cancelled")
            if deadline is not None and time.monotonic() >= deadline:
                raise ReadTimeout(f"no tag on {self.reader!r} within {timeout:g} s")
            hresult, states = scard.SCardGetStatusChange(self._context, POLL_MS, [(self.reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderNotFoundError(f"reader {self.reader!r} went away: {_pcsc_error(hresult)}", cause=_cause(hresult))
            state = states[0][1] & ~scard.SCARD_STATE_CHANGED
            if state & scard.SCARD_STATE_PRESENT and not state & scard.SCARD_STATE_MUTE:
                return

    def _connect(self, timeout: float | None, cancel: threading.Event | None) -> Transport:
        from smartcard import scard

        while True:
            self._wait_present(timeout, cancel)
            hresult, card, protocol = scard.SCardConnect(
                self._context, self.reader, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
            )
            if hresult == scard.SCARD_S_SUCCESS:
                break
            if hresult == scard.SCARD_E_SHARING_VIOLATION:
                raise ReaderBusyError(
                    f"reader {self.reader!r} is held by another program ({_pcsc_error(hresult)})", cause=_cause(hresult)
                )
            if hresult in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD):
                continue  # the tag left between presence and connect: wait again
            if hresult == scard.SCARD_W_UNRESPONSIVE_CARD:
                raise NotType2TagError(f"card on {self.reader!r} does not answer: {_pcsc_error(hresult)}", cause=_cause(hresult))
            raise ReaderNotFoundError(f"cannot connect to {self.reader!r}: {_pcsc_error(hresult)}", cause=_cause(hresult))
        try:
            hresult, _reader, _state, _protocol, atr = scard.SCardStatus(card)
            if hresult != scard.SCARD_S_SUCCESS:
                raise TagRemovedError(f"tag left the field on connect: {_pcsc_error(hresult)}", cause=_cause(hresult))
            check_storage_atr(bytes(atr))
            return PcscTransport(card, protocol, self.reader)
        except ReaderError:
            scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
            raise

    def _release(self, transport: Transport) -> None:
        from smartcard import scard

        assert isinstance(transport, PcscTransport)
        scard.SCardDisconnect(transport._card, scard.SCARD_UNPOWER_CARD)  # next tap: a new power-on

    def close(self) -> None:
        from smartcard import scard

        if not self._closed:
            scard.SCardReleaseContext(self._context)
            self._closed = True
