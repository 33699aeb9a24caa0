"""Input corpora for the handheld core's strict decoders, each input labelled with what the Python
code does with it: tag_tools.cbor_codec.decode (accept or refuse), tag_tools.status_list.inflate
(the bytes, or refuse), and cryptography's verify_directly_issued_by (for the X.509 signature path
with an ECDSA issuer).

The hostile inputs of the existing Python tests are reused as they stand (read from their
pytest parametrisations), then widened: every bit flip of a real record's claims and envelope,
floats at the edges of each width, every simple value, nesting at cbor2's depth limit, map keys
that Python finds equal, semantic tags, and zlib streams built by hand block by block.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import fractions
import hashlib
import ipaddress
import random
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from tag_tools import cbor_codec, ndef_record, pki
from tag_tools.errors import RecordFormatError, StatusListError
from tag_tools.status_list import inflate
from tests.tag_tools import test_cbor_codec, test_status_list
from tests.tag_tools.test_cert_profile import build, build_root

Entry = dict[str, Any]


def parametrised(test: Callable[..., object]) -> list[tuple[Any, ...]]:
    """The argument tuples of a test's @pytest.mark.parametrize (its hostile inputs, reused)."""
    mark = _parametrize_mark(test)
    return [tuple(values) if isinstance(values, tuple) else (values,) for values in mark.args[1]]


def parametrised_ids(test: Callable[..., object]) -> list[str]:
    """The ids of a test's @pytest.mark.parametrize, in the order of `parametrised`."""
    return list(_parametrize_mark(test).kwargs["ids"])


def _parametrize_mark(test: Callable[..., object]) -> Any:
    return next(m for m in getattr(test, "pytestmark", []) if m.name == "parametrize")


# --- CBOR ------------------------------------------------------------------------------------------

# Python objects cbor2 makes of semantic tags the handheld refuses (see core/cbor.js): a value
# holding one is accepted by Python and refused by the JavaScript, on purpose.
_SEMANTIC = (
    dt.datetime,
    dt.date,
    decimal.Decimal,
    fractions.Fraction,
    re.Pattern,
    uuid.UUID,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
)


def _holds_semantic(value: object) -> bool:
    """Iterative: values may nest 400 deep, beyond Python's recursion limit with this frame count."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _SEMANTIC):
            return True
        if isinstance(item, cbor2.CBORTag):
            stack.append(item.value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
    return False


def cbor_entry(name: str, data: bytes, max_size: int = cbor_codec.MAX_ENCODED_SIZE) -> Entry:
    try:
        value = cbor_codec.decode(data, name, max_size)
        accept, semantic = True, _holds_semantic(value)
    except RecordFormatError:
        accept, semantic = False, False
    return {"name": name, "hex": data.hex(), "maxSize": max_size, "accept": accept, "jsAccept": accept and not semantic}


def _heads() -> Iterator[tuple[str, bytes]]:
    """Every major type's argument in each width, shortest and not."""
    for major in range(7):
        for value in (0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, 2**64 - 1):
            for width, info in ((0, None), (1, 24), (2, 25), (4, 26), (8, 27)):
                if info is None:
                    if value >= 24:
                        continue
                    head = bytes([major << 5 | value])
                elif value >= 1 << (8 * width):
                    continue
                else:
                    head = bytes([major << 5 | info]) + value.to_bytes(width, "big")
                body = b""
                if major in (2, 3):
                    body = b"a" * value if value < 300 else b""
                elif major == 4:
                    body = b"\x00" * value if value < 300 else b""
                elif major == 5:
                    body = b"\x00\x00" * min(value, 1) if value < 300 else b""  # one pair at most, then too short
                elif major == 6:
                    body = b"\x00"
                yield f"head major {major} value {value} width {width}", head + body


