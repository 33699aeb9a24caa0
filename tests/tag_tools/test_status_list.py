"""The signed status list (tag_tools.status_list) and the record's status claim."""

import tracemalloc
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tag_tools import cbor_codec, cose, crypto, ndef_record, pki
from tag_tools.claims import CylinderRecord, Key, StatusReference
from tag_tools.errors import (
    RecordFormatError,
    RevocationClearedError,
    StatusIndexError,
    StatusListError,
    StatusListRollbackError,
    StatusListStaleError,
)
from tag_tools.record import decode_unverified, size_on_tag
from tag_tools.status_list import (
    Claim,
    StatusArray,
    StatusList,
    StatusValue,
    build_status_list,
    check_no_cleared_revocations,
    inflate,
    parse_status_list,
    subject_of,
)
from tag_tools.verdict import Decision
from tests.tag_tools.test_cddl import zcbor_validate
from tests.testkit import TestPki, typical_record

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
FUZZ = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
V, S, STOLEN, SCRAPPED = StatusValue


@dataclass(frozen=True)
class Signer:
    key: crypto.PrivateKey
    certificate: x509.Certificate


def make_signer(now: datetime, algorithm: crypto.Algorithm = crypto.Algorithm.EDDSA) -> Signer:
    # Any certificate carries a key; checking the status signer's chain and usage is the caller's job.
    # The bureau's root is Ed25519 by profile, so the signer's key sits in a list-signer certificate.
    root_key, key = crypto.generate_private_key(), crypto.generate_private_key(algorithm)
    root = pki.create_root(root_key, "Status bureau (test)", now - timedelta(days=30), valid_days=365)
    return Signer(
        key, pki.issue_list_signer_certificate(key.public_key(), "Status", root, root_key, now - timedelta(days=30), 365)
    )


@pytest.fixture(scope="module")
def signer(now: datetime) -> Signer:
    return make_signer(now)


def a_list(now: datetime, statuses: StatusArray | None = None, **changes: Any) -> StatusList:
    fields: dict[str, Any] = dict(
        list_id=3,
        sequence=42,
        issued_at=now.replace(microsecond=0),
        expires_at=now.replace(microsecond=0) + timedelta(days=2),
        ttl=timedelta(hours=1),
        statuses=statuses or StatusArray.from_statuses([V, S, STOLEN, SCRAPPED, S, V, V]),
    )
    fields.update(changes)
    return StatusList(**fields)


def parse(data: bytes, signer: Signer, now: datetime, **options: Any) -> StatusList:
    return parse_status_list(data, signer.certificate, now=now, **{"list_id": 3, **options})


def good_claims(now: datetime, packed: bytes = b"\xe4\x01", count: int = 5) -> dict[int, Any]:
    claims: dict[int, Any] = {
        Claim.SUB: subject_of(3),
        Claim.EXP: int((now + timedelta(days=1)).timestamp()),
        Claim.IAT: int(now.timestamp()),
        Claim.STATUS_LIST: {"bits": 2, "lst": zlib.compress(packed)},
        Claim.TTL: 3600,
        Claim.SEQUENCE: 1,
        Claim.COUNT: count,
    }
    return claims


def signed(payload: bytes, signer: Signer) -> bytes:
    """Validly signed arbitrary payload: exercises every check that runs after the signature."""
    return cose.sign1(payload, signer.key, pki.kid_of(signer.certificate))


# --- the bit array ---------------------------------------------------------------------------------


def test_bit_order_is_the_drafts() -> None:
    # The draft's 2-bit example: entry i in byte i*2//8, at bit offset (i*2)%8 from the least significant bit.
    statuses = StatusArray.from_statuses([StatusValue(v) for v in (1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3)])
    assert statuses.packed == bytes.fromhex("c944f9")


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 8, 1001])
def test_lookup_at_the_boundaries(count: int) -> None:
    values = [StatusValue(i * 7 % 4) for i in range(count)]
    statuses = StatusArray.from_statuses(values)
    assert len(statuses) == count and len(statuses.packed) == (count + 3) // 4
    assert [statuses.status(i) for i in range(count)] == values
    for outside in (-1, count, count + 4, 2**40):
        with pytest.raises(StatusIndexError):
            statuses.status(outside)


