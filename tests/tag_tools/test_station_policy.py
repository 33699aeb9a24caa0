"""The central station policy document (tag_tools.station_policy): signed by the list signer,
for one station, newer than the one held, with known terms only; anything else is a typed refusal."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tag_tools import cbor_codec, cose, pki
from tag_tools.errors import PolicyError, PolicyForgedError, PolicyRollbackError
from tag_tools.station_policy import (
    Claim,
    Mode,
    PolicyTerms,
    StationPolicy,
    build_station_policy,
    parse_station_policy,
    reasons_of,
    subject_of,
    terms_from_cbor,
    terms_sha256,
    terms_to_cbor,
)
from tests.tag_tools.test_cddl import zcbor_validate
from tests.testkit import TestPki

STATION = "ST-JS-01"
TERMS = PolicyTerms(
    mode=Mode.ENFORCE,
    warning_days=45,
    overridable=frozenset({"trust_list_stale"}),
    min_refill_interval=timedelta(hours=2),
)


def policy(now: datetime, sequence: int = 5, terms: PolicyTerms = TERMS, station: str = STATION) -> StationPolicy:
    return StationPolicy(station, sequence, now.replace(microsecond=0), terms)


def signed(p: TestPki, document: StationPolicy) -> bytes:
    return build_station_policy(document, p.signer_key, p.signer_certificate)


def test_round_trip_keeps_every_term_and_an_empty_policy(test_pki: TestPki, now: datetime) -> None:
    for terms in (TERMS, PolicyTerms(), PolicyTerms(mode=Mode.MONITOR), PolicyTerms(overridable=frozenset())):
        document = policy(now, terms=terms)
        parsed = parse_station_policy(signed(test_pki, document), test_pki.signer_certificate, now=now, station_code=STATION)
        assert parsed == document
    assert PolicyTerms().empty and not TERMS.empty
    assert terms_from_cbor(terms_to_cbor(TERMS)) == TERMS
    assert terms_sha256(TERMS) != terms_sha256(PolicyTerms(mode=Mode.ENFORCE))


def test_a_forged_document_is_refused(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)  # a key the bureau root never certified
    forged = build_station_policy(policy(now), stranger.signer_key, stranger.signer_certificate)
    with pytest.raises(PolicyForgedError, match="not a trusted list signer"):
        parse_station_policy(forged, test_pki.signer_certificate, now=now, station_code=STATION)
    # the stranger's key under our signer's kid: the signature does not verify
    payload = cose.parse_sign1(forged).payload
    impostor = cose.sign1(payload, stranger.signer_key, pki.kid_of(test_pki.signer_certificate))
    with pytest.raises(PolicyForgedError, match="does not verify"):
        parse_station_policy(impostor, test_pki.signer_certificate, now=now, station_code=STATION)
    # a document signed by the centre's key (certified by the root, but not a list signer) is refused too
    by_centre = cose.sign1(payload, test_pki.centre_key, pki.kid_of(test_pki.centre_certificate))
    with pytest.raises(PolicyForgedError):
        parse_station_policy(by_centre, test_pki.signer_certificate, now=now, station_code=STATION)


def test_every_flipped_byte_is_a_typed_refusal(test_pki: TestPki, now: datetime) -> None:
    genuine = signed(test_pki, policy(now))
    for index in range(len(genuine)):
        damaged = bytearray(genuine)
        damaged[index] ^= 0x01
        with pytest.raises(PolicyError):
            parse_station_policy(bytes(damaged), test_pki.signer_certificate, now=now, station_code=STATION)


def test_older_other_station_and_future_documents_are_refused(test_pki: TestPki, now: datetime) -> None:
    blob = signed(test_pki, policy(now, sequence=5))
    assert parse_station_policy(blob, test_pki.signer_certificate, now=now, station_code=STATION, after_sequence=4).sequence == 5
    for held in (5, 6):  # the same sequence again is not newer either
        with pytest.raises(PolicyRollbackError):
            parse_station_policy(blob, test_pki.signer_certificate, now=now, station_code=STATION, after_sequence=held)
    with pytest.raises(PolicyError, match="not ST-EQ-01"):
        parse_station_policy(blob, test_pki.signer_certificate, now=now, station_code="ST-EQ-01")
    future = signed(test_pki, policy(now + timedelta(hours=1)))
    with pytest.raises(PolicyError, match="future"):
        parse_station_policy(future, test_pki.signer_certificate, now=now, station_code=STATION)
    before_signer = policy(test_pki.signer_certificate.not_valid_before_utc - timedelta(days=1))
    with pytest.raises(PolicyError, match="not valid at the policy's issue time"):
        signed(test_pki, before_signer)


def test_terms_are_checked(test_pki: TestPki, now: datetime) -> None:
    with pytest.raises(PolicyError, match="unknown reason codes: no_such_reason"):
        PolicyTerms(overridable=frozenset({"no_such_reason"}))
    with pytest.raises(PolicyError, match="unknown reason codes"):
        reasons_of(["trust_list_stale", "cylinder_overdue_typo"])
    for bad in (PolicyTerms.__new__(PolicyTerms),):  # bypassing __post_init__ must not get past build
        object.__setattr__(bad, "mode", "strict")
        object.__setattr__(bad, "warning_days", None)
        object.__setattr__(bad, "overridable", None)
        object.__setattr__(bad, "min_refill_interval", None)
        with pytest.raises(PolicyError, match="mode"):
            signed(test_pki, policy(now, terms=bad))
    with pytest.raises(PolicyError, match="warning_days"):
        PolicyTerms(warning_days=-1)
    with pytest.raises(PolicyError, match="min_refill_interval"):
        PolicyTerms(min_refill_interval=timedelta(days=40))
    for raw, problem in [
        ({"mode": "enforce", "colour": "red"}, "unknown keys: colour"),
        ({"overridable": ["trust_list_stale", "chip_not_genuine"]}, "sorted"),
        ({"warning_days": 1.5}, "integer"),
        ({"min_refill_interval_s": -1}, "min_refill_interval_s"),
        ([], "map"),
    ]:
        with pytest.raises(PolicyError, match=problem):
            terms_from_cbor(raw)


def test_claims_with_the_wrong_shape_are_refused(test_pki: TestPki, now: datetime) -> None:
    good = {
        Claim.SUB: subject_of(STATION),
        Claim.IAT: int(now.timestamp()),
        Claim.SEQUENCE: 3,
        Claim.POLICY: terms_to_cbor(TERMS),
    }
    for claims, problem in [
        (good | {4: int(now.timestamp()) + 3600}, "wrong set of keys"),
        (good | {Claim.SUB: "tag:gcyl.org,2026:status-list:0"}, "sub"),
        (good | {Claim.SUB: subject_of("bad code/../x")}, "not a station code"),
        (good | {Claim.SEQUENCE: -1}, "sequence"),
        (good | {Claim.IAT: "yesterday"}, "iat"),
    ]:
        blob = cose.sign1(cbor_codec.encode(claims), test_pki.signer_key, pki.kid_of(test_pki.signer_certificate))
        with pytest.raises(PolicyError, match=problem):
            parse_station_policy(blob, test_pki.signer_certificate, now=now, station_code=STATION)


def test_token_conforms_to_cddl(tmp_path: Path, test_pki: TestPki, now: datetime) -> None:
    for terms in (TERMS, PolicyTerms()):
        result = zcbor_validate(
            tmp_path, "station-policy.cddl", "station-policy-token", signed(test_pki, policy(now, terms=terms))
        )
        assert result.returncode == 0, result.stderr[-2000:]
    bad_claims = {Claim.SUB: subject_of(STATION), Claim.IAT: 0, Claim.SEQUENCE: 1, Claim.POLICY: {"mode": "lenient"}}
    bad = cose.sign1(cbor_codec.encode(bad_claims), test_pki.signer_key, pki.kid_of(test_pki.signer_certificate))
    assert zcbor_validate(tmp_path, "station-policy.cddl", "station-policy-token", bad).returncode != 0
