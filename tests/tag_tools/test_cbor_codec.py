import math

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tag_tools import cbor_codec
from tag_tools.errors import RecordFormatError


def rfc8949_order(mapping: dict[object, object]) -> bytes:
    """The map as RFC 8949 section 4.2.1 orders it, computed without the codec: sort the entries by
    the bytes of their encoded keys, then let cbor2 write them in that order (without `canonical`,
    cbor2 keeps a dict's order). Keys and values here are scalars cbor2 writes in shortest form."""
    ordered = dict(sorted(mapping.items(), key=lambda item: cbor2.dumps(item[0])))
    return cbor2.dumps(ordered)


def test_deterministic_encoding_sorts_keys() -> None:
    assert cbor_codec.encode({2: 0, 1: 0}) == bytes.fromhex("a2010002 00".replace(" ", ""))


@pytest.mark.parametrize(
    ("mapping", "bytewise_hex", "length_first_hex"),
    [
        # -1 is 20 (1 byte), 24 is 18 18 (2 bytes): bytewise 0x18 < 0x20, length-first 1 < 2 bytes.
        ({-1: "n", 24: "p"}, "a2 1818 6170 20 616e", "a2 20 616e 1818 6170"),
        # 256 is 19 0100 (3 bytes), "a" is 61 61 (2 bytes): bytewise 0x19 < 0x61, length-first "a" first.
        ({"a": 1, 256: 2}, "a2 190100 02 6161 01", "a2 6161 01 190100 02"),
        # 10 is 0a, "a" is 61 61: here both rules agree (the shorter key also has the smaller first byte).
        ({"a": 1, 10: 2}, "a2 0a 02 6161 01", "a2 0a 02 6161 01"),
        # Status list claims: unsigned and negative labels, both rules agree (0x19 < 0x3a).
        ({-65537: 0, 65534: 0, 2: 0}, "a3 02 00 19fffe 00 3a00010000 00", "a3 02 00 19fffe 00 3a00010000 00"),
    ],
    ids=["-1 and 24", "256 and a", "10 and a", "status list labels"],
)
def test_maps_with_mixed_keys_are_in_rfc8949_bytewise_order(
    mapping: dict[object, object], bytewise_hex: str, length_first_hex: str
) -> None:
    bytewise, length_first = bytes.fromhex(bytewise_hex.replace(" ", "")), bytes.fromhex(length_first_hex.replace(" ", ""))
    assert cbor_codec.encode(mapping) == bytewise == rfc8949_order(mapping)
    assert cbor2.dumps(mapping, canonical=True) == length_first  # what the old encoder wrote
    assert cbor_codec.decode(bytewise, "map") == mapping
    if length_first != bytewise:
        with pytest.raises(RecordFormatError, match="not deterministically encoded"):
            cbor_codec.decode(length_first, "map")


def test_nested_maps_are_ordered_too() -> None:
    value = cbor2.CBORTag(18, [b"x", {-1: [{"a": 0, 256: 1}], 24: {}}])
    expected = bytes.fromhex("d2 82 4178 a2 1818 a0 20 81 a2 190100 01 6161 00".replace(" ", ""))
    assert cbor_codec.encode(value) == expected
    assert cbor_codec.encode(cbor_codec.decode(expected, "nested")) == expected  # cbor2 6 decodes a tuple


_keys = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.text(max_size=30),
    st.binary(max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, st.integers(min_value=-(2**64), max_value=2**64 - 1) | st.text(max_size=5), max_size=8))
def test_any_map_encodes_as_rfc8949_says_and_round_trips(mapping: dict[object, object]) -> None:
    encoded = cbor_codec.encode(mapping)
    assert encoded == rfc8949_order(mapping)
    assert cbor_codec.decode(encoded, "map", max_size=4096) == mapping


def test_two_keys_with_one_encoding_are_refused() -> None:
    with pytest.raises(ValueError, match="same encoding"):
        cbor_codec.encode({math.nan: 1, float("nan"): 2})  # two keys for Python, one for CBOR


@pytest.mark.parametrize(
    ("hex_input", "why"),
    [
        ("a2010101 02".replace(" ", ""), "duplicate key"),
        ("1801", "integer 1 not in its shortest form"),
        ("9f01ff", "indefinite-length array"),
        ("0100", "trailing byte"),
        ("a2020001 00".replace(" ", ""), "unsorted map keys"),
        ("a2200018 1800".replace(" ", ""), "keys in length-first (RFC 7049) order: -1 before 24"),
        ("d9010282 0102".replace(" ", ""), "a set (tag 258): no deterministic form in this profile"),
        ("5bffffffffffffffff", "impossible byte string length"),
        ("", "empty input"),
        ("9f" * 600, "deep nesting"),
    ],
)
def test_strict_decoding_refuses(hex_input: str, why: str) -> None:
    with pytest.raises(RecordFormatError):
        cbor_codec.decode(bytes.fromhex(hex_input), why)


def test_size_bound() -> None:
    with pytest.raises(RecordFormatError, match="more than"):
        cbor_codec.decode(cbor_codec.encode(b"x" * 2000), "big")
    assert cbor_codec.decode(cbor_codec.encode(b"x" * 2000), "big", max_size=4096) == b"x" * 2000


def test_other_types_pass_the_codec_and_are_left_to_the_schema_checks() -> None:
    # Floats and semantic tags are valid deterministic CBOR; claims and COSE checks refuse them by type.
    assert cbor_codec.decode(bytes.fromhex("f93c00"), "float") == 1.0
    assert cbor_codec.encode([1.0, True, None, 2**64]) == bytes.fromhex("84 f93c00 f5 f6 c249010000000000000000".replace(" ", ""))