@pytest.mark.parametrize("value", list(StatusValue))
def test_every_value_survives_signing(signer: Signer, now: datetime, value: StatusValue) -> None:
    statuses = StatusArray.from_mapping({0: value, 6: value, 9: value}, 10)
    parsed = parse(build_status_list(a_list(now, statuses), signer.key, signer.certificate), signer, now)
    assert [parsed.status(i) for i in range(10)] == [value if i in (0, 6, 9) else V for i in range(10)]


def test_updated_grows_and_sets() -> None:
    statuses = StatusArray.from_mapping({1: S}, 3).updated({4: SCRAPPED, 1: STOLEN}, count=6)
    assert [statuses.status(i) for i in range(6)] == [V, STOLEN, V, V, SCRAPPED, V]
    with pytest.raises(StatusListError, match="never shrinks"):
        statuses.updated({}, count=5)
    with pytest.raises(StatusIndexError):
        statuses.updated({6: S})


def test_array_refuses_wrong_length_and_dirty_padding() -> None:
    with pytest.raises(StatusListError, match="need 2 bytes"):
        StatusArray(5, b"\x00")
    with pytest.raises(StatusListError, match="unused bits"):
        StatusArray(5, b"\x00\x04")  # entry 5 would be 1, but there are only 5 entries
    with pytest.raises(StatusListError):
        StatusArray(-1, b"")


# --- signing and parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [crypto.Algorithm.EDDSA, crypto.Algorithm.ES256], ids=["ed25519", "es256"])
def test_round_trip(now: datetime, algorithm: crypto.Algorithm) -> None:
    signer = make_signer(now, algorithm)
    original = a_list(now)
    assert parse(build_status_list(original, signer.key, signer.certificate), signer, now) == original


def test_a_rotation_trusts_two_signers(signer: Signer, now: datetime) -> None:
    other = make_signer(now)
    token = build_status_list(a_list(now), other.key, other.certificate)
    assert parse_status_list(token, [signer.certificate, other.certificate], now=now, list_id=3).sequence == 42


def test_forged_and_untrusted_signatures_are_refused(signer: Signer, now: datetime) -> None:
    token = bytearray(build_status_list(a_list(now), signer.key, signer.certificate))
    token[-1] ^= 1
    with pytest.raises(StatusListError, match="not authentic"):
        parse(bytes(token), signer, now)
    stranger = make_signer(now)
    with pytest.raises(StatusListError, match="not a trusted status signer"):
        parse(build_status_list(a_list(now), stranger.key, stranger.certificate), signer, now)
    # The right kid but another key: the signature does not verify.
    payload = cose.parse_sign1(bytes(token), max_size=1 << 20).payload
    forged = cose.sign1(payload, stranger.key, pki.kid_of(signer.certificate))
    with pytest.raises(StatusListError, match="not authentic"):
        parse(forged, signer, now)


def test_expired_and_future_lists_are_refused(signer: Signer, now: datetime) -> None:
    token = build_status_list(a_list(now), signer.key, signer.certificate)
    assert parse(token, signer, now + timedelta(days=2, seconds=-1)).sequence == 42
    with pytest.raises(StatusListStaleError, match="expired"):
        parse(token, signer, now + timedelta(days=2))
    with pytest.raises(StatusListStaleError, match="future"):
        parse(token, signer, now - timedelta(minutes=11))
    assert parse(token, signer, now - timedelta(minutes=9)).sequence == 42  # within the clock skew


def test_rolled_back_sequence_is_refused(signer: Signer, now: datetime) -> None:
    token = build_status_list(a_list(now), signer.key, signer.certificate)
    assert parse(token, signer, now, min_sequence=42).sequence == 42  # the same list fetched again
    with pytest.raises(StatusListRollbackError, match="older"):
        parse(token, signer, now, min_sequence=43)


