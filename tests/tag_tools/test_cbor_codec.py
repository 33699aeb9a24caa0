import pytest

from tag_tools import cbor_codec
from tag_tools.errors import RecordFormatError


def test_deterministic_encoding_sorts_keys():
    assert cbor_codec.encode({2: 0, 1: 0}) == bytes.fromhex("a2010002 00".replace(" ", ""))


@pytest.mark.parametrize(
    ("hex_input", "why"),
    [
        ("a2010101 02".replace(" ", ""), "duplicate key"),
        ("1801", "integer 1 not in its shortest form"),
        ("9f01ff", "indefinite-length array"),
        ("0100", "trailing byte"),
        ("a2020001 00".replace(" ", ""), "unsorted map keys"),
        ("5bffffffffffffffff", "impossible byte string length"),
        ("", "empty input"),
        ("9f" * 600, "deep nesting"),
    ],
)
def test_strict_decoding_refuses(hex_input, why):
    with pytest.raises(RecordFormatError):
        cbor_codec.decode(bytes.fromhex(hex_input), why)


def test_size_bound():
    with pytest.raises(RecordFormatError, match="more than"):
        cbor_codec.decode(cbor_codec.encode(b"x" * 2000), "big")
    assert cbor_codec.decode(cbor_codec.encode(b"x" * 2000), "big", max_size=4096) == b"x" * 2000


def test_other_types_pass_the_codec_and_are_left_to_the_schema_checks():
    # Floats and semantic tags are valid deterministic CBOR; claims and COSE checks refuse them by type.
    assert cbor_codec.decode(bytes.fromhex("f93c00"), "float") == 1.0
