"""Serve an emulated NTAG on the listen side of nfcpy's `udp` driver.

A reader opened as `nfcpy:udp:HOST:PORT` (ContactlessFrontend('udp:HOST:PORT')) then finds this
tag by NFC-A anticollision and reads it through nfcpy's own Type 2 Tag code. The target binds the
udp driver's listening socket once (on all interfaces, as nfcpy's listen() does) and answers every
frame itself: SENS_REQ/WUPA with SENS_RES 4400, the anticollision cascade with the UID, and the
Type 2 Tag commands through the emulated chip. Tags can be swapped at any time.

RFOFF (the reader muted its field) makes the next read count as a new power-on for the read
counter. A removed emulator stays silent.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import reduce
from operator import xor

from tag_tools.emulation.ntag_emulator import NtagEmulator

log = logging.getLogger(__name__)

SENS_RES = bytes.fromhex("4400")  # double-size UID, bit frame anticollision
REQA, WUPA, HLTA = 0x26, 0x52, 0x50


def cascade_levels(uid: bytes) -> list[bytes]:
    """SDD_RES per cascade level (UID part plus BCC), 7-byte UIDs with the 0x88 cascade tag."""
    parts = [b"\x88" + uid[0:3], uid[3:7]] if len(uid) == 7 else [uid[0:4]]
    return [part + bytes([reduce(xor, part)]) for part in parts]


class UdpTagTarget:
    """Runs in a thread (start/stop) or in the foreground (serve)."""

    def __init__(
        self,
        emulator: NtagEmulator,
        port: int,
        host: str = "localhost",
        sel_res: int = 0x00,
    ) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self.sel_res = sel_res
        self.sessions = 0
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread: threading.Thread | None = None
        self._levels = cascade_levels(emulator.uid)

    def replace_emulator(self, emulator: NtagEmulator) -> None:
        """Present another tag: it answers the next frame a reader sends."""
        self.emulator = emulator
        self._levels = cascade_levels(emulator.uid)

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

        clf = nfc.ContactlessFrontend()
        if not clf.open(f"udp:{self.host}:{self.port}"):
            raise OSError(f"cannot open nfcpy udp driver on {self.host}:{self.port}")
        try:
            device = clf.device
            device._create_socket()
            if not device._bind_socket(time.time() + 5):
                raise OSError(f"udp port {self.port} is taken")
            self._bound.set()
            log.info("emulating %s %s on udp %s:%d", self.emulator.chip.name, self.emulator.uid.hex(), self.host, self.port)
            self.emulator.power_on()
            self._serve_frames(device)
        finally:
            clf.close()

    def _serve_frames(self, device: object) -> None:
        """Answer every frame on one bound socket, for the target's whole life.

        nfcpy's own listen() closes and rebinds the socket on each call, so frames a reader sends
        between two calls are lost and the first activation could take seconds under load (once more
        than the 10 s a test waits). Binding once and answering anticollision here (see _answer)
        leaves no such gap. RFOFF (the reader muted its field) ends a power-on: the next read counts again.
        """
        import nfc.clf

        while not self._stop.is_set():
            try:
                _brty, received, addr = device._recv_data(0.25, "106A")  # type: ignore[attr-defined]
            except nfc.clf.BrokenLinkError:
                log.debug("RFOFF: field off")
                self.sessions += 1
                self.emulator.power_on()
                continue
            except nfc.clf.CommunicationError:  # includes TimeoutError: nothing came
                continue
            response = self._answer(bytes(received))
            if response is not None:
                device._send_data("106A", response, addr)  # type: ignore[attr-defined]

    def _answer(self, frame: bytes) -> bytes | None:
        """Anticollision frames answered here (so a reader can re-select), the rest by the chip."""
        if self.emulator.removed:
            return None
        levels = self._levels
        if frame in (bytes([REQA]), bytes([WUPA])):
            return SENS_RES
        if frame[:1] == bytes([HLTA]):
            return None
        for level, select in enumerate((0x93, 0x95, 0x97)[: len(levels)]):
            if frame == bytes([select, 0x20]):
                return levels[level]
            if frame == bytes([select, 0x70]) + levels[level]:
                more = level + 1 < len(levels)
                return bytes([(self.sel_res & 0xFB) | (0x04 if more else 0)])
        return self.emulator.handle(frame)
