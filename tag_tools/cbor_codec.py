"""Deterministic CBOR in and strict CBOR out, with bounds suited to hostile tag contents.

The one encoding rule is RFC 8949 section 4.2.1, core deterministic encoding: shortest integers and
lengths, definite lengths, and map keys sorted in the bytewise lexicographic order of their encoded
bytes. It is NOT the length-first order of RFC 7049 section 3.9 (RFC 8949 section 4.2.3), which is
what cbor2's `canonical=True` sorts by; the two differ once a map mixes key types (-1 and 24, or
256 and "a"), so this module writes heads, strings, arrays, maps and tags itself and leaves cbor2
only the scalars whose shortest form it already gets right (floats, simple values, big integers).

Decoding accepts only input that re-encodes to exactly the same bytes. That one rule rejects, without
a hand-written parser, duplicate map keys, keys out of order, non-shortest forms, indefinite lengths,
trailing bytes and any semantic tag we did not ask for — so one record has one encoding, and what is
signed is what is shown.
"""

from collections.abc import Mapping
from typing import Any

import cbor2

from tag_tools.errors import RecordFormatError

# The largest NTAG21x (NTAG216) has 888 bytes of user memory: nothing on a tag can be longer.
MAX_ENCODED_SIZE = 1024

_UNSIGNED, _NEGATIVE, _BYTES, _TEXT, _ARRAY, _MAP, _TAG = range(7)
_UINT64_LIMIT = 1 << 64


def encode(value: Any) -> bytes:
    """RFC 8949 section 4.2.1 core deterministic encoding (map keys in bytewise order)."""
    out = bytearray()
    _encode_into(value, out)
    return bytes(out)


def decode(data: bytes, what: str, max_size: int = MAX_ENCODED_SIZE) -> Any:
    """Decode one CBOR item that must be deterministically encoded; RecordFormatError otherwise.

    `max_size` defaults to what a tag can hold; only data that does not come from a tag (the
    trust list) may raise it.
    """
    if len(data) > max_size:
        raise RecordFormatError(f"{what} is {len(data)} bytes, more than the {max_size} allowed")
    try:
        value = cbor2.loads(data)
        canonical = encode(value)
    # cbor2 signals bad input with its own errors, but hostile input can also surface as
    # ValueError, TypeError, OverflowError or RecursionError from the decoder internals (and from
    # encode, which refuses sets and values it cannot write deterministically).
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as error:
        raise RecordFormatError(f"{what} is not valid CBOR: {error}") from error
    if canonical != data:
        raise RecordFormatError(f"{what} is not deterministically encoded CBOR (or has trailing bytes)")
    return value


# One-byte heads are most of a record's structure: look them up instead of building them.
_ONE_BYTE = tuple(bytes((byte,)) for byte in range(256))


def _head(major: int, argument: int) -> bytes:
    """The initial byte and shortest argument (RFC 8949 section 4.2.1, first rule)."""
    if argument < 24:
        return _ONE_BYTE[major << 5 | argument]
    if argument < 0x100:
        return bytes((major << 5 | 24, argument))
    if argument < 0x10000:
        return _ONE_BYTE[major << 5 | 25] + argument.to_bytes(2, "big")
    if argument < 0x100000000:
        return _ONE_BYTE[major << 5 | 26] + argument.to_bytes(4, "big")
    return _ONE_BYTE[major << 5 | 27] + argument.to_bytes(8, "big")


def _encode_into(value: Any, out: bytearray) -> None:
    # bool is an int in Python but a simple value in CBOR (f5, f4), which cbor2 writes below.
    if isinstance(value, int) and type(value) is not bool:
        if 0 <= value < _UINT64_LIMIT:
            out += _head(_UNSIGNED, value)
        elif -_UINT64_LIMIT <= value < 0:
            out += _head(_NEGATIVE, -1 - value)
        else:
            out += cbor2.dumps(int(value), canonical=True)  # a bignum: tag 2 or 3
    elif isinstance(value, (bytes, bytearray)):
        out += _head(_BYTES, len(value))
        out += value
    elif isinstance(value, str):
        text = value.encode("utf-8")
        out += _head(_TEXT, len(text))
        out += text
    elif isinstance(value, (list, tuple)):
        out += _head(_ARRAY, len(value))
        for item in value:
            _encode_into(item, out)
    elif isinstance(value, Mapping):
        _encode_map_into(value, out)
    elif isinstance(value, cbor2.CBORTag):
        out += _head(_TAG, value.tag)
        _encode_into(value.value, out)
    elif isinstance(value, (set, frozenset)):
        # cbor2 would write tag 258 sorted length-first; no format of ours has sets.
        raise TypeError("sets have no deterministic encoding in this profile")
    else:
        # Scalars only (bool, None, floats in their shortest exact form, simple values, the
        # semantic types cbor2 decodes such as datetime): none holds a map, so cbor2's own key
        # order never comes into play; cbor2 refuses what it cannot write.
        out += cbor2.dumps(value, canonical=True)


def _encode_map_into(value: Mapping[Any, Any], out: bytearray) -> None:
    """Keys sorted by their encoded bytes, compared bytewise (RFC 8949 section 4.2.1)."""
    pairs = sorted(
        # Small unsigned keys (every key of a tag record) are one byte: skip the general encoder.
        ((_ONE_BYTE[key] if type(key) is int and 0 <= key < 24 else encode(key), item) for key, item in value.items()),
        key=_first,
    )
    out += _head(_MAP, len(pairs))
    previous = None
    for key_bytes, item in pairs:
        if key_bytes == previous:
            raise ValueError("map has two keys with the same encoding")
        previous = key_bytes
        out += key_bytes
        _encode_into(item, out)


def _first(pair: tuple[bytes, Any]) -> bytes:
    return pair[0]
