"""The forgery and rules suite: at least one scenario per reason code, each checked end to end."""

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import ndef
import pytest
from cryptography import x509

from tag_tools import cbor_codec, cose, crypto, ndef_record, pki, t2t_memory
from tag_tools.claims import InspectionResult, Key
from tag_tools.errors import RecordRejectedError
from tag_tools.revocations import CylinderRevocation, Revocations
from tag_tools.trustlist import RevocationReason, RevokedSigner, TrustList, TrustStore, build_trust_list
from tag_tools.verdict import ChipEvidence, Decision, Originality, Reason, Verdict
from tag_tools.verify import TagMemory, VerificationPolicy, authenticate_record, verify_tag
from tests.testkit import TestPki, typical_record


def raw_signed(claims: dict[int, Any], key: crypto.PrivateKey, certificate: x509.Certificate) -> bytes:
    """Sign claims exactly as given, skipping the signer-side checks an attacker would skip."""
    return ndef_record.encode_message(cose.sign1(cbor_codec.encode(claims), key, pki.kid_of(certificate)))


@dataclass
class Scenario:
    uid: bytes
    data: bytes
    trust: TrustStore
    revocations: Revocations = Revocations()
    chip: ChipEvidence | None = None
    policy: VerificationPolicy = VerificationPolicy()
    now_shift: timedelta = timedelta()


def trust_with(p: TestPki, now: datetime, **changes: Any) -> TrustStore:
    base = TrustList(
        sequence=2, issued_at=now - timedelta(hours=1), expires_at=now + timedelta(days=30), centres=(p.centre_certificate,)
    )
    return TrustStore.load(p.root_certificate, build_trust_list(replace(base, **changes), p.root_certificate, p.root_key))


def scenarios(p: TestPki, uid: bytes, now: datetime) -> dict[Reason, Callable[[], Scenario]]:
    trust = p.trust_store()
    claims = typical_record(uid, now).to_cbor_map

    def with_claims(**overrides: Any) -> bytes:
        return p.ndef_message(uid, **overrides)

    def flipped_claim() -> bytes:
        data = bytearray(with_claims())
        data[data.index(b"LSVAU2180N2183744")] ^= 0x01  # VIN edited: signature breaks
        return bytes(data)

    def other_root() -> Scenario:
        stranger = TestPki.create(now)
        return Scenario(uid, stranger.ndef_message(uid), trust)

    def version_2() -> bytes:
        c = claims()
        c[Key.VERSION] = 2
        return raw_signed(c, p.centre_key, p.centre_certificate)

    def centre_mismatch() -> bytes:
        c = claims()
        c[Key.CENTRE] = "ZZ-OTHER"
        return raw_signed(c, p.centre_key, p.centre_certificate)

    def before_certificate() -> bytes:
        c = claims()
        c[Key.ISSUED_AT] = int((p.centre_certificate.not_valid_before_utc - timedelta(days=1)).timestamp())
        c[Key.INSPECTED] = c[Key.MANUFACTURED]
        return raw_signed(c, p.centre_key, p.centre_certificate)

    def forged_trust_list() -> TrustStore:
        stranger = TestPki.create(now)
        return TrustStore.load(p.root_certificate, stranger.trust_list_bytes)

    def uri_only() -> bytes:
        return b"".join(ndef.message_encoder([ndef.UriRecord("https://example.org/cylinder")]))

    day = now.date()
    return {
        Reason.NO_RECORD: lambda: Scenario(uid, uri_only(), trust),
        Reason.MALFORMED: lambda: Scenario(uid, centre_mismatch(), trust),
        Reason.UNSUPPORTED_VERSION: lambda: Scenario(uid, version_2(), trust),
        Reason.UNKNOWN_SIGNER: other_root,
        Reason.BAD_SIGNATURE: lambda: Scenario(uid, flipped_claim(), trust),
        Reason.SIGNER_REVOKED: lambda: Scenario(
            uid,
            with_claims(),
            trust_with(
                p,
                now,
                centres=(),
                revoked=(
                    RevokedSigner(pki.kid_of(p.centre_certificate), now - timedelta(days=1), RevocationReason.KEY_COMPROMISE),
                ),
            ),
        ),
        Reason.SIGNER_NOT_VALID_AT_ISSUE: lambda: Scenario(uid, before_certificate(), trust),
        Reason.TRUST_LIST_STALE: lambda: Scenario(uid, with_claims(), trust_with(p, now, issued_at=now - timedelta(days=8))),
        Reason.TRUST_LIST_NOT_AUTHENTIC: lambda: Scenario(uid, with_claims(), forged_trust_list()),
        Reason.ISSUED_IN_FUTURE: lambda: Scenario(uid, with_claims(issued_at=now + timedelta(days=2)), trust),
        Reason.UID_MISMATCH: lambda: Scenario(bytes.fromhex("04112233445566"), with_claims(), trust),
        Reason.INSPECTION_OVERDUE: lambda: Scenario(
            uid, with_claims(inspected=day - timedelta(days=400), next_due=day - timedelta(days=1)), trust
        ),
        Reason.INSPECTION_FAILED: lambda: Scenario(uid, with_claims(result=InspectionResult.FAILED), trust),
        Reason.PAST_SERVICE_LIFE: lambda: Scenario(
            uid, with_claims(manufactured=date(2010, 1, 1), end_of_life=day - timedelta(days=1)), trust
        ),
        Reason.CYLINDER_REVOKED: lambda: Scenario(
            uid, with_claims(), trust, Revocations(cylinders={"156-4101-19012345": CylinderRevocation.CONDEMNED})
        ),
        Reason.RECORD_SUPERSEDED: lambda: Scenario(
            uid, with_claims(sequence=3), trust, Revocations(latest_sequence={"156-4101-19012345": 4})
        ),
        Reason.CHIP_NOT_GENUINE: lambda: Scenario(uid, with_claims(), trust, chip=ChipEvidence(Originality.NOT_GENUINE)),
        Reason.DUE_SOON: lambda: Scenario(uid, with_claims(next_due=day + timedelta(days=29)), trust),
        Reason.CHIP_NOT_GENUINE_WARNING: lambda: Scenario(
            uid,
            with_claims(),
            trust,
            chip=ChipEvidence(Originality.NOT_GENUINE),
            policy=VerificationPolicy(refuse_non_genuine_chip=False),
        ),
    }