def test_another_list_cannot_answer_for_this_one(signer: Signer, now: datetime) -> None:
    token = build_status_list(a_list(now, list_id=4), signer.key, signer.certificate)
    with pytest.raises(StatusListError, match="expected status list 3"):
        parse(token, signer, now)


def test_list_issued_outside_signer_validity_is_refused(signer: Signer, now: datetime) -> None:
    late = now + timedelta(days=400)
    token = signed(cbor_codec.encode(good_claims(late)), signer)
    with pytest.raises(StatusListError, match="signer certificate's validity"):
        parse(token, signer, late)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(expires_at=datetime(2026, 1, 1).astimezone()), "expire after"),
        (dict(ttl=timedelta(0)), "ttl"),
        (dict(ttl=timedelta(seconds=1.5)), "ttl"),
        (dict(list_id=65536), "list id"),
        (dict(sequence=-1), "sequence"),
    ],
)
def test_build_refuses_bad_metadata(signer: Signer, now: datetime, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(StatusListError, match=message):
        build_status_list(a_list(now, **changes), signer.key, signer.certificate)


def test_build_refuses_a_key_of_another_certificate(signer: Signer, now: datetime) -> None:
    with pytest.raises(StatusListError, match="does not belong"):
        build_status_list(a_list(now), make_signer(now).key, signer.certificate)


# --- hostile tokens --------------------------------------------------------------------------------


def test_zlib_bomb_is_refused_in_bounded_memory(signer: Signer, now: datetime) -> None:
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()  # 256 MiB of zeros
    token = signed(cbor_codec.encode(good_claims(now, count=8) | {Claim.STATUS_LIST: {"bits": 2, "lst": bomb}}), signer)
    tracemalloc.start()
    try:
        with pytest.raises(StatusListError, match="more than the declared 2 bytes"):
            parse(token, signer, now)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(token) + (1 << 20)  # copies of the token, never the 256 MiB


@pytest.mark.parametrize(
    ("lst", "message"),
    [
        (zlib.compress(b"\xe4\x01")[:-3], "truncated"),
        (zlib.compress(b"\xe4\x01") + b"\x00", "after its zlib stream"),
        (zlib.compress(b"\xe4"), "inflates to 1 bytes"),
        (zlib.compress(b"\xe4\x01\x00"), "more than the declared"),
        (b"not zlib at all", "not a valid zlib stream"),
        (zlib.compress(b"\xe4\x05"), "unused bits"),
        (zlib.compress(b"\xe4\x01", wbits=-15), "not a valid zlib stream"),  # raw DEFLATE, no zlib header
    ],
)
def test_bad_compressed_entries_are_refused(signer: Signer, now: datetime, lst: bytes, message: str) -> None:
    token = signed(cbor_codec.encode(good_claims(now) | {Claim.STATUS_LIST: {"bits": 2, "lst": lst}}), signer)
    with pytest.raises(StatusListError, match=message):
        parse(token, signer, now)


@pytest.mark.parametrize(
    "changes",
    [
        {Claim.SUB: "https://example.org/status/3"},
        {Claim.SUB: "tag:gcyl.org,2026:status-list:03"},
        {Claim.STATUS_LIST: {"bits": 1, "lst": zlib.compress(b"\x00")}},
        {Claim.STATUS_LIST: {"bits": 2, "lst": zlib.compress(b"\x00"), "aggregation_uri": "x"}},
        {Claim.STATUS_LIST: [2, b""]},
        {Claim.COUNT: 2**27 + 1},
        {Claim.COUNT: -1},
        {Claim.SEQUENCE: 2**63},
        {Claim.TTL: 0},
        {Claim.EXP: 2**64 - 1},
        {Claim.IAT: 1.5},
        {Claim.SEQUENCE: True},
        {99: 1},
    ],
)
def test_bad_claims_are_refused(signer: Signer, now: datetime, changes: dict[int, Any]) -> None:
    token = signed(cbor_codec.encode(good_claims(now) | changes), signer)
    with pytest.raises(StatusListError):
        parse(token, signer, now)


def test_non_deterministic_cbor_is_refused(signer: Signer, now: datetime) -> None:
    claims = good_claims(now)
    reordered = cbor2.dumps(dict(reversed(list(claims.items()))))  # same map, keys out of order
    assert cbor2.loads(reordered) == claims
    with pytest.raises(StatusListError, match="deterministically"):
        parse(signed(reordered, signer), signer, now)
    token = build_status_list(a_list(now), signer.key, signer.certificate)
    with pytest.raises(StatusListError, match="deterministically"):
        parse(token + b"\x00", signer, now)


def test_oversized_input_is_refused_before_parsing(signer: Signer, now: datetime) -> None:
    with pytest.raises(StatusListError, match="more than"):
        parse(b"\xd2" + bytes(16 * 1024 * 1024), signer, now)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes_only_raise_the_typed_error(signer: Signer, now: datetime, data: bytes) -> None:
    with pytest.raises(StatusListError):
        parse(data, signer, now)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=3))
