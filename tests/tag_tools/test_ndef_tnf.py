"""Which NDEF record is the cylinder record (schemas/tag-record.md, "The NDEF message").

The record is TNF 4 (NFC Forum external type) with the type `gcyl.org:r`, compared
case-insensitively as RTD 1.0 says. Look-alikes (the same type bytes under another TNF) are ignored;
two cylinder records are ambiguous; a chunked cylinder record is refused; other records, chunked or
not, are ignored as long as the message is well formed.
"""

from datetime import datetime

import pytest

from tag_tools import ndef_record
from tag_tools.errors import NoRecordError, RecordFormatError
from tag_tools.verdict import Decision, Reason, Verdict
from tests.testkit import TestPki

MB, ME, CF = 0x80, 0x40, 0x20
TNF_WELL_KNOWN, TNF_MEDIA, TNF_URI, TNF_EXTERNAL, TNF_UNKNOWN, TNF_UNCHANGED = 1, 2, 3, 4, 5, 6
TYPE = b"gcyl.org:r"
URN = b"urn:nfc:ext:gcyl.org:r"


def record(tnf: int, type_: bytes, payload: bytes, flags: int = 0, record_id: bytes = b"") -> bytes:
    """One raw NDEF record (short form when the payload allows), flags MB/ME/CF as given."""
    short = len(payload) < 256
    header = flags | tnf | (0x10 if short else 0) | (0x08 if record_id else 0)
    length = bytes([len(payload)]) if short else len(payload).to_bytes(4, "big")
    return bytes([header, len(type_)]) + length + (bytes([len(record_id)]) if record_id else b"") + type_ + record_id + payload


def message(*records: tuple[int, bytes, bytes]) -> bytes:
    """A well-formed message of unchunked records (MB on the first, ME on the last)."""
    out = b""
    for i, (tnf, type_, payload) in enumerate(records):
        flags = (MB if i == 0 else 0) | (ME if i == len(records) - 1 else 0)
        out += record(tnf, type_, payload, flags)
    return out


@pytest.fixture(scope="module")
def cose_bytes(signed_message: bytes) -> bytes:
    return ndef_record.record_payload(signed_message)


def verdict_of(test_pki: TestPki, uid: bytes, now: datetime, data: bytes) -> Verdict:
    return test_pki.verify(uid, data, now=now)


def test_the_written_record_is_tnf_4_with_the_external_type(signed_message: bytes, cose_bytes: bytes) -> None:
    assert signed_message[0] & 0x07 == TNF_EXTERNAL
    (only,) = ndef_record.decode_message(signed_message)
    assert (only.tnf, only.type, only.payload, only.chunked) == (TNF_EXTERNAL, TYPE, cose_bytes, False)


@pytest.mark.parametrize(
    "tnf, type_",
    [
        (TNF_URI, URN),  # an absolute URI that spells the external type's URN
        (TNF_MEDIA, URN),
        (TNF_MEDIA, TYPE),
        (TNF_WELL_KNOWN, TYPE),
    ],
    ids=["absolute-uri-urn", "media-type-urn", "media-type", "well-known"],
)
def test_another_tnf_with_the_same_type_bytes_is_not_the_cylinder_record(
    test_pki: TestPki, uid: bytes, now: datetime, cose_bytes: bytes, tnf: int, type_: bytes
) -> None:
    look_alike = message((tnf, type_, cose_bytes))
    with pytest.raises(NoRecordError):
        ndef_record.record_payload(look_alike)
    assert verdict_of(test_pki, uid, now, look_alike).reasons == (Reason.NO_RECORD,)


def test_a_look_alike_beside_the_real_record_is_ignored(test_pki: TestPki, uid: bytes, now: datetime, cose_bytes: bytes) -> None:
    other_record = ndef_record.record_payload(test_pki.ndef_message(b"\x04" * 7))
    for data in (
        message((TNF_URI, URN, b"not a record"), (TNF_EXTERNAL, TYPE, cose_bytes)),
        message((TNF_EXTERNAL, TYPE, cose_bytes), (TNF_MEDIA, URN, other_record)),
    ):
        assert ndef_record.record_payload(data) == cose_bytes
        assert verdict_of(test_pki, uid, now, data).decision is Decision.ALLOW


@pytest.mark.parametrize("type_", [b"GCYL.ORG:R", b"Gcyl.Org:r"])
def test_the_external_type_compares_case_insensitively(
    test_pki: TestPki, uid: bytes, now: datetime, cose_bytes: bytes, type_: bytes
) -> None:
    data = message((TNF_EXTERNAL, type_, cose_bytes))
    assert ndef_record.record_payload(data) == cose_bytes
    assert verdict_of(test_pki, uid, now, data).decision is Decision.ALLOW


def test_two_cylinder_records_differing_only_in_case_are_ambiguous(
    test_pki: TestPki, uid: bytes, now: datetime, cose_bytes: bytes
) -> None:
    other_record = ndef_record.record_payload(test_pki.ndef_message(b"\x04" * 7))
    data = message((TNF_EXTERNAL, TYPE, cose_bytes), (TNF_EXTERNAL, b"GCYL.ORG:R", other_record))
    with pytest.raises(RecordFormatError, match="more than one cylinder record"):
        ndef_record.record_payload(data)
    assert verdict_of(test_pki, uid, now, data).reasons == (Reason.MALFORMED,)


