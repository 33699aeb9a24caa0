"""Property-based fuzzing of decoding and verification: whatever a tag holds, nothing escapes.

Each property also bounds the work: hypothesis's per-example deadline fails an input that makes
verification slow, and the inputs include nesting, huge lengths and huge integers.
"""

from datetime import datetime

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tag_tools import cbor_codec, cose, ndef_record, pki, t2t_memory
from tag_tools.claims import CylinderRecord
from tag_tools.errors import NoRecordError, RecordFormatError
from tag_tools.verdict import Decision
from tag_tools.verify import TagMemory
from tests.testkit import TestPki

FUZZ = settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

cbor_leaves = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.binary(max_size=40),
    st.text(max_size=40),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
cbor_values = st.recursive(
    cbor_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.one_of(st.integers(-5, 30), st.text(max_size=4)), children, max_size=6),
        st.builds(cbor2.CBORTag, st.sampled_from([18, 1, 2, 24, 100, 1004]), children),
    ),
    max_leaves=30,
)


@FUZZ
@given(data=st.binary(max_size=1100), uid=st.binary(min_size=0, max_size=10))
def test_random_bytes_refuse(test_pki: TestPki, now: datetime, data: bytes, uid: bytes) -> None:
    verdict = test_pki.verify(uid, data, now=now)
    assert verdict.decision is Decision.REFUSE and verdict.reasons


@FUZZ
@given(data=st.binary(max_size=1100))
def test_random_tag_memory_refuses(test_pki: TestPki, uid: bytes, now: datetime, data: bytes) -> None:
    assert test_pki.verify(uid, TagMemory(data), now=now).decision is Decision.REFUSE


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 300), st.integers(0, 255), st.sampled_from(["set", "insert", "delete"])), min_size=1, max_size=4
    )
)
def test_edited_records_never_pass_unless_unchanged(
    test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes, edits: list[tuple[int, int, str]]
) -> None:
    data = bytearray(signed_message)
    for position, value, action in edits:
        position %= len(data) + 1
        if action == "insert":
            data.insert(position, value)
        elif position < len(data):
            if action == "set":
                data[position] = value
            else:
                del data[position]
    verdict = test_pki.verify(uid, bytes(data), now=now)
    assert verdict.decision is Decision.REFUSE or bytes(data) == signed_message


@FUZZ
@given(payload=cbor_values)
def test_signed_garbage_claims_are_malformed_not_crashes(test_pki: TestPki, uid: bytes, now: datetime, payload: object) -> None:
    # The worst case: a trusted centre's key signs nonsense. It must still be a clean refusal.
    try:
        encoded = cbor_codec.encode(payload)
    except (ValueError, TypeError, cbor2.CBOREncodeError):
        return
    message = ndef_record.encode_message(cose.sign1(encoded, test_pki.centre_key, pki.kid_of(test_pki.centre_certificate)))
    assert test_pki.verify(uid, message, now=now).decision is Decision.REFUSE


@FUZZ
@given(envelope=cbor_values)
def test_arbitrary_cbor_envelopes_refuse(test_pki: TestPki, uid: bytes, now: datetime, envelope: object) -> None:
    try:
        encoded = cbor_codec.encode(cbor2.CBORTag(18, envelope))
    except (ValueError, TypeError, cbor2.CBOREncodeError):
        return
    assert test_pki.verify(uid, ndef_record.encode_message(encoded), now=now).decision is Decision.REFUSE


@FUZZ
@given(claims=st.dictionaries(st.integers(0, 25), cbor_values, max_size=22))
def test_claims_parser_raises_only_its_own_error(claims: dict[int, object]) -> None:
    try:
        CylinderRecord.from_cbor_map(claims)
    except RecordFormatError:
        pass


@FUZZ
@given(data=st.binary(max_size=600))
def test_tlv_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        t2t_memory.ndef_message_from_data_area(data)
    except RecordFormatError:
        pass


# Well-formed NDEF messages mixing the cylinder record with look-alikes (same type bytes under another
# TNF, other cases, near-miss types) and chunked records: the parser must pick exactly the one TNF 4
# record whose type is `gcyl.org:r` in any case, and refuse when there are two or it is chunked.
ndef_types = st.sampled_from(
    [
        b"gcyl.org:r",
        b"GCYL.ORG:R",
        b"gCyL.oRg:R",
        b"urn:nfc:ext:gcyl.org:r",
        b"gcyl.org:rr",
        b"text/plain",
        b"gcyl.org:r\x00",
        b"\xffgcyl.org:r",
    ]
)
NDEF_FUZZ = settings(FUZZ, max_examples=200)  # pure parsing: fewer examples find the same cases
ndef_records = st.tuples(st.sampled_from([1, 2, 3, 4]), ndef_types, st.binary(max_size=20), st.integers(1, 3))


def _ndef_message(records: list[tuple[int, bytes, bytes, int]]) -> bytes:
    """Encode records, each split into `chunks` chunks (TNF 6 following chunks), MB first, ME last."""
    raw: list[tuple[int, int, bytes, bytes]] = []  # (flags without MB/ME, tnf, type, payload)
    for tnf, type_, payload, chunks in records:
        size = -(-len(payload) // chunks) if payload else 0
        pieces = [payload[i * size : (i + 1) * size] for i in range(chunks)] if size else [b""] * chunks
        for i, piece in enumerate(pieces):
            raw.append((0x20 if i < len(pieces) - 1 else 0, tnf if i == 0 else 6, type_ if i == 0 else b"", piece))
    out = b""
    for i, (flags, tnf, type_, piece) in enumerate(raw):
        flags |= (0x80 if i == 0 else 0) | (0x40 if i == len(raw) - 1 else 0) | 0x10 | tnf
        out += bytes([flags, len(type_), len(piece)]) + type_ + piece
    return out


@NDEF_FUZZ
@given(records=st.lists(ndef_records, min_size=1, max_size=5))
def test_ndef_look_alikes_and_chunks(records: list[tuple[int, bytes, bytes, int]]) -> None:
    ours = [(payload, chunks) for tnf, type_, payload, chunks in records if tnf == 4 and type_.lower() == b"gcyl.org:r"]
    try:
        payload = ndef_record.record_payload(_ndef_message(records))
    except NoRecordError:
        assert not ours
    except RecordFormatError as error:
        assert len(ours) > 1 or (len(ours) == 1 and ours[0][1] > 1), error
    else:
        assert len(ours) == 1 and ours[0] == (payload, 1)


@NDEF_FUZZ
@given(data=st.binary(max_size=300))
def test_ndef_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        ndef_record.decode_message(data)
    except RecordFormatError:
        pass
