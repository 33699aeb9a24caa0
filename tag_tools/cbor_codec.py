"""Deterministic CBOR in and strict CBOR out, with bounds suited to hostile tag contents.

Encoding uses cbor2's canonical mode (RFC 8949 core deterministic encoding for the types we use:
shortest integers and lengths, definite lengths, sorted map keys). Decoding accepts only input that
re-encodes to exactly the same bytes. That one rule rejects, without a hand-written parser,
duplicate map keys, non-shortest forms, indefinite lengths, trailing bytes and any semantic tag we
did not ask for — so one record has one encoding, and what is signed is what is shown.
"""

from typing import Any

import cbor2

from tag_tools.errors import RecordFormatError

# The largest NTAG21x (NTAG216) has 888 bytes of user memory: nothing on a tag can be longer.
MAX_ENCODED_SIZE = 1024


def encode(value: Any) -> bytes:
    """Deterministic CBOR encoding."""
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, what: str, max_size: int = MAX_ENCODED_SIZE) -> Any:
    """Decode one CBOR item that must be deterministically encoded; RecordFormatError otherwise.

    `max_size` defaults to what a tag can hold; only data that does not come from a tag (the
    trust list) may raise it.
    """
    if len(data) > max_size:
        raise RecordFormatError(f"{what} is {len(data)} bytes, more than the {max_size} allowed")
    try:
        value = cbor2.loads(data)
        canonical = cbor2.dumps(value, canonical=True)
    # cbor2 signals bad input with its own errors, but hostile input can also surface as
    # ValueError, TypeError, OverflowError or RecursionError from the decoder internals.
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as error:
        raise RecordFormatError(f"{what} is not valid CBOR: {error}") from error
    if canonical != data:
        raise RecordFormatError(f"{what} is not deterministically encoded CBOR (or has trailing bytes)")
    return value
