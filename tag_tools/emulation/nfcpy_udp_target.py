"""Serve an emulated NTAG on the listen side of nfcpy's `udp` driver.

A reader opened as `nfcpy:udp:HOST:PORT` (ContactlessFrontend('udp:HOST:PORT')) then finds this
tag by NFC-A anticollision and reads it through nfcpy's own Type 2 Tag code. The target binds the
udp driver's listening socket once (on all interfaces, as nfcpy's listen() does) and hands every
frame to the emulated chip, which answers like the real one from its state (SENS_REQ/ALL_REQ with
SENS_RES 4400, the anticollision cascade with the UID, Type 2 Tag commands once selected, silence
after a NAK until selected again). Tags can be swapped at any time.

RFOFF (the reader muted its field) is a power cycle for the chip: IDLE, and the next read counts
again for the read counter. A removed emulator stays silent.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from tag_tools.emulation.ntag_emulator import NtagEmulator

if TYPE_CHECKING:  # pragma: no cover
    import nfc.clf.udp

log = logging.getLogger(__name__)


class UdpTagTarget:
    """Runs in a thread (start/stop) or in the foreground (serve)."""

    def __init__(
        self,
        emulator: NtagEmulator,
        port: int,
        host: str = "localhost",
        sel_res: int = 0x00,
    ) -> None:
        self.host = host
        self.port = port
        self.sel_res = sel_res
        self.sessions = 0
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread: threading.Thread | None = None
        self.replace_emulator(emulator)

    def replace_emulator(self, emulator: NtagEmulator) -> None:
        """Present another tag: it enters the field (power-on, IDLE) and waits for the reader's REQA."""
        emulator.sak = self.sel_res
        emulator.power_on()
        self.emulator = emulator

    def empty(self) -> None:
        """Take the tag out of the field: a removed chip with the same UID answers nothing."""
        nobody = NtagEmulator.blank(self.emulator.uid)
        nobody.removed = True
        self.replace_emulator(nobody)

    def start(self, ready_timeout: float = 5.0) -> UdpTagTarget:
        """Serve in a thread; returns once the socket is bound, so a reader's first frame is not lost."""
        self._thread = threading.Thread(target=self.serve, name=f"udp-tag-{self.port}", daemon=True)
        self._thread.start()
        if not self._bound.wait(ready_timeout):
            self.stop()
            raise OSError(f"the udp tag target did not bind port {self.port} within {ready_timeout:g} s")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve(self) -> None:
        import nfc
        import nfc.clf.udp

        clf = nfc.ContactlessFrontend()
        if not clf.open(f"udp:{self.host}:{self.port}"):
            raise OSError(f"cannot open nfcpy udp driver on {self.host}:{self.port}")
        try:
            device = clf.device
            assert isinstance(device, nfc.clf.udp.Device)  # open("udp:...") succeeded
            device._create_socket()
            if not device._bind_socket(time.time() + 5):
                raise OSError(f"udp port {self.port} is taken")
            self._bound.set()
            log.info("emulating %s %s on udp %s:%d", self.emulator.chip.name, self.emulator.uid.hex(), self.host, self.port)
            self.emulator.power_on()
            self._serve_frames(device)
        finally:
            clf.close()

    def _serve_frames(self, device: nfc.clf.udp.Device) -> None:
        """Answer every frame on one bound socket, for the target's whole life.

        nfcpy's own listen() closes and rebinds the socket on each call, so frames a reader sends
        between two calls are lost and the first activation could take seconds under load (once more
        than the 10 s a test waits). Binding once and handing every frame to the chip (see _answer)
        leaves no such gap. RFOFF (the reader muted its field) ends a power-on: the next read counts again.
        """
        import nfc.clf

        while not self._stop.is_set():
            try:
                _brty, received, addr = device._recv_data(0.25, "106A")
            except nfc.clf.BrokenLinkError:
                log.debug("RFOFF: field off")
                self.sessions += 1
                self.emulator.power_on()
                continue
            except nfc.clf.CommunicationError:  # includes TimeoutError: nothing came
                continue
            response = self._answer(bytes(received))
            if response is not None:
                device._send_data("106A", response, addr)

    def _answer(self, frame: bytes) -> bytes | None:
        """Every frame, anticollision included, goes to the chip: it knows its state, the target does not."""
        return self.emulator.handle(frame)