@pytest.mark.parametrize("type_", [b"gcyl.org:rx", b"gcyl.org", b"gcyl.org:r\x00", b"urn:nfc:ext:gcyl.org:r"])
def test_other_external_types_are_not_the_cylinder_record(cose_bytes: bytes, type_: bytes) -> None:
    with pytest.raises(NoRecordError):
        ndef_record.record_payload(message((TNF_EXTERNAL, type_, cose_bytes)))


def test_a_chunked_cylinder_record_is_refused(test_pki: TestPki, uid: bytes, now: datetime, cose_bytes: bytes) -> None:
    half = len(cose_bytes) // 2
    data = record(TNF_EXTERNAL, TYPE, cose_bytes[:half], MB | CF) + record(TNF_UNCHANGED, b"", cose_bytes[half:], ME)
    (chunked,) = ndef_record.decode_message(data)
    assert chunked.chunked and chunked.payload == cose_bytes  # decoded whole, then refused
    with pytest.raises(RecordFormatError, match="must not be chunked"):
        ndef_record.record_payload(data)
    verdict = verdict_of(test_pki, uid, now, data)
    assert verdict.reasons == (Reason.MALFORMED,) and "chunked" in verdict.detail


def test_a_chunked_other_record_beside_the_real_one_is_ignored(
    test_pki: TestPki, uid: bytes, now: datetime, cose_bytes: bytes
) -> None:
    data = (
        record(TNF_MEDIA, b"text/plain", b"see ", MB | CF)
        + record(TNF_UNCHANGED, b"", b"the ", CF)
        + record(TNF_UNCHANGED, b"", b"bureau", 0)
        + record(TNF_EXTERNAL, TYPE, cose_bytes, ME)
    )
    assert [r.chunked for r in ndef_record.decode_message(data)] == [True, False]
    assert verdict_of(test_pki, uid, now, data).decision is Decision.ALLOW


@pytest.mark.parametrize(
    "data",
    [
        record(TNF_UNCHANGED, b"", b"x", MB | ME),  # a following chunk with nothing before it
        record(TNF_EXTERNAL, TYPE, b"x", MB | ME | CF),  # CF on the last record
        record(TNF_MEDIA, b"a/b", b"x", MB | CF) + record(TNF_MEDIA, b"a/b", b"y", ME),  # chunk not TNF 6
        record(TNF_MEDIA, b"a/b", b"x", MB | CF) + record(TNF_UNCHANGED, b"a/b", b"y", ME),  # typed following chunk
        record(TNF_MEDIA, b"a/b", b"x", MB | CF) + record(TNF_UNCHANGED, b"", b"y", ME, record_id=b"i"),  # with an ID
        record(7, b"", b"x", MB | ME),  # reserved TNF
        record(TNF_EXTERNAL, b"", b"x", MB | ME),  # an external type needs a type
        record(TNF_UNKNOWN, TYPE, b"x", MB | ME),  # TNF 5 has no type
        record(TNF_EXTERNAL, TYPE, b"x", ME),  # no MB
        record(TNF_EXTERNAL, TYPE, b"x", MB),  # no ME
        record(TNF_EXTERNAL, TYPE, b"x", MB | ME) + b"\x00",  # bytes after ME
        record(TNF_MEDIA, b"a/b", b"x", MB) + record(TNF_EXTERNAL, TYPE, b"y", MB | ME),  # MB twice
        record(TNF_EXTERNAL, TYPE, b"xyz", MB | ME)[:-1],  # cut short
    ],
    ids=[
        "lone-unchanged",
        "cf-last",
        "chunk-not-unchanged",
        "chunk-with-type",
        "chunk-with-id",
        "tnf-7",
        "external-without-type",
        "unknown-with-type",
        "no-mb",
        "no-me",
        "trailing",
        "mb-twice",
        "cut-short",
    ],
)
def test_ill_formed_messages_are_malformed(test_pki: TestPki, uid: bytes, now: datetime, data: bytes) -> None:
    with pytest.raises(RecordFormatError) as caught:
        ndef_record.record_payload(data)
    assert not isinstance(caught.value, NoRecordError)
    assert verdict_of(test_pki, uid, now, data).reasons == (Reason.MALFORMED,)


def test_a_record_id_on_the_cylinder_record_is_refused(cose_bytes: bytes) -> None:
    with pytest.raises(RecordFormatError, match="record ID"):
        ndef_record.record_payload(record(TNF_EXTERNAL, TYPE, cose_bytes, MB | ME, record_id=b"1"))


def test_long_form_payload_length_is_accepted(cose_bytes: bytes) -> None:
    # SR is an encoding choice, not a different record: a 4-byte length names the same record.
    data = bytes([MB | ME | TNF_EXTERNAL, len(TYPE)]) + len(cose_bytes).to_bytes(4, "big") + TYPE + cose_bytes
    assert ndef_record.record_payload(data) == cose_bytes