def _floats(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        65504.0,
        65505.0,
        65520.0,
        2.0**-14,
        2.0**-24,
        2.0**-25,
        3 * 2.0**-24,
        1e-7,
        1.1,
        0.1,
        1e38,
        3.5e38,
        1e300,
    ]
    specials += [float("inf"), float("-inf"), float("nan")]
    for v in specials:
        for fmt, head in (("e", 0xF9), ("f", 0xFA), ("d", 0xFB)):
            try:
                yield f"float {v!r} as {fmt}", bytes([head]) + struct.pack(f">{fmt}", v)
            except (OverflowError, struct.error):
                continue
    for head, size, count in ((0xF9, 2, 600), (0xFA, 4, 1500), (0xFB, 8, 1500)):
        for i in range(count):
            raw = rng.getrandbits(8 * size).to_bytes(size, "big")
            yield f"random float {head:02x} #{i}", bytes([head]) + raw
    for i in range(400):  # singles that are halves, and doubles that are singles: all refused
        half = struct.unpack(">e", rng.getrandbits(16).to_bytes(2, "big"))[0]
        yield f"half as single #{i}", b"\xfa" + struct.pack(">f", half)
        single = struct.unpack(">f", rng.getrandbits(32).to_bytes(4, "big"))[0]
        yield f"single as double #{i}", b"\xfb" + struct.pack(">d", single)
    for e in range(-30, 17):  # near the edges of half precision: 11 significant bits, then fewer
        for m in (1.0, 1.5, 1 + 2**-10, 1 + 2**-11, 1 + 2**-12, 1.999):
            yield f"single {m}*2^{e}", b"\xfa" + struct.pack(">f", m * 2.0**e)


def _key_quirks() -> Iterator[tuple[str, str]]:
    """Maps whose keys Python finds equal (1, 1.0, true, simple(1)) or not, and semantic tags."""
    yield from [
        ("keys 1 and 1.0", "a2 01 00 f93c00 00"),
        ("keys 0 and false", "a2 00 00 f4 00"),
        ("keys 1 and true", "a2 01 00 f5 00"),
        ("keys true and 1.0", "a2 f5 00 f93c00 00"),
        ("keys 1 and simple(1)", "a2 01 00 e1 00"),
        ("keys 0 and simple(0) false", "a2 e0 00 f4 00"),
        ("key simple(1) alone", "a1 e1 00"),
        ("key array", "a1 81 01 00"),
        ("key map", "a1 a1 01 01 00"),
        ("keys [1] and [1.0]", "a2 81 01 00 81 f93c00 00"),
        ("keys two NaN", "a2 f97e00 00 f97e00 01"),
        ("key 2.5", "a1 f94100 00"),
        ("keys tag(1024,1) and tag(1024,1.0)", "a2 d90400 01 00 d90400 f93c00 00"),
        ("keys tag 1024 and 1025", "a2 d90400 01 00 d90401 01 00"),
        ("keys [] and {}", "a2 80 00 a0 00"),
        ("keys empty bytes and text", "a2 40 00 60 00"),
        ("keys null and undefined", "a2 f6 00 f7 00"),
        ("keys false and undefined", "a2 f4 00 f7 00"),
        ("keys -1 and 24 bytewise", "a2 1818 6170 20 616e"),
        ("keys -1 and 24 length-first", "a2 20 616e 1818 6170"),
        ("keys 256 and a bytewise", "a2 190100 02 6161 01"),
        ("keys 256 and a length-first", "a2 6161 01 190100 02"),
        ("key bignum", "a1 c249010000000000000000 00"),
        ("tag0 datetime", "c0 74 323031332d30332d32315432303a30343a30305a"),
        ("tag1 epoch", "c1 1a514b67b0"),
        ("tag2 small", "c2 41 01"),
        ("tag2 2^64", "c2 49 010000000000000000"),
        ("tag2 leading zero", "c2 4a 00010000000000000000"),
        ("tag2 empty", "c2 40"),
        ("tag2 not bytes", "c2 01"),
        ("tag3 big", "c3 49 010000000000000000"),
        ("tag3 -2^64", "c3 48 ffffffffffffffff"),
        ("tag4 decimal", "c4 82 21 19 6ab3"),
        ("tag5 bigfloat", "c5 82 20 03"),
        ("tag24", "d8 18 41 00"),
        ("tag25", "d8 19 00"),
        ("tag28", "d8 1c 00"),
        ("tag29", "d8 1d 00"),
        ("tag30 fraction", "d8 1e 82 01 02"),
        ("tag30 unreduced", "d8 1e 82 02 04"),
        ("tag32", "d8 20 63 612f62"),
        ("tag35 regex", "d8 23 61 61"),
        ("tag36 mime", "d8 24 61 61"),
        ("tag37 uuid", "d8 25 50 00112233445566778899aabbccddeeff"),
        ("tag52 ipv4", "d834 44 c0a80001"),
        ("tag100", "d8 64 00"),
        ("tag18", "d2 00"),
        ("tag256", "d9 0100 00"),
        ("tag258 set", "d9 0102 80"),
        ("tag260", "d9 0104 44 c0a80001"),
        ("tag1004 date", "d9 03ec 6a 323031332d30332d3231"),
        ("tag43000", "d9 a7f8 82 00 00"),
        ("tag55799", "d9 d9f7 00"),
        ("tag 2^32", "db 0000000100000000 00"),
        ("tag 2^64-1", "db ffffffffffffffff 00"),
        ("tag 23 not shortest", "d8 17 00"),
        ("text bad utf8", "62 c328"),
        ("text surrogate", "63 eda080"),
        ("text overlong", "62 c0af"),
        ("text BOM", "63 efbbbf"),
        ("text nul", "61 00"),
        ("text 4-byte", "64 f09f9880"),
        ("neg min", "3b ffffffffffffffff"),
        ("uint max", "1b ffffffffffffffff"),
        ("-2^53", "3b 001fffffffffffff"),
        ("2^53", "1b 0020000000000000"),
        ("break alone", "ff"),
        ("reserved 1c", "1c"),
        ("reserved fc", "fc"),
        ("indefinite bytes", "5f 41 00 ff"),
        ("indefinite map", "bf 01 00 ff"),
        ("array too long", "9b 00000000ffffffff 00"),
        ("map too long", "ba ffffffff 00"),
    ]


