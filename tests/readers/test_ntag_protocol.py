"""The NTAG read/write logic at the byte level: which frames go out, and which errors come back."""

import pytest

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator, activate
from tag_tools.readers.base import ReadOptions
from tag_tools.readers.errors import (
    MultipleTagsError,
    PartialWriteError,
    TagFullError,
    TagLockedError,
    TagNotFormattedError,
    TagRemovedError,
)
from tag_tools.readers.ntag_protocol import read_activated, write_activated
from tag_tools.verdict import Originality
from tests.readers.fakes import EmulatorTransport

UID = bytes.fromhex("04A2C4D2E15A80")


def written(message: bytes, chip: ntag.ChipModel = ntag.NTAG215, lock: bool = False) -> NtagEmulator:
    emulator = NtagEmulator.blank(UID, chip)
    write_activated(EmulatorTransport(emulator), message, lock=lock)
    return emulator


def test_read_sends_only_what_the_tlv_needs() -> None:
    message = bytes(range(241))  # a typical signed record is 241 bytes
    emulator = written(message, lock=True)
    transport = EmulatorTransport(emulator)
    tag = read_activated(transport, ReadOptions())
    assert tag.ndef_message == message
    # TLV: 2-byte header + 241 bytes from data offset 16: ends at byte 259, in page 64.
    assert transport.sent == [
        bytes([0x60]),
        bytes([0x3A, 0, 7]),
        bytes([0x3A, 8, 64]),
        bytes([0x3C, 0]),
        bytes([0x39, 2]),
    ]
    assert tag.round_trips == 5
    assert tag.chip == "NTAG215" and tag.read_only


def test_read_without_fast_read_uses_read() -> None:
    message = b"\xd1\x01\x05T\x02enhi"
    transport = EmulatorTransport(written(message), max_fast_read_pages=0)
    tag = read_activated(transport, ReadOptions(read_signature=False, read_counter=False))
    assert tag.ndef_message == message
    assert transport.sent == [bytes([0x60]), bytes([0x30, 0]), bytes([0x30, 4])]


def test_fast_read_chunks_follow_the_reader_limit() -> None:
    message = bytes(300)  # three-byte TLV length
    transport = EmulatorTransport(written(message), max_fast_read_pages=16)
    tag = read_activated(transport, ReadOptions(read_signature=False, read_counter=False))
    assert tag.ndef_message == message
    fast_reads = [frame for frame in transport.sent if frame[0] == 0x3A]
    assert all(frame[2] - frame[1] + 1 <= 16 for frame in fast_reads)
    assert fast_reads[-1][2] == (16 + 4 + 300 - 1) // 4


def test_empty_and_unformatted_tags() -> None:
    blank = NtagEmulator.blank(UID)
    assert read_activated(EmulatorTransport(blank), ReadOptions()).ndef_message == b""
    blank.memory[12:16] = bytes(4)  # no capability container
    tag = read_activated(EmulatorTransport(blank), ReadOptions())
    assert tag.ndef_message is None and tag.data_area_size is None
    with pytest.raises(TagNotFormattedError):
        write_activated(EmulatorTransport(blank), b"\xd0\x00\x00", lock=False)


def test_counter_is_none_until_enabled_then_counts_taps() -> None:
    emulator = written(b"\xd0\x00\x00")
    assert read_activated(EmulatorTransport(emulator), ReadOptions()).read_counter is None
    emulator = written(b"\xd0\x00\x00", lock=True)  # locking turns the NFC counter on
    first = read_activated(EmulatorTransport(emulator), ReadOptions()).read_counter
    second = read_activated(EmulatorTransport(emulator), ReadOptions()).read_counter
    assert (first, second) == (1, 2)


def test_write_order_leaves_an_empty_message_when_interrupted() -> None:
    emulator = NtagEmulator.blank(UID)
    transport = EmulatorTransport(emulator)
    write_activated(transport, bytes(20), lock=False)
    writes = [frame for frame in transport.sent if frame[0] == 0xA2]
    assert writes[0] == bytes([0xA2, 4, 0x03, 0x00, 0x00, 0x00])  # length 0 first
    assert writes[-1] == bytes([0xA2, 4, 0x03, 20, 0x00, 0x00])  # real length last

    emulator = written(b"\xd0\x00\x00")
    emulator.remove_after_commands(8)
    with pytest.raises(PartialWriteError) as caught:
        write_activated(EmulatorTransport(emulator), bytes(100), lock=False)
    assert 0 < caught.value.pages_written < caught.value.pages_total
    assert isinstance(caught.value.cause, TagRemovedError)
    emulator.reinsert()
    assert read_activated(EmulatorTransport(emulator), ReadOptions()).ndef_message == b""