def run(scenario: Scenario, now: datetime) -> Verdict:
    return verify_tag(
        scenario.uid,
        scenario.data,
        trust=scenario.trust,
        now=now + scenario.now_shift,
        revocations=scenario.revocations,
        chip=scenario.chip,
        policy=scenario.policy,
    )


def test_every_reason_code_has_a_scenario(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    assert set(scenarios(test_pki, uid, now)) == set(Reason)


@pytest.mark.parametrize("reason", list(Reason), ids=lambda r: r.value)
def test_reason(test_pki: TestPki, uid: bytes, now: datetime, reason: Reason) -> None:
    verdict = run(scenarios(test_pki, uid, now)[reason](), now)
    assert verdict.reasons[0] is reason, verdict
    warning = reason in (Reason.DUE_SOON, Reason.CHIP_NOT_GENUINE_WARNING)
    assert verdict.decision is (Decision.ALLOW_WITH_WARNING if warning else Decision.REFUSE)
    trusted_content = reason in {
        Reason.INSPECTION_OVERDUE,
        Reason.INSPECTION_FAILED,
        Reason.PAST_SERVICE_LIFE,
        Reason.CYLINDER_REVOKED,
        Reason.RECORD_SUPERSEDED,
        Reason.CHIP_NOT_GENUINE,
        Reason.DUE_SOON,
        Reason.CHIP_NOT_GENUINE_WARNING,
    }
    assert (verdict.record is not None) is trusted_content


def test_valid_record_is_allowed_with_claims(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    verdict = test_pki.verify(uid, signed_message, now=now)
    assert verdict.decision is Decision.ALLOW and verdict.reasons == ()
    assert verdict.record is not None and verdict.record.plate == "豫A8M2K7"
    assert verdict.signer_centre_id == "ZZTJ01"


def test_due_date_itself_is_still_allowed(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    day = now.date()
    message = test_pki.ndef_message(uid, next_due=day)
    on_the_day = test_pki.verify(uid, message, now=now, policy=VerificationPolicy(warning_days=0))
    assert on_the_day.decision is Decision.ALLOW_WITH_WARNING and on_the_day.reasons == (Reason.DUE_SOON,)
    assert test_pki.verify(uid, message, now=now + timedelta(days=1)).reasons == (Reason.INSPECTION_OVERDUE,)


def test_local_calendar_day_decides_overdue(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    from zoneinfo import ZoneInfo

    message = test_pki.ndef_message(uid, next_due=now.date())
    late_evening_utc = now.replace(hour=20)  # already the next day in Beijing
    shanghai = VerificationPolicy(local_timezone=ZoneInfo("Asia/Shanghai"))
    assert test_pki.verify(uid, message, now=late_evening_utc, policy=shanghai).reasons[0] is Reason.INSPECTION_OVERDUE
    assert test_pki.verify(uid, message, now=late_evening_utc).decision is not Decision.REFUSE


def test_several_rules_report_every_reason(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    day = now.date()
    message = test_pki.ndef_message(
        uid,
        result=InspectionResult.FAILED,
        inspected=day - timedelta(days=900),
        next_due=day - timedelta(days=10),
        manufactured=date(2008, 1, 1),
        end_of_life=day - timedelta(days=5),
    )
    verdict = test_pki.verify(uid, message, now=now)
    assert set(verdict.reasons) == {Reason.INSPECTION_FAILED, Reason.INSPECTION_OVERDUE, Reason.PAST_SERVICE_LIFE}


def test_expired_trust_list_is_stale(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    trust = trust_with(test_pki, now, expires_at=now + timedelta(hours=1))
    verdict = verify_tag(uid, signed_message, trust=trust, now=now + timedelta(hours=2))
    assert verdict.reasons == (Reason.TRUST_LIST_STALE,)


def test_tampered_trust_list_bytes_are_not_authentic(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    data = bytearray(test_pki.trust_list_bytes)
    data[-70] ^= 0x10
    trust = TrustStore.load(test_pki.root_certificate, bytes(data))
    assert verify_tag(uid, signed_message, trust=trust, now=now).reasons == (Reason.TRUST_LIST_NOT_AUTHENTIC,)


def test_signature_by_another_key_with_the_right_kid_is_bad(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    impostor = crypto.generate_private_key()
    message = raw_signed(typical_record(uid, now).to_cbor_map(), impostor, test_pki.centre_certificate)
    assert test_pki.verify(uid, message, now=now).reasons == (Reason.BAD_SIGNATURE,)


def test_es256_centre_is_accepted(now: datetime, uid: bytes) -> None:
    p = TestPki.create(now, algorithm=crypto.Algorithm.ES256)
    message = p.ndef_message(uid)
    assert p.verify(uid, message, now=now).decision is Decision.ALLOW
    assert cose.parse_sign1(ndef_record.record_payload(message)).algorithm == crypto.Algorithm.ES256


def test_raw_tag_memory_is_accepted(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    memory = uid[:3] + b"\x00" + uid[3:] + b"\x00" * 4 + bytes([0xE1, 0x10, 0x3E, 0x00]) + t2t_memory.ndef_tlv(signed_message)
    memory += b"\x00" * (16 + 496 - len(memory))
    assert test_pki.verify(uid, TagMemory(memory), now=now).decision is Decision.ALLOW


def test_blank_tag_memory_has_no_record(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    memory = bytes(12) + bytes([0xE1, 0x10, 0x3E, 0x00]) + bytes([0xFE]) + bytes(495)
    assert test_pki.verify(uid, TagMemory(memory), now=now).reasons == (Reason.NO_RECORD,)


def test_empty_message_has_no_record(test_pki: TestPki, uid: bytes, now: datetime) -> None:
    assert test_pki.verify(uid, b"", now=now).reasons == (Reason.NO_RECORD,)


def test_two_cylinder_records_are_malformed(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    payload = ndef_record.record_payload(signed_message)
    record = ndef.Record(ndef_record.RECORD_TYPE, "", payload)
    doubled = b"".join(ndef.message_encoder([record, record]))
    assert test_pki.verify(uid, doubled, now=now).reasons == (Reason.MALFORMED,)


def test_naive_time_is_a_programming_error(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        test_pki.verify(uid, signed_message, now=now.replace(tzinfo=None))


def test_authenticate_record_raises_with_reason(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    assert authenticate_record(None, signed_message, test_pki.trust_store(), now).centre_id == "ZZTJ01"
    with pytest.raises(RecordRejectedError) as caught:
        authenticate_record(b"\x04" * 7, signed_message, test_pki.trust_store(), now)
    assert caught.value.reason is Reason.UID_MISMATCH


def test_verdict_json(test_pki: TestPki, uid: bytes, now: datetime, signed_message: bytes) -> None:
    data = json.loads(json.dumps(test_pki.verify(uid, signed_message, now=now).to_json()))  # JSON-ready, as it says
    assert data["decision"] == "allow" and data["record"]["tag_uid"] == uid.hex().upper()