def _depths() -> Iterator[tuple[str, bytes]]:
    for n in (399, 400, 401):
        yield f"{n} arrays", b"\x81" * n + b"\x00"
        yield f"{n} arrays around an empty one", b"\x81" * n + b"\x80"
        yield f"{n} maps", b"\xa1\x00" * n + b"\x00"
        yield f"{n} tags", b"\xd9\x03\xe8" * n + b"\x00"
        yield f"{n} tags and arrays", b"\xd9\x03\xe8\x81" * (n // 2) + b"\x81" * (n % 2) + b"\x00"
        yield f"{n} arrays in a map key", b"\xa1" + b"\x81" * (n - 1) + b"\x00\x00"


def _random_values(rng: random.Random, depth: int = 0) -> object:
    pick = rng.randrange(10 if depth < 3 else 6)
    if pick == 0:
        return rng.choice([0, 1, 23, 24, 255, 256, -1, -24, -25, 2**32, -(2**40), 2**64 - 1, 2**64, -(2**64) - 1])
    if pick == 1:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(6)))
    if pick == 2:
        return "".join(rng.choice("aé中😀\x00") for _ in range(rng.randrange(5)))
    if pick == 3:
        return rng.choice([True, False, None, 1.5, 0.0, -2.0, 1e300, 1.1])
    if pick == 4:
        return rng.choice([cbor2.CBORSimpleValue(5), cbor2.undefined])
    if pick == 5:
        return rng.choice([0, "x", b""])
    if pick in (6, 7):
        return [_random_values(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick == 8:
        keys = [rng.choice([0, 1, 2, 24, -1, 256, "a", "bb", b"\x00", 1.5]) for _ in range(rng.randrange(4))]
        return {k: _random_values(rng, depth + 1) for k in keys}
    return cbor2.CBORTag(rng.choice([18, 24, 100, 1000, 2**33]), _random_values(rng, depth + 1))


def _flips(data: bytes) -> Iterator[tuple[int, bytes]]:
    for position in range(len(data) * 8):
        mutated = bytearray(data)
        mutated[position // 8] ^= 1 << (position % 8)
        yield position, bytes(mutated)


def cbor_corpus(signed_message: bytes, rng: random.Random) -> list[Entry]:
    """Every input labelled; `signed_message` is a real NDEF message whose COSE and claims are flipped."""
    entries = [
        cbor_entry(f"test_cbor_codec: {why}", bytes.fromhex(hex_input))
        for hex_input, why in parametrised(test_cbor_codec.test_strict_decoding_refuses)
    ]
    for mapping, bytewise, length_first in parametrised(test_cbor_codec.test_maps_with_mixed_keys_are_in_rfc8949_bytewise_order):
        entries.append(cbor_entry(f"test_cbor_codec: bytewise {mapping}", bytes.fromhex(bytewise.replace(" ", ""))))
        entries.append(cbor_entry(f"test_cbor_codec: length-first {mapping}", bytes.fromhex(length_first.replace(" ", ""))))
    entries += [cbor_entry(name, data) for name, data in _heads()]
    entries += [cbor_entry(name, data) for name, data in _floats(rng)]
    entries += [cbor_entry(f"simple f8 {b:02x}", bytes([0xF8, b])) for b in range(256)]
    entries += [cbor_entry(f"initial byte {b:02x}", bytes([b])) for b in range(0xE0, 0x100)]
    entries += [cbor_entry(name, bytes.fromhex(h.replace(" ", ""))) for name, h in _key_quirks()]
    entries += [cbor_entry(name, data, 100_000) for name, data in _depths()]
    entries.append(cbor_entry("size bound", cbor_codec.encode(b"x" * 2000)))
    entries.append(cbor_entry("size bound raised", cbor_codec.encode(b"x" * 2000), 4096))
    for i in range(400):
        value = _random_values(rng)
        try:
            entries.append(cbor_entry(f"random canonical #{i}", cbor_codec.encode(value)))
        except (ValueError, TypeError):
            pass
        entries.append(cbor_entry(f"random cbor2 #{i}", cbor2.dumps(value)))
    envelope = ndef_record.record_payload(signed_message)
    claims = cbor2.loads(envelope).value[2]
    entries += [cbor_entry(f"claims bit {p}", data) for p, data in _flips(claims)]
    entries += [cbor_entry(f"envelope bit {p}", data) for p, data in _flips(envelope)]
    return entries


# --- zlib ------------------------------------------------------------------------------------------


def zlib_entry(name: str, data: bytes, size: int) -> Entry:
    try:
        out: bytes | None = inflate(data, size)
    except StatusListError:
        out = None
    return {
        "name": name,
        "b64": _b64(data),
        "size": size,
        "ok": out is not None,
        "sha256": hashlib.sha256(out).hexdigest() if out is not None else None,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class _Bits:
    """A DEFLATE bit writer (least significant bit first; Huffman codes most significant bit first)."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, bits: int) -> None:
        self.value |= value << self.count
        self.count += bits

    def code(self, code: int, length: int) -> None:
        self.put(int(f"{code:0{length}b}"[::-1], 2) if length else 0, length)

    def bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8, "little")


def _canonical(lengths: list[int]) -> dict[int, tuple[int, int]]:
    """symbol -> (code, length) of the canonical Huffman code with these lengths."""
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    for length in range(1, 16):
        for symbol, symbol_length in enumerate(lengths):
            if symbol_length == length:
                codes[symbol] = (code, length)
                code += 1
        code <<= 1
    return codes


def _zlib_wrap(deflate: bytes, output: bytes, header: bytes = b"\x78\xda") -> bytes:
    return header + deflate + zlib.adler32(output).to_bytes(4, "big")


def _dynamic(lit: list[int], dist: list[int], symbols: list[tuple[int, ...]], nlen: int | None = None) -> bytes:
    """One final dynamic block: code lengths sent with a code-length code of 4 bits for 0..15,
    then `symbols` ((literal,) or (length symbol, extra bits, extra value, dist symbol, extra bits, extra value))."""
    w = _Bits()
    w.put(1, 1)
    w.put(2, 2)
    w.put((nlen or len(lit)) - 257, 5)
    w.put(len(dist) - 1, 5)
    w.put(19 - 4, 4)
    cl_lengths = [4 if s < 16 else 0 for s in range(19)]
    for symbol in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]:
        w.put(cl_lengths[symbol], 3)
    cl = _canonical(cl_lengths)
    for length in lit + dist:
        w.code(*cl[length])
    lit_codes, dist_codes = _canonical(lit), _canonical(dist)
    for item in symbols:
        w.code(*lit_codes[item[0]])
        if len(item) > 1:
            w.put(item[2], item[1])
            # With no distance code at all there is nothing to write: one bit stands for "a code".
            w.code(*dist_codes[item[3]]) if item[3] in dist_codes else w.put(0, 1)
            w.put(item[5], item[4])
    return w.bytes()


def _fixed(symbols: list[tuple[int, ...]]) -> bytes:
    lit = [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8
    lit_codes, dist_codes = _canonical(lit), _canonical([5] * 32)
    w = _Bits()
    w.put(1, 1)
    w.put(1, 2)
    for item in symbols:
        w.code(*lit_codes[item[0]])
        if len(item) > 1:
            w.put(item[2], item[1])
            w.code(*dist_codes[item[3]])
            w.put(item[5], item[4])
    return w.bytes()


def _hand_made() -> Iterator[tuple[str, bytes, int]]:
    """Streams no compressor writes, one per rule of zlib's inflate (and its inftrees)."""
    a = ord("a")
    lit = [0] * 286
    for s in (a, 256):
        lit[s] = 1
    yield "fixed block: a", _zlib_wrap(_fixed([(a,), (256,)]), b"a"), 1
    yield "fixed block: literal 286", _zlib_wrap(_fixed([(a,), (286,)]), b"a"), 1
    yield "fixed block: distance code 30", _zlib_wrap(_fixed([(a,), (257, 0, 0, 30, 0, 0), (256,)]), b"aaaa"), 4
    yield "fixed block: distance too far back", _zlib_wrap(_fixed([(a,), (257, 0, 0, 1, 0, 0), (256,)]), b"aaaa"), 4
    yield "fixed block: overlapping copy", _zlib_wrap(_fixed([(a,), (257, 0, 0, 0, 0, 0), (256,)]), b"aaaa"), 4
    yield "fixed block: no end of block", _zlib_wrap(_fixed([(a,)]), b"a")[:-4], 1
    yield "stored block", _zlib_wrap(b"\x01\x03\x00\xfc\xffabc", b"abc"), 3
    yield "stored block: NLEN wrong", _zlib_wrap(b"\x01\x03\x00\xfc\xfeabc", b"abc"), 3
    yield "stored then fixed", _zlib_wrap(b"\x00\x01\x00\xfe\xffa" + _fixed([(a,), (256,)]), b"aa"), 2
    yield "block type 3", _zlib_wrap(b"\x07\x00", b""), 0
    yield "preset dictionary flag", _zlib_wrap(_fixed([(256,)]), b"", header=b"\x78\xbb"), 0
    yield "window 256 (CINFO 0)", _zlib_wrap(_fixed([(a,), (256,)]), b"a", header=b"\x08\x1d"), 1
    yield "CINFO 8", _zlib_wrap(_fixed([(a,), (256,)]), b"a", header=b"\x88\x98"), 1
    yield "method 7", _zlib_wrap(_fixed([(a,), (256,)]), b"a", header=b"\x77\x01"), 1
    yield "bad FCHECK", _zlib_wrap(_fixed([(a,), (256,)]), b"a", header=b"\x78\xdb"), 1
    yield "bad adler", b"\x78\xda" + _fixed([(a,), (256,)]) + b"\x00\x00\x00\x00", 1
    # Dynamic blocks. `lit`: a and end of block, 1 bit each; `lit_match` adds length symbol 257.
    lit_match = list(lit)
    lit_match[a], lit_match[256], lit_match[257] = 2, 1, 2
    match = [(a,), (257, 0, 0, 0, 0, 0), (256,)]
    yield "dynamic: one distance code of length 1", _zlib_wrap(_dynamic(lit_match, [1], match), b"aaaa"), 4
    yield "dynamic: no distance codes, none used", _zlib_wrap(_dynamic(lit, [0], [(a,), (256,)]), b"a"), 1
    yield "dynamic: no distance codes, one used", _zlib_wrap(_dynamic(lit_match, [0], match), b"aaaa"), 4
    yield "dynamic: distance codes 1 and 1", _zlib_wrap(_dynamic(lit_match, [1, 1], match), b"aaaa"), 4
    yield "dynamic: two distance codes 1 and 2 (incomplete)", _zlib_wrap(_dynamic(lit, [1, 2], [(a,), (256,)]), b"a"), 1
    only_end = [0] * 257
    only_end[256] = 1
    yield "dynamic: only end of block, length 1", _zlib_wrap(_dynamic(only_end, [1], [(256,)]), b""), 0
    no_end = [0] * 257
    no_end[a] = 1
    no_end[0] = 1
    yield "dynamic: no end-of-block code", _zlib_wrap(_dynamic(no_end, [1], [(a,)]), b"a"), 1
    over = [0] * 286
    over[a], over[256], over[257] = 1, 1, 1
    yield "dynamic: over-subscribed literals", _zlib_wrap(_dynamic(over, [1], [(a,), (256,)]), b"a"), 1
    incomplete = [0] * 286
    incomplete[a], incomplete[256] = 1, 2
    yield "dynamic: incomplete literals", _zlib_wrap(_dynamic(incomplete, [1], [(a,), (256,)]), b"a"), 1
    yield "dynamic: 287 literal codes", _zlib_wrap(_dynamic(lit, [1], [(a,), (256,)], nlen=287), b"a"), 1


def zlib_corpus(rng: random.Random) -> list[Entry]:
    entries = [
        zlib_entry(f"test_status_list: {message}", lst, 2)
        for lst, message in parametrised(test_status_list.test_bad_compressed_entries_are_refused)
    ]
    samples = {
        "empty": b"",
        "zeros": bytes(100),
        "random": bytes(rng.getrandbits(8) for _ in range(1000)),
        "text": b"the status of every record in the country " * 120,
        "statuses": bytes(rng.choice([0, 0, 0, 0, 0x01, 0x40, 0x05, 0x80]) for _ in range(3000)),
        "long zeros": bytes(40_000),
    }
    strategies = {
        "default": zlib.Z_DEFAULT_STRATEGY,
        "filtered": zlib.Z_FILTERED,
        "huffman": zlib.Z_HUFFMAN_ONLY,
        "rle": zlib.Z_RLE,
        "fixed": zlib.Z_FIXED,
    }
    for name, data in samples.items():
        for level in (0, 1, 6, 9):
            for strategy_name, strategy in strategies.items():
                for wbits in (9, 12, 15):
                    compressor = zlib.compressobj(level, zlib.DEFLATED, wbits, 9, strategy)
                    stream = compressor.compress(data) + compressor.flush()
                    entries.append(zlib_entry(f"{name} level {level} {strategy_name} wbits {wbits}", stream, len(data)))
        stream = zlib.compress(data, 9)
        entries.append(zlib_entry(f"{name}: one byte short", stream, max(len(data) - 1, 0)))
        entries.append(zlib_entry(f"{name}: one byte more", stream, len(data) + 1))
        entries.append(zlib_entry(f"{name}: trailing byte", stream + b"\x00", len(data)))
        entries.append(zlib_entry(f"{name}: twice", stream + stream, len(data)))
    small = zlib.compress(b"\xe4\x01" * 40 + b"\x1b" * 20, 9)
    entries += [zlib_entry(f"cut at {n}", small[:n], 100) for n in range(len(small))]
    entries += [zlib_entry(f"bit {p}", data, 100) for p, data in _flips(small)]
    sync = zlib.compressobj(9)
    multi = (
        sync.compress(b"first block ")
        + sync.flush(zlib.Z_SYNC_FLUSH)
        + sync.compress(b"second")
        + sync.flush(zlib.Z_FULL_FLUSH)
        + sync.flush()
    )
    entries.append(zlib_entry("sync and full flush blocks", multi, len(b"first block second")))
    entries += [zlib_entry(f"hand-made: {name}", data, size) for name, data, size in _hand_made()]
    return entries


# --- X.509 signatures by an ECDSA issuer -------------------------------------------------------------


def x509_corpus(world: Any) -> list[Entry]:
    """Leaves signed by a P-256 issuer (DER ECDSA signatures) and by the Ed25519 root; each labelled
    with cryptography's verify_directly_issued_by."""
    from datetime import timedelta

    p = world.as_test_pki()
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    _, issuer = build_root(key=issuer_key, not_before=p.now - timedelta(days=10), not_after=p.now + timedelta(days=10))
    _, ecdsa_leaf = build(p, signer=issuer_key, issuer=issuer.subject)
    _, ed_leaf = build(p)
    ecdsa_der = bytearray(pki.certificate_to_der(ecdsa_leaf))
    ecdsa_der[-3] ^= 0x01  # inside s
    tampered = pki.load_certificate(bytes(ecdsa_der))
    out = []
    for name, leaf, parent in (
        ("ecdsa leaf, its issuer", ecdsa_leaf, issuer),
        ("ecdsa leaf, tampered signature", tampered, issuer),
        ("ecdsa leaf, the Ed25519 root", ecdsa_leaf, p.root_certificate),
        ("ed25519 leaf, the root", ed_leaf, p.root_certificate),
        ("ed25519 leaf, the P-256 issuer", ed_leaf, issuer),
    ):
        try:
            leaf.verify_directly_issued_by(parent)
            ok = True
        except (ValueError, TypeError, InvalidSignature):
            ok = False
        out.append(
            {
                "name": name,
                "certB64": _b64(pki.certificate_to_der(leaf)),
                "issuerB64": _b64(pki.certificate_to_der(parent)),
                "ok": ok,
            }
        )
    return out
