"""An emulated NTAG as a virtual card behind pcscd, through Debian's vsmartcard-vpcd driver.

pcscd loads the vpcd driver (/etc/reader.conf.d/vpcd), which waits on TCP port 35963 (its
CHANNELID) for a virtual card. This module connects there and plays the part of a contactless
reader with an NTAG on it, as an ACR122U does (`Acr122u`): it activates the chip on power-on,
answers the PC/SC storage-card pseudo-APDUs and the direct-transmit escape, and reports failures
with the status words of the ACR122U API (v2.04: 4.1 Get Data, 5.3 Read Binary, 5.4 Update Binary,
6.1 Direct Transmit): 90 00 success, 63 00 "the operation failed", 6A 81 "function not supported".
Every message is preceded by its length (2 bytes, big-endian); a 1-byte message is a control code:
00 power off, 01 power on, 02 reset, 04 get ATR.

Closing the connection is how the card leaves the reader: vpcd then reports the card absent, and
a transmit in flight fails. The card reconnects when the emulator is reinserted, and when pcscd
comes back after a restart.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import REQA, NtagEmulator, activate

log = logging.getLogger(__name__)

DEFAULT_PORT = 0x8C7B  # 35963, vpcd's CHANNELID in Debian's /etc/reader.conf.d/vpcd
ULTRALIGHT_ATR = bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04

SW_OK = b"\x90\x00"
SW_FAILED = b"\x63\x00"  # ACR122U: "The operation failed" (a NAK, a silent tag, a bad length)
SW_NOT_SUPPORTED = b"\x6a\x81"  # ACR122U: "Function not supported"

# PN532 commands inside the direct-transmit escape FF 00 00 00 Lc <payload> (PN532 user manual 7.3).
IN_COMMUNICATE_THRU = b"\xd4\x42"
IN_LIST_PASSIVE_TARGET_106A = b"\xd4\x4a\x01\x00"  # one target, 106 kbps type A
PN532_TIMEOUT = 0x01  # status byte of D5 43: the target did not answer


class Acr122u:
    """The reader side of one NTAG on an ACR122U: what its firmware does with each APDU.

    `direct_transmit=False` plays a reader without the ACR122U escape (many CCID readers).
    """

    def __init__(self, emulator: NtagEmulator, direct_transmit: bool = True) -> None:
        self.emulator = emulator
        self.direct_transmit = direct_transmit
        self.selected_uid: bytes | None = None  # what anticollision found: GET DATA answers from it

    def power_on(self) -> None:
        """Field on and the reader's own polling: power the chip, then select it."""
        self.emulator.power_on()
        self.select()

    def select(self) -> bool:
        """The PN532's InListPassiveTarget: REQA, then select by UID (REQA, as a reader polling does:
        a chip a NAK sent back to IDLE answers it; one sent to HALT would not)."""
        found = activate(self.emulator, REQA) is not None
        self.selected_uid = self.emulator.uid if found else None
        return found

    def respond(self, apdu: bytes) -> bytes:
        if len(apdu) < 5 or apdu[0] != 0xFF:
            return SW_NOT_SUPPORTED  # a storage card has no ISO 7816 applications
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if ins == 0xCA:  # GET DATA: P1 00 the UID; P1 01 the ATS, which a part-3 card has not
            if p1 != 0x00:
                return SW_NOT_SUPPORTED
            return self.selected_uid + SW_OK if self.selected_uid is not None else SW_FAILED
        if ins == 0xB0:  # READ BINARY: up to 16 bytes from page P2
            length = apdu[4]
            answer = self.emulator.handle(bytes([ntag.READ, p2]))
            if not 0 < length <= 16 or answer is None or len(answer) != 16:
                return SW_FAILED
            return answer[:length] + SW_OK
        if ins == 0xD6:  # UPDATE BINARY: one page
            if len(apdu) != 9 or apdu[4] != 4:
                return SW_FAILED
            answer = self.emulator.handle(bytes([ntag.WRITE, p2]) + apdu[5:9])
            return SW_OK if answer == bytes([ntag.ACK]) else SW_FAILED
        if ins == 0x00 and p1 == 0x00 and p2 == 0x00:
            return self._direct_transmit(apdu[5 : 5 + apdu[4]]) if len(apdu) == 5 + apdu[4] else SW_FAILED
        return SW_NOT_SUPPORTED

    def _direct_transmit(self, payload: bytes) -> bytes:
        if not self.direct_transmit:
            return SW_NOT_SUPPORTED
        if payload[:2] == IN_COMMUNICATE_THRU:
            answer = self.emulator.handle(payload[2:])
            if answer is None:
                return bytes([0xD5, 0x43, PN532_TIMEOUT]) + SW_OK
            return b"\xd5\x43\x00" + answer + SW_OK
        if payload == IN_LIST_PASSIVE_TARGET_106A:
            if not self.select():
                return b"\xd5\x4b\x00" + SW_OK
            uid = self.emulator.uid
            return b"\xd5\x4b\x01\x01\x00\x44" + bytes([self.emulator.sak, len(uid)]) + uid + SW_OK
        return SW_FAILED


class VpcdCard:
    """Connects to vpcd and serves the emulator; `start()` runs it in a thread."""

    def __init__(
        self, emulator: NtagEmulator, port: int = DEFAULT_PORT, host: str = "localhost", atr: bytes | None = None
    ) -> None:
        self.reader = Acr122u(emulator)
        self.host = host
        self.port = port
        self.atr = atr or ULTRALIGHT_ATR
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

    @property
    def emulator(self) -> NtagEmulator:
        return self.reader.emulator

    @property
    def direct_transmit(self) -> bool:
        return self.reader.direct_transmit

    @direct_transmit.setter
    def direct_transmit(self, enabled: bool) -> None:
        self.reader.direct_transmit = enabled

    def take_off(self) -> None:
        """Take the card off the reader (close the connection) and keep it off until put_on()."""
        self._off.set()

    def put_on(self, emulator: NtagEmulator | None = None, atr: bytes | None = None) -> None:
        """Put a card (this one, or another emulator) back on the reader."""
        if emulator is not None:
            self.reader.emulator = emulator
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
                self.reader.power_on()
            elif code == GET_ATR:
                return self.atr
            return None
        return self.reader.respond(message)
