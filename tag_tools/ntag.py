"""NXP NTAG21x facts: command bytes, GET_VERSION decoding, memory and lock layout, originality.

Pure data and arithmetic, no I/O: the reader protocol (tag_tools.readers.ntag_protocol) and the
emulator (tag_tools.emulation.ntag_emulator) both build on this module, so the two can only
disagree with the datasheet, never with each other. Figures are from the NXP NTAG213/215/216
datasheet (rev. 3.2): memory organisation (section 8.5), lock bytes (8.5.2, 8.5.3),
configuration pages (8.5.7), NFC counter (8.7), originality signature (8.8) and commands (10).

The originality check is the only place that imports python-ecdsa: the `cryptography` package has
no secp128r1 curve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tag_tools.chip_evidence import Originality

log = logging.getLogger(__name__)

# Commands (datasheet section 10).
GET_VERSION = 0x60
READ = 0x30
FAST_READ = 0x3A
WRITE = 0xA2
COMPATIBILITY_WRITE = 0xA0
READ_CNT = 0x39
PWD_AUTH = 0x1B
READ_SIG = 0x3C
NFC_COUNTER_ADDRESS = 0x02  # READ_CNT argument: the only counter of NTAG21x

# 4-bit answers: ACK, and the NAK codes the tag sends for refused commands.
ACK = 0x0A
NAK_INVALID_ARGUMENT = 0x00  # invalid page address, locked page, disabled counter
NAK_CRC_ERROR = 0x01
NAK_AUTH_OVERFLOW = 0x04
NAK_EEPROM_WRITE_ERROR = 0x05

PAGE_SIZE = 4
READ_PAGES = 4  # READ returns 16 bytes
SIGNATURE_LENGTH = 32
UID_LENGTH = 7

# ACCESS byte (first byte of the CFG1 page).
ACCESS_PROT = 0x80
ACCESS_CFGLCK = 0x40
ACCESS_NFC_CNT_EN = 0x10
ACCESS_NFC_CNT_PWD_PROT = 0x08

# NXP's public key for the NTAG21x originality signature (secp128r1, uncompressed point).
NXP_NTAG21X_PUBLIC_KEY = bytes.fromhex("04494E1A386D3D3CFE3DC10E5DE68A499B1C202DB5B132393E89ED19FE5BE8BC61")


@dataclass(frozen=True)
class ChipModel:
    """Geometry of one NTAG21x product, as the datasheet's memory map gives it."""

    name: str
    version: bytes  # GET_VERSION answer
    total_pages: int  # pages 0 .. total_pages-1 exist
    user_end: int  # last user-memory page
    cc: bytes  # factory capability container (page 3)
    pages_per_dynamic_lock_bit: int

    @property
    def dynamic_lock_page(self) -> int:
        return self.user_end + 1

    @property
    def cfg0_page(self) -> int:
        return self.user_end + 2

    @property
    def cfg1_page(self) -> int:
        return self.user_end + 3

    @property
    def pwd_page(self) -> int:
        return self.user_end + 4

    @property
    def pack_page(self) -> int:
        return self.user_end + 5

    @property
    def user_bytes(self) -> int:
        return (self.user_end - 3) * PAGE_SIZE

    @property
    def has_read_counter(self) -> bool:
        return True  # all of NTAG213/215/216 have the 24-bit NFC counter

    def dynamic_lock_bit(self, page: int) -> int | None:
        """Index of the dynamic lock bit that guards `page`, or None if no dynamic bit does."""
        if page < 16 or page > self.user_end:
            return None
        return (page - 16) // self.pages_per_dynamic_lock_bit

    @property
    def dynamic_lock_bits(self) -> int:
        return (self.user_end - 16) // self.pages_per_dynamic_lock_bit + 1

    def dynamic_lock_bytes_all(self) -> bytes:
        """Lock bytes that lock every user page above 15.

        Only the per-page-group bits are set: block-lock bits are pointless once every lock bit is
        set, and the datasheet asks for RFUI bits to stay 0.
        """
        mask = (1 << self.dynamic_lock_bits) - 1
        return bytes([mask & 0xFF, (mask >> 8) & 0xFF, 0x00, 0x00])


NTAG213 = ChipModel("NTAG213", bytes.fromhex("0004040201000F03"), 45, 0x27, bytes.fromhex("E1101200"), 2)
NTAG215 = ChipModel("NTAG215", bytes.fromhex("0004040201001103"), 135, 0x81, bytes.fromhex("E1103E00"), 16)
NTAG216 = ChipModel("NTAG216", bytes.fromhex("0004040201001303"), 231, 0xE1, bytes.fromhex("E1106D00"), 16)