def test_fuzz_edited_tokens_are_refused_unless_unchanged(signer: Signer, now: datetime, edits: list[tuple[int, int]]) -> None:
    original = build_status_list(a_list(now), signer.key, signer.certificate)
    data = bytearray(original)
    for position, value in edits:
        data[position % len(data)] = value
    if bytes(data) == original:
        assert parse(bytes(data), signer, now) == a_list(now)
    else:
        with pytest.raises(StatusListError):
            parse(bytes(data), signer, now)


claim_values = st.one_of(
    st.integers(-(2**65), 2**65),
    st.binary(max_size=30),
    st.text(max_size=40),
    st.none(),
    st.booleans(),
    st.floats(),
    st.dictionaries(st.sampled_from(["bits", "lst", "x"]), st.one_of(st.integers(-2, 9), st.binary(max_size=30))),
)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from([int(k) for k in Claim] + [1, 7]), claim_values, max_size=4))
def test_fuzz_signed_claims_only_raise_the_typed_error(signer: Signer, now: datetime, changes: dict[int, Any]) -> None:
    try:
        payload = cbor_codec.encode(good_claims(now) | changes)
    except (ValueError, TypeError):  # floats such as NaN that cbor2 refuses to encode canonically
        return
    try:
        parse(signed(payload, signer), signer, now)
    except StatusListError:
        pass


@FUZZ
@given(data=st.binary(max_size=200), size=st.integers(0, 64))
def test_fuzz_inflate_only_raises_the_typed_error(data: bytes, size: int) -> None:
    try:
        assert len(inflate(data, size)) == size
    except StatusListError:
        pass


# --- the signer's rule: never lower an entry -------------------------------------------------------

ORDER = [V, S, STOLEN, SCRAPPED]


@pytest.mark.parametrize("before", ORDER)
@pytest.mark.parametrize("after", ORDER)
def test_no_entry_is_ever_lowered(before: StatusValue, after: StatusValue) -> None:
    previous = StatusArray.from_mapping({5: before}, 9)
    new = previous.updated({5: after})
    if after >= before:
        check_no_cleared_revocations(previous, new)
    else:
        with pytest.raises(RevocationClearedError) as refused:
            check_no_cleared_revocations(previous, new)
        assert (refused.value.index, refused.value.before, refused.value.after) == (5, before, after)


def test_growth_is_allowed_and_dropping_entries_is_not() -> None:
    previous = StatusArray.from_mapping({2: SCRAPPED}, 5)
    check_no_cleared_revocations(previous, previous.updated({7: S}, count=9))
    with pytest.raises(RevocationClearedError, match="drops entries"):
        check_no_cleared_revocations(previous, StatusArray.from_mapping({2: SCRAPPED}, 4))


