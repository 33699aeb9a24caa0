"""An NTAG213/215/216 in software: the command set a reader uses, with the chip's refusals.

Pure logic, no I/O: `handle(frame)` takes one Type 2 command frame and returns the answer, a 1-byte
4-bit ACK/NAK, or None when the real chip would stay silent (unknown command, removed from the
field). The udp target (nfcpy's listen side) and the vpcd card (behind pcscd) wrap it.

Behaviour follows the NXP NTAG213/215/216 datasheet:
- READ returns 4 pages and rolls over past the last page to page 0; FAST_READ needs start <= end
  <= last page; PWD and PACK always read as zeros.
- WRITE: pages 0-1 (UID) are read-only; page 2 ORs in the static lock bytes; page 3 (CC) is OTP
  (bits are ORed); the dynamic lock page ORs in its bits; locked pages and, once CFGLCK is set,
  CFG0/CFG1 answer NAK.
- The 24-bit NFC counter, when NFC_CNT_EN is set in ACCESS, increments on the first READ or
  FAST_READ after power-on (datasheet 8.7) and stops at FFFFFFh; READ_CNT answers NAK when the
  counter is disabled. `power_on()` is a new tap.
- READ_SIG returns the 32-byte originality signature given to the emulator. Nobody but NXP can make
  one NXP's key accepts: tests sign UIDs with their own secp128r1 key (tag_tools.ntag.sign_uid)
  and pass the public key to the check.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from tag_tools import ntag
from tag_tools.ntag import ChipModel

log = logging.getLogger(__name__)

NAK = bytes([ntag.NAK_INVALID_ARGUMENT])
ACK = bytes([ntag.ACK])


def blank_memory(uid: bytes, chip: ChipModel) -> bytearray:
    """Factory memory: UID and check bytes, no locks, the chip's CC, an empty NDEF TLV, default config."""
    if len(uid) != ntag.UID_LENGTH:
        raise ValueError(f"an NTAG21x UID has 7 bytes, not {len(uid)}")
    memory = bytearray(chip.total_pages * ntag.PAGE_SIZE)
    bcc0, bcc1 = ntag.uid_check_bytes(uid)
    memory[0:12] = uid[0:3] + bytes([bcc0]) + uid[3:7] + bytes([bcc1, 0x48, 0x00, 0x00])
    memory[12:16] = chip.cc
    memory[16:20] = bytes([0x03, 0x00, 0xFE, 0x00])
    memory[chip.cfg0_page * 4 : chip.cfg0_page * 4 + 4] = bytes([0x04, 0x00, 0x00, 0xFF])  # AUTH0=FF: no password
    memory[chip.cfg1_page * 4 : chip.cfg1_page * 4 + 4] = bytes([0x00, 0x05, 0x00, 0x00])
    memory[chip.pwd_page * 4 : chip.pwd_page * 4 + 4] = b"\xff\xff\xff\xff"
    return memory


