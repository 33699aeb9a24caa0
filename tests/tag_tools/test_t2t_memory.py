import pytest

from tag_tools import t2t_memory
from tag_tools.errors import NoRecordError, RecordFormatError


def test_tlv_round_trip_short_and_long() -> None:
    for size in (0, 10, 254, 255, 600):
        message = bytes(range(256)) * 3
        message = message[:size]
        area = t2t_memory.ndef_tlv(message) + b"\x00" * 8
        assert t2t_memory.ndef_message_from_data_area(area) == message
    assert t2t_memory.ndef_tlv(b"x" * 300)[:4] == bytes([0x03, 0xFF, 0x01, 0x2C])


def test_skips_null_and_lock_control_tlvs() -> None:
    area = b"\x00\x01\x03\xa0\x10\x44" + t2t_memory.ndef_tlv(b"hello")
    header = t2t_memory.locate_ndef_tlv(area)
    assert header.value_offset == 8 and header.length == 5
    assert t2t_memory.ndef_message_from_data_area(area) == b"hello"


def test_terminator_before_ndef_means_no_record() -> None:
    with pytest.raises(NoRecordError):
        t2t_memory.ndef_message_from_data_area(b"\xfe" + t2t_memory.ndef_tlv(b"x"))


def test_truncated_value_is_malformed() -> None:
    with pytest.raises(RecordFormatError, match="claims 200 bytes"):
        t2t_memory.ndef_message_from_data_area(b"\x03\xc8" + b"x" * 50)


def test_bad_three_byte_length() -> None:
    with pytest.raises(RecordFormatError, match="three-byte length"):
        t2t_memory.locate_ndef_tlv(b"\x03\xff\x00\x10" + b"x" * 20)


def test_capability_container() -> None:
    cc = t2t_memory.parse_capability_container(bytes([0xE1, 0x10, 0x3E, 0x00]))
    assert cc.data_area_size == 496 and not cc.read_only and cc.to_bytes() == bytes([0xE1, 0x10, 0x3E, 0x00])
    assert t2t_memory.parse_capability_container(bytes([0xE1, 0x10, 0x6D, 0x0F])).read_only
    with pytest.raises(RecordFormatError, match="not NDEF formatted"):
        t2t_memory.parse_capability_container(bytes(4))
    with pytest.raises(RecordFormatError, match="version 2"):
        t2t_memory.parse_capability_container(bytes([0xE1, 0x20, 0x3E, 0x00]))
