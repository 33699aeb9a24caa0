"""An NTAG213/215/216 in software: the chip's state machine and command set, with its refusals.

Pure logic, no I/O: `handle(frame)` takes one frame a reader sends (REQA/WUPA, anticollision and
select, HLTA, or a Type 2 command) and returns the answer, a 1-byte 4-bit ACK/NAK, or None when the
real chip stays silent. The udp target (nfcpy's listen side) forwards every frame; the vpcd card
(behind pcscd) plays the reader and activates the chip itself (`activate`).

States follow the NXP NTAG213/215/216 datasheet (section 8.4, "state diagram") and ISO/IEC 14443-3:

    state          wakes / leaves on                         anything else
    IDLE           REQA or WUPA -> READY1 (ATQA 44 00)       silent, stays IDLE
    READY1         93 20 -> CL1 UID; 93 70 CL1 -> READY2      silent, back to IDLE (or HALT)
    READY2         95 20 -> CL2 UID; 95 70 CL2 -> ACTIVE      silent, back to IDLE (or HALT)
    ACTIVE         Type 2 commands; PWD_AUTH ok -> AUTH.;     a NAK or silence, then IDLE (or HALT)
                   HLTA -> HALT
    AUTHENTICATED  as ACTIVE, protected pages open           as ACTIVE
    HALT           WUPA only -> READY1                       silent, stays HALT

"IDLE (or HALT)": a chip woken from HALT by WUPA falls back to HALT, one woken from IDLE to IDLE
("depending on its previous state"). So after any NAK the chip answers nothing until a reader
selects it again: a backend that does not re-select is stuck, as it would be with a real tag.

Memory behaviour:
- READ returns 4 pages and rolls over past the last page to page 0; FAST_READ needs start <= end
  <= last page; PWD and PACK always read as zeros.
- WRITE: pages 0-1 (UID) are read-only; page 2 ORs in the static lock bytes; page 3 (CC) is OTP
  (bits are ORed); the dynamic lock page ORs in its bits; locked pages and, once CFGLCK is set,
  CFG0/CFG1 answer NAK.
- When lock bits take effect: the lock bytes are latched when the chip is woken (REQA/WUPA; NTAG203
  datasheet 8.5.2: "The configuration written in the lock bytes is active upon the next REQA or
  WUPA command"), CFGLCK at power-on (NTAG21x datasheet, ACCESS byte: "The write lock is only
  activated after a power cycle"). Bits written in a session are stored at once (and read back) but
  refuse writes only from the next activation.
- PWD_AUTH compares with PWD and answers PACK (-> AUTHENTICATED) or NAK. Pages from AUTH0 on need
  it for WRITE, and for READ/FAST_READ when PROT is set; AUTHLIM is not modelled.
- The 24-bit NFC counter, when NFC_CNT_EN is set in ACCESS, increments on the first READ or
  FAST_READ after power-on (datasheet 8.7) and stops at FFFFFFh; READ_CNT answers NAK when the
  counter is disabled. `power_on()` is a new tap.
- READ_SIG returns the 32-byte originality signature given to the emulator. Nobody but NXP can make
  one NXP's key accepts: tests sign UIDs with their own secp128r1 key (tag_tools.ntag.sign_uid)
  and pass the public key to the check.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import xor

from tag_tools import ntag
from tag_tools.ntag import ChipModel

log = logging.getLogger(__name__)

NAK = bytes([ntag.NAK_INVALID_ARGUMENT])
ACK = bytes([ntag.ACK])

# ISO/IEC 14443-3 type A frames (REQA and WUPA are 7-bit short frames, one byte here).
REQA, WUPA = b"\x26", b"\x52"
HLTA = b"\x50\x00"
ATQA = bytes.fromhex("4400")  # NTAG21x: double-size UID (datasheet 9.4), as sent, LSB first
SELECT_CODES = (0x93, 0x95)  # cascade levels 1 and 2 of a 7-byte UID
NVB_ANTICOLLISION, NVB_SELECT = 0x20, 0x70
SAK_UID_INCOMPLETE = 0x04
SAK_NTAG = 0x00


class ChipState(enum.Enum):
    IDLE = "idle"
    READY1 = "ready1"
    READY2 = "ready2"
    ACTIVE = "active"
    AUTHENTICATED = "authenticated"
    HALT = "halt"


SELECTED = (ChipState.ACTIVE, ChipState.AUTHENTICATED)


def cascade_levels(uid: bytes) -> list[bytes]:
    """The UID part plus BCC a tag answers per cascade level (7-byte UIDs with cascade tag 0x88)."""
    parts = [b"\x88" + uid[0:3], uid[3:7]] if len(uid) == 7 else [uid[0:4]]
    return [part + bytes([reduce(xor, part)]) for part in parts]


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
    """One emulated chip. Thread-safe: the serving thread and a test may both touch it.

    A new emulator has just entered the field: IDLE, waiting for REQA or WUPA.
    """

    uid: bytes
    chip: ChipModel
    memory: bytearray
    signature: bytes = bytes(ntag.SIGNATURE_LENGTH)
    counter: int = 0
    #: after this many more Type 2 commands the tag leaves the field (None: it stays).
    remove_after: int | None = None
    removed: bool = False
    commands_seen: int = 0
    #: SAK of the last cascade level (NTAG21x: 00h; tests set 20h to play an ISO-DEP card).
    sak: int = SAK_NTAG
    state: ChipState = ChipState.IDLE
    _woken_from_halt: bool = False
    _counted_this_power_on: bool = False
    _static_locks: bytes = b"\x00\x00"  # lock bytes as latched at the last activation
    _dynamic_locks: bytes = b"\x00\x00\x00"
    _cfg_locked: bool = False  # CFGLCK as latched at the last power-on
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def blank(cls, uid: bytes, chip: ChipModel = ntag.NTAG215, signature: bytes | None = None) -> NtagEmulator:
        return cls(uid, chip, blank_memory(uid, chip), signature or bytes(ntag.SIGNATURE_LENGTH))

    def __post_init__(self) -> None:
        if len(self.memory) != self.chip.total_pages * ntag.PAGE_SIZE:
            raise ValueError(f"{self.chip.name} memory has {self.chip.total_pages} pages, not {len(self.memory) // 4}")
        if len(self.signature) != ntag.SIGNATURE_LENGTH:
            raise ValueError("originality signature must be 32 bytes")
        self._latch_config()
        self._latch_locks()

    # -- life in the field -------------------------------------------------------------------

    def power_on(self) -> None:
        """The tag enters a field (or the field is reset): IDLE, and the next READ counts again."""
        with self._lock:
            self.state = ChipState.IDLE
            self._woken_from_halt = False
            self._counted_this_power_on = False
            self._latch_config()
            self._latch_locks()

    def remove_after_commands(self, count: int) -> None:
        """Leave the field after `count` more commands: simulates a tag pulled away mid-operation."""
        with self._lock:
            self.remove_after = count

    def reinsert(self) -> None:
        with self._lock:
            self.removed = False
            self.remove_after = None
            self.power_on()

    @property
    def access(self) -> int:
        return self.memory[self.chip.cfg1_page * 4]

    @property
    def auth0(self) -> int:
        return self.memory[self.chip.cfg0_page * 4 + 3]

    def page(self, number: int) -> bytes:
        return bytes(self.memory[number * 4 : number * 4 + 4])

    def _latch_config(self) -> None:
        self._cfg_locked = bool(self.access & ntag.ACCESS_CFGLCK)

    def _latch_locks(self) -> None:
        self._static_locks = bytes(self.memory[10:12])
        self._dynamic_locks = self.page(self.chip.dynamic_lock_page)[:3]

    # -- frames --------------------------------------------------------------------------------

    def handle(self, frame: bytes) -> bytes | None:
        with self._lock:
            if self.removed or not frame:
                return None
            if self.state is ChipState.IDLE:
                return self._wake(frame in (REQA, WUPA))
            if self.state is ChipState.HALT:
                return self._wake(frame == WUPA)
            if self.state in (ChipState.READY1, ChipState.READY2):
                return self._anticollision(frame)
            if frame == HLTA:
                self.state = ChipState.HALT
                return None  # HLTA is never answered
            return self._command(frame)

    def _wake(self, woken: bool) -> bytes | None:
        if not woken:
            return None  # IDLE and HALT ignore everything but their wake-up frames
        self._woken_from_halt = self.state is ChipState.HALT
        self.state = ChipState.READY1
        self._latch_locks()
        return ATQA

    def _error(self) -> None:
        """Any unexpected frame, and every NAK: back to the wait state the chip was woken from."""
        self.state = ChipState.HALT if self._woken_from_halt else ChipState.IDLE

    def _anticollision(self, frame: bytes) -> bytes | None:
        level = 0 if self.state is ChipState.READY1 else 1
        levels = cascade_levels(self.uid)
        if frame == bytes([SELECT_CODES[level], NVB_ANTICOLLISION]):
            return levels[level]
        if frame == bytes([SELECT_CODES[level], NVB_SELECT]) + levels[level]:
            if level == 0:
                self.state = ChipState.READY2
                return bytes([SAK_UID_INCOMPLETE])
            self.state = ChipState.ACTIVE
            return bytes([self.sak])
        self._error()
        return None

    def _command(self, frame: bytes) -> bytes | None:
        if self.remove_after is not None:
            if self.remove_after <= 0:
                log.info("emulated tag %s leaves the field", self.uid.hex())
                self.removed = True
                return None
            self.remove_after -= 1
        self.commands_seen += 1
        command, args = frame[0], bytes(frame[1:])
        handlers: dict[int, Callable[[bytes], bytes | None]] = {
            ntag.GET_VERSION: self._get_version,
            ntag.READ: self._read,
            ntag.FAST_READ: self._fast_read,
            ntag.WRITE: self._write,
            ntag.COMPATIBILITY_WRITE: self._compat_write,
            ntag.READ_CNT: self._read_cnt,
            ntag.READ_SIG: self._read_sig,
            ntag.PWD_AUTH: self._pwd_auth,
        }
        handler = handlers.get(command)
        answer = handler(args) if handler is not None else None
        if answer is None or answer == NAK:
            log.debug(
                "command %s: %s, tag goes %s",
                frame[:1].hex(),
                "NAK" if answer else "no answer",
                "HALT" if self._woken_from_halt else "IDLE",
            )
            self._error()
        return answer

    # -- commands ------------------------------------------------------------------------------

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

    def _protected(self, page: int, reading: bool) -> bool:
        """Password protection: pages from AUTH0 on need PWD_AUTH to write (and to read, with PROT)."""
        if self.state is ChipState.AUTHENTICATED or page < self.auth0:
            return False
        return not reading or bool(self.access & ntag.ACCESS_PROT)

    def _read(self, args: bytes) -> bytes | None:
        if len(args) != 1:
            return None
        start = args[0]
        if start >= self.chip.total_pages or self._protected(start, reading=True):
            return NAK
        self._count_read()
        return b"".join(self._readable((start + i) % self.chip.total_pages) for i in range(4))

    def _fast_read(self, args: bytes) -> bytes | None:
        if len(args) != 2:
            return None
        start, end = args
        if start > end or end >= self.chip.total_pages or self._protected(end, reading=True):
            return NAK
        self._count_read()
        return b"".join(self._readable(page) for page in range(start, end + 1))

    def _page_locked(self, page: int) -> bool:
        """Locked by the lock bits as latched at activation, not as just written."""
        if page < 16:
            return ntag.statically_locked(self._static_locks[0], self._static_locks[1], page)
        return ntag.dynamically_locked(self.chip, self._dynamic_locks, page)

    def _write(self, args: bytes) -> bytes | None:
        if len(args) != 5:
            return None
        page, data = args[0], args[1:]
        chip = self.chip
        offset = page * 4
        if page < 2 or page >= chip.total_pages or self._protected(page, reading=False):
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
            if self._cfg_locked:
                return NAK
            self.memory[offset : offset + 4] = data
        else:  # PWD, PACK: writable even with CFGLCK set (datasheet 8.8.1)
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

    def _pwd_auth(self, args: bytes) -> bytes | None:
        if len(args) != 4:
            return None
        if args != self.page(self.chip.pwd_page):
            return NAK
        self.state = ChipState.AUTHENTICATED
        return self.page(self.chip.pack_page)[:2]


def activate(emulator: NtagEmulator, wake: bytes = WUPA) -> int | None:
    """What a reader's anticollision does: wake the chip and select it by its UID, cascade level by level.

    Returns the final SAK, or None when the chip did not answer (gone, or asleep for this wake-up
    frame: REQA does not wake a HALTed chip). WUPA by default, as it wakes IDLE and HALT alike.
    """
    if emulator.handle(wake) is None:
        return None
    answer: bytes | None = None
    for code, level in zip(SELECT_CODES, cascade_levels(emulator.uid), strict=True):
        answer = emulator.handle(bytes([code, NVB_SELECT]) + level)
        if answer is None:
            return None
    assert answer is not None
    return answer[0]
