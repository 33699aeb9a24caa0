"""A reader with an emulated tag on it, for each real stack: what tests and the benchmark share
(test tooling: not installed with the product; the demo drives UdpTagTarget itself).

    with UdpRig() as rig:                 # nfcpy udp driver, emulator on its listen side
        rig.present(emulator)
        with open_reader(rig.reader_path) as reader: ...

    with VpcdRig() as rig:                # pcscd + vpcd, emulator as a virtual card
        ...

`present()` returns only once the stack sees the new tag, so the next read meets it, not the last.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod

from tag_tools.emulation.nfcpy_udp_target import UdpTagTarget
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.emulation.vpcd_card import ULTRALIGHT_ATR, VpcdCard
from tests.pcscd_peer import READER_NAME, PcscdWithVpcd, PeerError
from tests.peers import free_udp_port

log = logging.getLogger(__name__)

PCSCD_POLL_SECONDS = 0.45


class Rig(ABC):
    name: str
    reader_path: str

    @abstractmethod
    def start(self, emulator: NtagEmulator) -> Rig: ...

    @abstractmethod
    def present(self, emulator: NtagEmulator, *, atr: bytes | None = None, sel_res: int = 0) -> None:
        """Put `emulator` in the field instead of whatever was there (atr: vpcd only; sel_res: udp only)."""

    @abstractmethod
    def empty(self) -> None:
        """Leave the field empty."""

    @abstractmethod
    def stop(self) -> None: ...


class UdpRig(Rig):
    name = "nfcpy-udp"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_udp_port()
        self.reader_path = f"nfcpy:udp:localhost:{self.port}"
        self.target: UdpTagTarget | None = None

    def start(self, emulator: NtagEmulator) -> UdpRig:
        """Start the target and read it once through the reader stack, so a test starts only when
        the target answers."""
        from tag_tools.readers import open_reader, read_tag
        from tag_tools.readers.errors import ReaderError

        self.target = UdpTagTarget(emulator, self.port).start()
        try:
            with open_reader(self.reader_path) as reader:
                read_tag(reader, timeout=10)
        except ReaderError as error:
            self.stop()
            raise PeerError(f"nfcpy udp target on port {self.port} did not answer: {error}") from error
        return self

    def present(self, emulator: NtagEmulator, *, atr: bytes | None = None, sel_res: int = 0) -> None:
        assert self.target is not None
        self.target.sel_res = sel_res
        self.target.replace_emulator(emulator)

    def empty(self) -> None:
        assert self.target is not None
        self.target.empty()

    def stop(self) -> None:
        if self.target is not None:
            self.target.stop()


class VpcdRig(Rig):
    name = "pcsc-vpcd"

    def __init__(self) -> None:
        self.pcscd = PcscdWithVpcd()
        self.reader_path = f"pcsc:{READER_NAME}"
        self.card: VpcdCard | None = None

    def start(self, emulator: NtagEmulator) -> VpcdRig:
        self.pcscd.start()
        self.card = VpcdCard(emulator, self.pcscd.port).start()
        self._wait_state(present=True)
        return self

    def present(self, emulator: NtagEmulator, *, atr: bytes | None = None, sel_res: int = 0) -> None:
        assert self.card is not None
        # vpcd only takes a new card when pcscd's polling thread (every 400 ms) saw the old one go;
        # the reader state can say EMPTY earlier (a failed transmit), so empty() gives the poll its turn.
        self.empty()
        self.card.put_on(emulator, atr or ULTRALIGHT_ATR)
        self._wait_state(present=True)

    def empty(self) -> None:
        assert self.card is not None
        self.card.take_off()
        self._wait_state(present=False)
        time.sleep(PCSCD_POLL_SECONDS)

    def _wait_state(self, present: bool, timeout: float = 10.0) -> None:
        """Block until pcscd reports the card present (or gone): its polling lags the socket."""
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise PeerError("cannot reach pcscd")
        try:
            state = scard.SCARD_STATE_UNAWARE
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                hresult, states = scard.SCardGetStatusChange(context, 200, [(READER_NAME, state)])
                if hresult == scard.SCARD_S_SUCCESS:
                    state = states[0][1] & ~scard.SCARD_STATE_CHANGED
                    if bool(state & scard.SCARD_STATE_PRESENT) == present:
                        return
            raise PeerError(f"pcscd did not see the card {'arrive' if present else 'leave'} within {timeout:g} s")
        finally:
            scard.SCardReleaseContext(context)

    def stop(self) -> None:
        if self.card is not None:
            self.card.stop()
        self.pcscd.stop()