@dataclass
class NtagEmulator:
    """One emulated chip. Thread-safe: the serving thread and a test may both touch it."""

    uid: bytes
    chip: ChipModel
    memory: bytearray
    signature: bytes = bytes(ntag.SIGNATURE_LENGTH)
    counter: int = 0
    #: after this many more commands the tag leaves the field (None: it stays).
    remove_after: int | None = None
    removed: bool = False
    commands_seen: int = 0
    _counted_this_power_on: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def blank(cls, uid: bytes, chip: ChipModel = ntag.NTAG215, signature: bytes | None = None) -> NtagEmulator:
        return cls(uid, chip, blank_memory(uid, chip), signature or bytes(ntag.SIGNATURE_LENGTH))

    def __post_init__(self) -> None:
        if len(self.memory) != self.chip.total_pages * ntag.PAGE_SIZE:
            raise ValueError(f"{self.chip.name} memory has {self.chip.total_pages} pages, not {len(self.memory) // 4}")
        if len(self.signature) != ntag.SIGNATURE_LENGTH:
            raise ValueError("originality signature must be 32 bytes")

    # -- life in the field -------------------------------------------------------------------

    def power_on(self) -> None:
        """The tag enters a field (or the field is reset): the next READ counts again."""
        with self._lock:
            self._counted_this_power_on = False

    def remove_after_commands(self, count: int) -> None:
        """Leave the field after `count` more commands: simulates a tag pulled away mid-operation."""
        with self._lock:
            self.remove_after = count

    def reinsert(self) -> None:
        with self._lock:
            self.removed = False
            self.remove_after = None
            self._counted_this_power_on = False

    @property
    def access(self) -> int:
        return self.memory[self.chip.cfg1_page * 4]

    def page(self, number: int) -> bytes:
        return bytes(self.memory[number * 4 : number * 4 + 4])

    # -- commands ------------------------------------------------------------------------------

    def handle(self, frame: bytes) -> bytes | None:
        with self._lock:
            if self.removed:
                return None
            if self.remove_after is not None:
                if self.remove_after <= 0:
                    log.info("emulated tag %s leaves the field", self.uid.hex())
                    self.removed = True
                    return None
                self.remove_after -= 1
            self.commands_seen += 1
            if not frame:
                return None
            command, args = frame[0], bytes(frame[1:])
            handler = {
                ntag.GET_VERSION: self._get_version,
                ntag.READ: self._read,
                ntag.FAST_READ: self._fast_read,
                ntag.WRITE: self._write,
                ntag.COMPATIBILITY_WRITE: self._compat_write,
                ntag.READ_CNT: self._read_cnt,
                ntag.READ_SIG: self._read_sig,
            }.get(command)
            if handler is None:
                log.debug("unsupported command %02x: tag goes mute", command)
                return None  # the chip goes idle without answering
            return handler(args)

    def _get_version(self, args: bytes) -> bytes | None:
        return self.chip.version if not args else None

    def _readable(self, page: int) -> bytes:
        if page in (self.chip.pwd_page, self.chip.pack_page):
            return bytes(4)
        return self.page(page)

    def _count_read(self) -> None:
        if self.access & ntag.ACCESS_NFC_CNT_EN and not self._counted_this_power_on:
            self.counter = min(self.counter + 1, 0xFFFFFF)
        self._counted_this_power_on = True

    def _read(self, args: bytes) -> bytes | None:
        if len(args) != 1:
            return None
        start = args[0]
        if start >= self.chip.total_pages:
            return NAK
        self._count_read()
        return b"".join(self._readable((start + i) % self.chip.total_pages) for i in range(4))

    def _fast_read(self, args: bytes) -> bytes | None:
        if len(args) != 2:
            return None
        start, end = args
        if start > end or end >= self.chip.total_pages:
            return NAK
        self._count_read()
        return b"".join(self._readable(page) for page in range(start, end + 1))

    def _page_locked(self, page: int) -> bool:
        lock0, lock1 = self.memory[10], self.memory[11]
        if page < 16:
            return ntag.statically_locked(lock0, lock1, page)
        dyn = self.page(self.chip.dynamic_lock_page)
        return ntag.dynamically_locked(self.chip, dyn, page)

    def _write(self, args: bytes) -> bytes | None:
        if len(args) != 5:
            return None
        page, data = args[0], args[1:]
        chip = self.chip
        offset = page * 4
        if page < 2 or page >= chip.total_pages:
            return NAK
        if page == 2:  # only the lock bytes are writable, and only towards 1
            self.memory[10] |= data[2]
            self.memory[11] |= data[3]
        elif page == 3:
            if self._page_locked(3):
                return NAK
            for i in range(4):
                self.memory[offset + i] |= data[i]
        elif page <= chip.user_end:
            if self._page_locked(page):
                return NAK
            self.memory[offset : offset + 4] = data
        elif page == chip.dynamic_lock_page:
            for i in range(3):
                self.memory[offset + i] |= data[i]
        elif page in (chip.cfg0_page, chip.cfg1_page):
            if self.access & ntag.ACCESS_CFGLCK:
                return NAK
            self.memory[offset : offset + 4] = data
        else:  # PWD, PACK
            self.memory[offset : offset + 4] = data
        return ACK

    def _compat_write(self, args: bytes) -> bytes | None:
        return None  # two-part command; no reader of ours sends it

    def _read_cnt(self, args: bytes) -> bytes | None:
        if args != bytes([ntag.NFC_COUNTER_ADDRESS]) or not self.access & ntag.ACCESS_NFC_CNT_EN:
            return NAK
        return self.counter.to_bytes(3, "little")

    def _read_sig(self, args: bytes) -> bytes | None:
        if args != b"\x00":
            return NAK
        return self.signature
