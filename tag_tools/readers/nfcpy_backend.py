"""Readers driven by nfcpy: USB (PN533, RC-S380, ACR122U via libusb), serial (PN532) and udp.

Commands go through nfcpy's Type 2 Tag objects (nfc.tag.tt2.Type2Tag, and the tt2_nxp NTAG21x
classes chosen from the GET_VERSION answer), so nfcpy's own framing, retries and error codes are
used. Two deliberate departures from nfc.tag.activate(): GET_VERSION is sent with our command
timeout rather than nfcpy's fixed 10 ms, and READ with our timeout rather than tt2.read's 5 ms —
those fixed timeouts suit a USB chip that times out on the air, not the udp driver, whose timeouts
are wall-clock time on a loaded machine (a late answer would then be taken for the next one).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import TYPE_CHECKING

from tag_tools import ntag
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

if TYPE_CHECKING:  # pragma: no cover
    import nfc
    import nfc.clf
    import nfc.tag.tt2

log = logging.getLogger(__name__)

MAX_FAST_READ_PAGES = 60  # upper bound; the driver's max_recv_data_size may lower it


def _lost_reader(error: OSError) -> ReaderNotFoundError:
    return ReaderNotFoundError(f"reader no longer available ({error.strerror or error}): was it unplugged?", cause=error)


class NfcpyTransport(Transport):
    def __init__(
        self,
        clf: nfc.ContactlessFrontend,
        tag: nfc.tag.tt2.Type2Tag,
        uid: bytes,
        timeout: float,
        version: bytes | None,
        asked: bool,
    ):
        self._clf = clf
        self._tag = tag
        self._timeout = timeout
        self.uid = uid
        self.version = version
        self.version_known = asked
        self.round_trips = 1 if asked else 0
        size = clf.max_recv_data_size or 0
        self.max_fast_read_pages = max(0, min(MAX_FAST_READ_PAGES, (size - 2) // ntag.PAGE_SIZE))

    def _reselect(self) -> bool:
        """Select the same tag again (a Type 2 tag goes idle after a NAK or an unknown command)."""
        import nfc.clf

        try:
            target = self._clf.sense(nfc.clf.RemoteTarget("106A", sel_req=bytearray(self.uid)))
        except nfc.clf.CommunicationError:
            return False
        except OSError as error:
            raise _lost_reader(error) from error
        if target is None:
            return False
        self._tag._target = target
        return True

    def _translate(self, error: nfc.tag.TagCommandError | OSError, what: str) -> ReaderError:
        import nfc.tag

        if isinstance(error, OSError):
            return _lost_reader(error)
        if int(error) == nfc.tag.TIMEOUT_ERROR:
            if self._reselect():
                return CommandNotSupported(f"tag did not answer {what}", cause=error)
            return TagRemovedError(f"tag {self.uid.hex()} left the field during {what}", cause=error)
        if not self._reselect():
            return TagRemovedError(f"tag {self.uid.hex()} left the field during {what}", cause=error)
        return TagCommandError(f"{what} failed: {error}", cause=error)

    def command(self, frame: bytes) -> bytes:
        import nfc.tag

        self.round_trips += 1
        try:
            answer = bytes(self._tag.transceive(bytearray(frame), timeout=self._timeout, retries=1))
        except (nfc.tag.TagCommandError, OSError) as error:
            raise self._translate(error, f"command {frame[:1].hex()}") from error
        if ntag.nak_code(answer) is not None:
            self._reselect()
        return answer

    def read4(self, page: int) -> bytes:
        answer = self.command(bytes([ntag.READ, page]))
        code = ntag.nak_code(answer)
        if code is not None:
            raise TagCommandError(f"tag refused READ of page {page} (NAK {code:#x})", nak=code)
        return answer

    def write_page(self, page: int, data: bytes) -> None:
        import nfc.tag
        import nfc.tag.tt2

        self.round_trips += 1
        try:
            self._tag.write(page, bytearray(data))
        except nfc.tag.tt2.Type2TagCommandError as error:
            if int(error) == nfc.tag.tt2.INVALID_PAGE_ERROR:  # nfcpy's name for a NAK to WRITE
                self._reselect()
                raise TagCommandError(f"tag refused WRITE of page {page} (NAK)", cause=error, nak=0) from error
            raise self._translate(error, f"WRITE of page {page}") from error
        except OSError as error:
            raise _lost_reader(error) from error


class NfcpyReader(Reader):
    """`device` is nfcpy's own path: usb[:vid[:pid]], tty:PORT[:driver], udp:HOST:PORT."""

    def __init__(self, device: str, command_timeout: float | None = None) -> None:
        try:
            import nfc
        except ImportError as error:
            raise ReaderNotFoundError("nfcpy is not installed: pip install 'cylinder-guard[nfc]'", cause=error) from error
        self.path = f"nfcpy:{device}"
        self._is_udp = device.startswith("udp")
        # Wall-clock timeouts over a socket need slack; USB chips time out on the air (nfcpy's 0.1 s).
        self._timeout = command_timeout or (0.25 if self._is_udp else 0.1)
        self._clf = nfc.ContactlessFrontend()
        try:
            opened = self._clf.open(device)
        except OSError as error:
            if error.errno == errno.EBUSY:
                raise ReaderBusyError(
                    f"reader {device} is in use by another program (pcscd? stop it or keep it off this reader)",
                    cause=error,
                ) from error
            if error.errno == errno.EACCES:
                raise ReaderNotFoundError(
                    f"no permission to open {device}: install the udev rules (see docs/readers.md)", cause=error
                ) from error
            raise ReaderNotFoundError(f"cannot open reader {device}: {error}", cause=error) from error
        except Exception as error:  # nfcpy raises ValueError/ImportError for bad paths and missing libusb
            raise ReaderNotFoundError(f"cannot open reader {device}: {error}", cause=error) from error
        if not opened:
            raise ReaderNotFoundError(f"no nfcpy reader found at {device}")

    def _connect(self, timeout: float | None, cancel: threading.Event | None) -> Transport:
        import nfc.clf

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if cancel is not None and cancel.is_set():
                raise WaitCancelled("waiting for a tag was cancelled")
            if deadline is not None and time.monotonic() >= deadline:
                raise ReadTimeout(f"no tag on {self.path} within {timeout:g} s")
            try:
                target = self._clf.sense(nfc.clf.RemoteTarget("106A"))
            except nfc.clf.CommunicationError as error:
                log.debug("sense: %r", error)
                target = None
            except OSError as error:
                raise _lost_reader(error) from error
            if target is not None:
                return self._activate(target)
            if not self._is_udp:
                time.sleep(0.05)  # USB sense returns at once when the field is empty

    def _activate(self, target: nfc.clf.RemoteTarget) -> Transport:
        import nfc.clf
        import nfc.tag.tt2
        import nfc.tag.tt2_nxp

        uid = target.sdd_res
        assert uid is not None  # nfcpy sets the NFCID1 on every 106A target sense() returns
        sel_res = bytes(target.sel_res or b"\x00")[0]
        if sel_res & 0x60:
            kind = "NFC-DEP (phone)" if sel_res & 0x40 else "ISO-DEP (Type 4 / bank card)"
            raise NotType2TagError(f"card {uid.hex()} is {kind} (SEL_RES {sel_res:02x}), not a Type 2 Tag")
        target.sel_req = bytearray(uid)
        version: bytes | None = None
        asked = False
        if uid[0] == 0x04:  # NXP: ask GET_VERSION to pick nfcpy's class for the chip
            asked = True
            try:
                answer = self._clf.exchange(b"\x60", self._timeout)  # None only with no target activated
                version = bytes(answer) if answer is not None and len(answer) == 8 else None
            except nfc.clf.TimeoutError:
                selected = self._clf.sense(nfc.clf.RemoteTarget("106A", sel_req=target.sel_req))
                if selected is None:
                    raise TagRemovedError("tag left the field during activation") from None
                target = selected
            except nfc.clf.CommunicationError as error:
                raise TagRemovedError(f"tag activation failed: {error!r}", cause=error) from error
        tag_class = nfc.tag.tt2_nxp.VERSION_MAP.get(version) if version else None
        tag = tag_class(self._clf, target) if tag_class is not None else nfc.tag.tt2.Type2Tag(self._clf, target)
        log.debug("activated %s", tag)
        return NfcpyTransport(self._clf, tag, bytes(uid), self._timeout, version, asked)

    def _release(self, transport: Transport) -> None:
        device = self._clf.device
        if device is not None:
            device.mute()  # field off: the tag's next tap is a new power-on

    def close(self) -> None:
        self._clf.close()
