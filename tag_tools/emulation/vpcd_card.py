"""An emulated NTAG as a virtual card behind pcscd, through Debian's vsmartcard-vpcd driver.

pcscd loads the vpcd driver (/etc/reader.conf.d/vpcd), which waits on TCP port 35963 (its
CHANNELID) for a virtual card. This module connects there and plays the part of a contactless
reader with an NTAG on it, as an ACR122U does: it answers the PC/SC storage-card pseudo-APDUs and
the direct-transmit escape. Every message is preceded by its length (2 bytes, big-endian); a
1-byte message is a control code: 00 power off, 01 power on, 02 reset, 04 get ATR.

Closing the connection is how the card leaves the reader: vpcd then reports the card absent, and
a transmit in flight fails. The card reconnects when the emulator is reinserted.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator

log = logging.getLogger(__name__)

DEFAULT_PORT = 0x8C7B  # 35963, vpcd's CHANNELID in Debian's /etc/reader.conf.d/vpcd
ULTRALIGHT_ATR = bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_ADDRESS_OUT_OF_RANGE = b"\x6a\x82"
SW_MEMORY_FAILURE = b"\x65\x81"
SW_NOT_SUPPORTED = b"\x6a\x81"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"


def storage_card_response(emulator: NtagEmulator, apdu: bytes, direct_transmit: bool = True) -> bytes:
    """Answer one APDU the way a PC/SC contactless reader does for an NTAG on it.

    `direct_transmit=False` plays a reader without the ACR122U escape (many CCID readers).
    """
    if len(apdu) < 4 or apdu[0] != 0xFF:
        return SW_CLA_NOT_SUPPORTED
    ins, p1, p2 = apdu[1], apdu[2], apdu[3]
    if ins == 0xCA and p1 == 0x00:  # GET DATA: UID
        return emulator.uid + SW_OK
    if ins == 0xB0:  # READ BINARY: 16 bytes from page P2
        answer = emulator.handle(bytes([ntag.READ, p2]))
        return answer + SW_OK if answer is not None and len(answer) == 16 else SW_ADDRESS_OUT_OF_RANGE
    if ins == 0xD6:  # UPDATE BINARY: one page
        if len(apdu) != 9 or apdu[4] != 4:
            return SW_WRONG_LENGTH
        answer = emulator.handle(bytes([ntag.WRITE, p2]) + apdu[5:9])
        return SW_OK if answer == bytes([ntag.ACK]) else SW_MEMORY_FAILURE
    if direct_transmit and ins == 0x00 and p1 == 0x00 and p2 == 0x00 and len(apdu) >= 7 and apdu[5:7] == b"\xd4\x42":
        answer = emulator.handle(apdu[7 : 5 + apdu[4]])  # PN53x InCommunicateThru
        if answer is None:
            return b"\xd5\x43\x01" + SW_OK  # status 01: timeout, the tag stayed silent
        return b"\xd5\x43\x00" + answer + SW_OK
    return SW_NOT_SUPPORTED


class VpcdCard:
    """Connects to vpcd and serves the emulator; `start()` runs it in a thread."""

    def __init__(
        self, emulator: NtagEmulator, port: int = DEFAULT_PORT, host: str = "localhost", atr: bytes | None = None
    ) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self.atr = atr or ULTRALIGHT_ATR
        self.direct_transmit = True
        self.connections = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._off = threading.Event()
        self._connected = threading.Event()

    def start(self) -> VpcdCard:
        self._thread = threading.Thread(target=self.serve, name=f"vpcd-card-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def take_off(self) -> None:
        """Take the card off the reader (close the connection) and keep it off until put_on()."""
        self._off.set()

    def put_on(self, emulator: NtagEmulator | None = None, atr: bytes | None = None) -> None:
        """Put a card (this one, or another emulator) back on the reader."""
        if emulator is not None:
            self.emulator = emulator
        if atr is not None:
            self.atr = atr
        self._off.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def serve(self) -> None:
        while not self._stop.is_set():
            if self._off.is_set() or self.emulator.removed:
                time.sleep(0.02)
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one small APDU per packet, now
            except OSError as error:
                log.debug("vpcd not reachable on %s:%d: %s", self.host, self.port, error)
                time.sleep(0.1)
                continue
            self.connections += 1
            self._connected.set()
            log.info("card %s inserted into vpcd %s:%d", self.emulator.uid.hex(), self.host, self.port)
            try:
                with sock:
                    sock.settimeout(0.1)
                    self._session(sock)
            finally:
                self._connected.clear()
            log.info("card %s taken off vpcd %s:%d", self.emulator.uid.hex(), self.host, self.port)

    def _session(self, sock: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set() and not self._off.is_set() and not self.emulator.removed:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)  # vpcd writes length and body apart
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return  # pcscd went away
            buffer += chunk
            while len(buffer) >= 2:
                (length,) = struct.unpack(">H", buffer[:2])
                if len(buffer) < 2 + length:
                    break
                message, buffer = buffer[2 : 2 + length], buffer[2 + length :]
                reply = self._reply(message)
                log.debug("vpcd %s -> %s", message.hex(), reply.hex() if reply is not None else None)
                if self.emulator.removed:
                    return  # leave without answering: the reader sees the card gone mid-command
                if reply is not None:
                    sock.sendall(struct.pack(">H", len(reply)) + reply)

    def _reply(self, message: bytes) -> bytes | None:
        if len(message) == 1:
            code = message[0]
            if code in (POWER_ON, RESET):
                self.emulator.power_on()
            elif code == GET_ATR:
                return self.atr
            return None
        return storage_card_response(self.emulator, message, self.direct_transmit)