def test_read_back_mismatch_is_a_partial_write() -> None:
    class ForgetfulTag(NtagEmulator):
        def _write(self, args: bytes) -> bytes | None:
            if args[0] == 9:
                return bytes([ntag.ACK])  # acknowledges, stores nothing
            return super()._write(args)

    emulator = ForgetfulTag(UID, ntag.NTAG215, NtagEmulator.blank(UID).memory)
    with pytest.raises(PartialWriteError, match="page 9"):
        write_activated(EmulatorTransport(emulator), bytes(range(100)), lock=True)
    assert not emulator.memory[10] and emulator.page(3)[3] == 0  # never locked


def test_lock_sets_every_lock_and_the_tag_then_refuses() -> None:
    emulator = written(b"\xd0\x00\x00", ntag.NTAG216, lock=True)
    chip = ntag.NTAG216
    assert emulator.memory[10:12] == b"\xff\xff"
    assert emulator.page(3)[3] == 0x0F
    assert emulator.page(chip.dynamic_lock_page)[:3] == bytes([0xFF, 0x3F, 0x00])
    assert emulator.access & ntag.ACCESS_CFGLCK and emulator.access & ntag.ACCESS_NFC_CNT_EN
    with pytest.raises(TagLockedError, match="read-only"):
        write_activated(EmulatorTransport(emulator), b"\xd0\x00\x00", lock=False)
    # Even a writer that ignored the CC would be refused by the chip on every user page; each NAK
    # sends the chip back to IDLE, so each write needs a new selection.
    emulator.power_on()  # a new tap
    for page in (4, 15, 16, chip.user_end):
        assert activate(emulator) == 0x00
        assert emulator.handle(bytes([0xA2, page, 1, 2, 3, 4])) == b"\x00"
        assert emulator.handle(bytes([0x30, 4])) is None  # IDLE: silent until selected again


def test_locked_pages_are_refused_before_writing() -> None:
    emulator = NtagEmulator.blank(UID)
    emulator.memory[ntag.NTAG215.dynamic_lock_page * 4] = 0x01  # pages 16-31
    transport = EmulatorTransport(emulator)
    with pytest.raises(TagLockedError, match="page 16"):
        write_activated(transport, bytes(60), lock=False)
    assert not any(frame[0] == 0xA2 for frame in transport.sent)


def test_full_tag() -> None:
    with pytest.raises(TagFullError):
        write_activated(EmulatorTransport(NtagEmulator.blank(UID, ntag.NTAG213)), bytes(200), lock=False)
    write_activated(EmulatorTransport(NtagEmulator.blank(UID, ntag.NTAG216)), bytes(800), lock=False)
    with pytest.raises(TagFullError):
        write_activated(EmulatorTransport(NtagEmulator.blank(UID, ntag.NTAG216)), bytes(900), lock=False)


def test_memory_uid_differing_from_selected_uid() -> None:
    emulator = NtagEmulator.blank(UID)
    emulator.memory[4] ^= 0x01  # the UID byte 3 in memory no longer matches anticollision
    with pytest.raises(MultipleTagsError):
        read_activated(EmulatorTransport(emulator), ReadOptions())


def test_originality_with_a_test_key() -> None:
    private, public = ntag.generate_test_key()
    emulator = NtagEmulator.blank(UID, signature=ntag.sign_uid(UID, private))
    assert read_activated(EmulatorTransport(emulator), ReadOptions(originality_key=public)).originality is Originality.GENUINE
    # Against NXP's key (the default) the same chip is not genuine: only NXP can sign for NXP.
    assert read_activated(EmulatorTransport(emulator), ReadOptions()).originality is Originality.NOT_GENUINE


def test_ultralight_without_get_version() -> None:
    class Ultralight(NtagEmulator):
        def _get_version(self, args: bytes) -> bytes | None:
            return None

    message = b"\xd1\x01\x05T\x02enhi"
    emulator = Ultralight(UID, ntag.NTAG213, NtagEmulator.blank(UID, ntag.NTAG213).memory)
    write_activated(EmulatorTransport(emulator), message, lock=False)
    transport = EmulatorTransport(emulator)
    tag = read_activated(transport, ReadOptions())
    assert (tag.chip, tag.ndef_message, tag.originality, tag.read_counter) == (
        "Ultralight",
        message,
        Originality.NOT_AVAILABLE,
        None,
    )
    assert all(frame[0] in (0x60, 0x30) for frame in transport.sent)


def test_non_nxp_type2_tag_without_get_version_is_other() -> None:
    class Other(NtagEmulator):
        def _get_version(self, args: bytes) -> bytes | None:
            return None

    uid = bytes.fromhex("05112233445566")
    emulator = Other(uid, ntag.NTAG213, NtagEmulator.blank(uid, ntag.NTAG213).memory)
    assert read_activated(EmulatorTransport(emulator), ReadOptions()).chip == "other"
