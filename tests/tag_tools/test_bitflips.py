"""Flipping any single bit of a real signed record, as stored on the tag, must refuse it.

The one exception is the NFC Forum's: external type names compare case-insensitively (RTD 1.0), so
flipping the case bit (0x20) of a letter of `gcyl.org:r` names the same record type and the same
signed payload. Exactly those flips are accepted, and no other."""

from collections.abc import Iterator
from datetime import datetime

from tag_tools import ndef_record, t2t_memory
from tag_tools.verdict import Decision
from tag_tools.verify import TagMemory
from tests.testkit import TestPki


def flips(data: bytes) -> Iterator[tuple[int, bytes]]:
    for position in range(len(data) * 8):
        mutated = bytearray(data)
        mutated[position // 8] ^= 1 << (position % 8)
        yield position, bytes(mutated)


def case_flips(data: bytes) -> list[int]:
    """Bit positions of the case bit of each letter of the external type name inside `data`."""
    start = data.index(ndef_record.EXTERNAL_TYPE)
    return [(start + i) * 8 + 5 for i, byte in enumerate(ndef_record.EXTERNAL_TYPE) if chr(byte).isalpha()]


def test_every_bit_of_the_ndef_message(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    assert test_pki.verify(uid, signed_message, now=now).decision is Decision.ALLOW
    accepted = [position for position, mutated in flips(signed_message) if test_pki.verify(uid, mutated, now=now).allowed]
    assert accepted == case_flips(signed_message), f"bit positions accepted after a flip: {accepted}"


def test_every_bit_of_the_ndef_tlv_in_tag_memory(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    header = uid[:3] + b"\x88" + uid[3:] + b"\x00" * 4 + bytes([0xE1, 0x10, 0x3E, 0x00])
    tlv = t2t_memory.ndef_tlv(signed_message)[:-1]  # the NDEF TLV itself, without the terminator
    padding = b"\x00" * (16 + 496 - len(header) - len(tlv))
    assert test_pki.verify(uid, TagMemory(header + tlv + padding), now=now).decision is Decision.ALLOW
    accepted = [
        position
        for position, mutated in flips(tlv)
        if test_pki.verify(uid, TagMemory(header + mutated + padding), now=now).allowed
    ]
    assert accepted == case_flips(tlv), f"bit positions accepted after a flip: {accepted}"


def test_every_bit_of_the_uid_binding(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    # The same record read from a tag whose UID differs in any one bit is a moved record.
    assert all(not test_pki.verify(other, signed_message, now=now).allowed for _, other in flips(uid))