CHIPS: dict[str, ChipModel] = {chip.name: chip for chip in (NTAG213, NTAG215, NTAG216)}
_BY_VERSION = {chip.version: chip for chip in CHIPS.values()}

# Static lock bits (page 2, bytes 2 and 3): which bit guards which page.
STATIC_LOCK_CC_BIT = 3  # bit of byte 2 that locks page 3 (the capability container)


def nak_code(answer: bytes) -> int | None:
    """The NAK code of a 1-byte answer, None for an ACK or a data answer."""
    if len(answer) == 1 and answer[0] & 0x0F != ACK:
        return answer[0] & 0x0F
    return None


def chip_for_version(version: bytes | None) -> ChipModel | None:
    """The NTAG21x model for a GET_VERSION answer, None for anything else."""
    return _BY_VERSION.get(bytes(version)) if version else None


def chip_name(version: bytes | None) -> str:
    """A short product name for a GET_VERSION answer (None: the chip does not know the command)."""
    if version is None:
        return "Ultralight"  # MIFARE Ultralight / NTAG203 have no GET_VERSION
    chip = chip_for_version(version)
    if chip is not None:
        return chip.name
    if len(version) == 8 and version[1] == 0x04 and version[2] == 0x03:
        return "Ultralight EV1"
    if len(version) == 8 and version[1] == 0x04 and version[2] == 0x04:
        return f"NTAG (version {version.hex()})"
    return "other"


def statically_locked(lock0: int, lock1: int, page: int) -> bool:
    """True when the static lock bytes of page 2 make `page` (3..15) read-only."""
    if page == 3:
        return bool(lock0 & (1 << STATIC_LOCK_CC_BIT))
    if 4 <= page <= 7:
        return bool(lock0 & (1 << page))
    if 8 <= page <= 15:
        return bool(lock1 & (1 << (page - 8)))
    return False


def dynamically_locked(chip: ChipModel, lock_bytes: bytes, page: int) -> bool:
    """True when the dynamic lock bytes make user page `page` read-only."""
    bit = chip.dynamic_lock_bit(page)
    if bit is None:
        return False
    return bool(lock_bytes[bit // 8] & (1 << (bit % 8)))


def uid_check_bytes(uid: bytes) -> tuple[int, int]:
    """BCC0 and BCC1 of a 7-byte UID as stored in pages 0-2 (ISO/IEC 14443-3 cascade tag 0x88)."""
    bcc0 = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
    bcc1 = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
    return bcc0, bcc1


def uid_from_memory(first_pages: bytes) -> bytes:
    """The 7-byte UID stored in pages 0-1 (skipping BCC0)."""
    return bytes(first_pages[0:3]) + bytes(first_pages[4:8])


def check_originality(uid: bytes, signature: bytes | None, public_key: bytes = NXP_NTAG21X_PUBLIC_KEY) -> Originality:
    """Check the chip's originality signature over its UID.

    NXP signs the raw 7-byte UID with ECDSA on secp128r1, no hash (AN11350): the UID is the
    digest. `public_key` defaults to NXP's NTAG21x key; tests pass their own key because nobody
    outside NXP can make a signature that NXP's key accepts.
    """
    if signature is None:
        return Originality.NOT_AVAILABLE
    import ecdsa  # late: only readers need it, and it is an optional extra
    from ecdsa.util import sigdecode_string

    if len(signature) != SIGNATURE_LENGTH or len(uid) != UID_LENGTH:
        return Originality.NOT_GENUINE
    try:
        key = ecdsa.VerifyingKey.from_string(public_key, curve=ecdsa.SECP128r1)
    except (ValueError, ecdsa.MalformedPointError) as error:
        raise ValueError(f"originality public key is not a secp128r1 point: {error}") from error
    try:
        key.verify_digest(signature, uid, sigdecode=sigdecode_string)
    except (ecdsa.BadSignatureError, ecdsa.BadDigestError, ValueError, AssertionError):
        log.info("originality signature of %s does not verify", uid.hex())
        return Originality.NOT_GENUINE
    return Originality.GENUINE


def sign_uid(uid: bytes, private_key: bytes) -> bytes:
    """Make an originality signature (r||s) with a secp128r1 private key: for emulators and tests only."""
    import ecdsa
    from ecdsa.util import sigencode_string

    key = ecdsa.SigningKey.from_string(private_key, curve=ecdsa.SECP128r1)
    return bytes(key.sign_digest_deterministic(uid, sigencode=sigencode_string))


def generate_test_key() -> tuple[bytes, bytes]:
    """A fresh secp128r1 key pair (private, uncompressed public) standing in for NXP's in tests."""
    import ecdsa

    key = ecdsa.SigningKey.generate(curve=ecdsa.SECP128r1)
    return bytes(key.to_string()), bytes(key.verifying_key.to_string("uncompressed"))
