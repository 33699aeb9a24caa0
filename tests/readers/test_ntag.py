"""NTAG21x facts: product names, lock layout, and the originality check with NXP's and test keys."""

import os

import pytest

from tag_tools import ntag
from tag_tools.verdict import Originality

UID = bytes.fromhex("04A2C4D2E15A80")


@pytest.mark.parametrize(
    ("version", "name"),
    [
        (bytes.fromhex("0004040201000F03"), "NTAG213"),
        (bytes.fromhex("0004040201001103"), "NTAG215"),
        (bytes.fromhex("0004040201001303"), "NTAG216"),
        (bytes.fromhex("0004030101000B03"), "Ultralight EV1"),
        (None, "Ultralight"),
        (bytes.fromhex("0004040502011303"), "NTAG (version 0004040502011303)"),
        (bytes.fromhex("0005040201001103"), "other"),
    ],
)
def test_chip_names(version: bytes | None, name: str) -> None:
    assert ntag.chip_name(version) == name


def test_memory_maps_match_the_datasheet() -> None:
    assert (ntag.NTAG213.user_bytes, ntag.NTAG215.user_bytes, ntag.NTAG216.user_bytes) == (144, 504, 888)
    assert (ntag.NTAG213.dynamic_lock_page, ntag.NTAG215.dynamic_lock_page, ntag.NTAG216.dynamic_lock_page) == (0x28, 0x82, 0xE2)
    assert (ntag.NTAG213.cfg1_page, ntag.NTAG215.cfg1_page, ntag.NTAG216.cfg1_page) == (0x2A, 0x84, 0xE4)
    assert (ntag.NTAG213.total_pages, ntag.NTAG215.total_pages, ntag.NTAG216.total_pages) == (45, 135, 231)


def test_dynamic_lock_bits_cover_every_user_page_above_15() -> None:
    for chip in ntag.CHIPS.values():
        lock = chip.dynamic_lock_bytes_all()
        assert all(ntag.dynamically_locked(chip, lock, page) for page in range(16, chip.user_end + 1))
        assert lock[2:] == b"\x00\x00"
    assert ntag.NTAG213.dynamic_lock_bytes_all()[:2] == b"\xff\x0f"  # 12 bits of 2 pages
    assert ntag.NTAG215.dynamic_lock_bytes_all()[:2] == b"\xff\x00"  # 8 bits of 16 pages


def test_static_lock_bits() -> None:
    assert ntag.statically_locked(0x08, 0x00, 3)  # L-CC
    assert ntag.statically_locked(0x10, 0x00, 4) and not ntag.statically_locked(0x10, 0x00, 5)
    assert ntag.statically_locked(0x00, 0x80, 15) and not ntag.statically_locked(0xFF, 0xFF, 16)


def test_uid_check_bytes() -> None:
    # ISO/IEC 14443-3: BCC0 = CT ^ UID0 ^ UID1 ^ UID2 with CT = 0x88.
    assert ntag.uid_check_bytes(bytes.fromhex("04E15A80A2C4D2")) == (0x88 ^ 0x04 ^ 0xE1 ^ 0x5A, 0x80 ^ 0xA2 ^ 0xC4 ^ 0xD2)


def test_originality_with_a_test_key_pair() -> None:
    private, public = ntag.generate_test_key()
    signature = ntag.sign_uid(UID, private)
    assert len(signature) == 32
    assert ntag.check_originality(UID, signature, public) is Originality.GENUINE
    other_uid = UID[:-1] + bytes([UID[-1] ^ 1])
    assert ntag.check_originality(other_uid, signature, public) is Originality.NOT_GENUINE
    _, other_public = ntag.generate_test_key()
    assert ntag.check_originality(UID, signature, other_public) is Originality.NOT_GENUINE


def test_nxp_key_rejects_what_nobody_but_nxp_can_sign() -> None:
    private, _ = ntag.generate_test_key()
    assert ntag.check_originality(UID, ntag.sign_uid(UID, private)) is Originality.NOT_GENUINE
    assert ntag.check_originality(UID, os.urandom(32)) is Originality.NOT_GENUINE
    assert ntag.check_originality(UID, bytes(32)) is Originality.NOT_GENUINE
    assert ntag.check_originality(UID, b"short") is Originality.NOT_GENUINE
    assert ntag.check_originality(UID, None) is Originality.NOT_AVAILABLE


def test_nxp_key_is_a_secp128r1_point() -> None:
    import ecdsa

    key = ecdsa.VerifyingKey.from_string(ntag.NXP_NTAG21X_PUBLIC_KEY, curve=ecdsa.SECP128r1)
    assert key.to_string("uncompressed") == ntag.NXP_NTAG21X_PUBLIC_KEY