def test_first_lowered_entry_is_found_past_the_first_chunk() -> None:
    count = 9 * (1 << 20)  # 2.25 MiB packed: three chunks
    previous = StatusArray(count, b"\x55" * (count // 4)).updated({5_000_001: SCRAPPED, 8_000_000: STOLEN})
    check_no_cleared_revocations(previous, previous.updated({3: STOLEN}))
    with pytest.raises(RevocationClearedError) as refused:
        check_no_cleared_revocations(previous, previous.updated({5_000_001: STOLEN, 8_000_000: V}))
    assert refused.value.index == 5_000_001


def test_signed_lists_must_be_the_same_list_and_newer(now: datetime) -> None:
    previous = a_list(now)
    check_no_cleared_revocations(previous, a_list(now, sequence=43))
    with pytest.raises(StatusListRollbackError):
        check_no_cleared_revocations(previous, a_list(now, sequence=42))
    with pytest.raises(StatusListError, match="cannot follow"):
        check_no_cleared_revocations(previous, a_list(now, list_id=4, sequence=43))


# --- the record's status claim ---------------------------------------------------------------------


def test_record_with_status_claim_round_trips(now: datetime, uid: bytes) -> None:
    record = typical_record(uid, now, status_ref=StatusReference(0, 39_999_999))
    claims = record.to_cbor_map()
    assert claims[Key.STATUS] == [0, 39_999_999]
    assert CylinderRecord.from_cbor_map(cbor_codec.decode(cbor_codec.encode(claims), "claims")) == record
    assert CylinderRecord.from_json(record.to_json()) == record
    assert record.to_json()["status_ref"] == {"list_id": 0, "index": 39_999_999}


def test_record_without_status_claim_is_unchanged(now: datetime, uid: bytes) -> None:
    record = typical_record(uid, now)
    assert record.status_ref is None and Key.STATUS not in record.to_cbor_map()
    assert "status_ref" not in record.to_json()


@pytest.mark.parametrize("value", [[0], [0, -1], [65536, 1], [0, 2**32], [0, "1"], [True, 1], 7, {0: 1}])
def test_bad_status_claims_are_refused(now: datetime, uid: bytes, value: object) -> None:
    claims = typical_record(uid, now).to_cbor_map()
    claims[Key.STATUS] = value
    with pytest.raises(RecordFormatError, match="claim 21"):
        CylinderRecord.from_cbor_map(claims)


def test_signed_record_exposes_its_status_claim(test_pki: TestPki, now: datetime, uid: bytes) -> None:
    message = test_pki.ndef_message(uid, status_ref=StatusReference(2, 123_456))
    assert test_pki.verify(uid, message).decision is Decision.ALLOW
    assert decode_unverified(message).record.status_ref == StatusReference(2, 123_456)


def test_spec_states_the_claims_byte_cost(test_pki: TestPki, uid: bytes) -> None:
    plain = size_on_tag(test_pki.ndef_message(uid))
    with_claim = size_on_tag(test_pki.ndef_message(uid, status_ref=StatusReference(0, 39_999_999)))
    text = (SCHEMAS / "tag-record.md").read_text(encoding="utf-8")
    assert f"**{with_claim - plain} bytes**" in text and f"**{with_claim} bytes**" in text
    assert cbor_codec.encode({21: [0, 39_999_999]})[1:].hex() in text.replace(" ", "")


def test_record_with_status_claim_conforms_to_cddl(tmp_path: Path, test_pki: TestPki, uid: bytes) -> None:
    payload = ndef_record.record_payload(test_pki.ndef_message(uid, status_ref=StatusReference(23, 2**32 - 1)))
    result = zcbor_validate(tmp_path, "tag-record.cddl", "tag-record", payload)
    assert result.returncode == 0, result.stderr[-2000:]


def test_status_list_token_conforms_to_cddl(tmp_path: Path, signer: Signer, now: datetime) -> None:
    token = build_status_list(a_list(now), signer.key, signer.certificate)
    result = zcbor_validate(tmp_path, "status-list.cddl", "status-list-token", token)
    assert result.returncode == 0, result.stderr[-2000:]
    # and the validator is not one that accepts everything
    bad = signed(cbor_codec.encode(good_claims(now) | {Claim.STATUS_LIST: {"bits": 4, "lst": b""}}), signer)
    assert zcbor_validate(tmp_path, "status-list.cddl", "status-list-token", bad).returncode != 0
