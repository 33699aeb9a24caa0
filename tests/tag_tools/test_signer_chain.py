"""The list signer's chain: the root certifies a signer for lists only; stations that pin only the
root accept its trust lists through x5chain, refuse expired, revoked and wrong-usage signers, keep
accepting root-signed lists (deprecated), and follow a rotation."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tag_tools import cbor_codec, cose, crypto, pki
from tag_tools.errors import RecordFormatError, TrustError
from tag_tools.trustlist import (
    RevocationReason,
    RevokedSigner,
    SignerRevocations,
    TrustStore,
    build_signer_revocations,
    check_succession,
    check_trust_list_follows,
    parse_trust_list,
)
from tests.testkit import TestPki


def new_signer(
    p: TestPki, issued: datetime, valid_days: int = 90, algorithm: crypto.Algorithm = crypto.Algorithm.EDDSA
) -> tuple[crypto.PrivateKey, x509.Certificate]:
    key = crypto.generate_private_key(algorithm)
    return key, pki.issue_list_signer_certificate(key.public_key(), "Rotated", p.root_certificate, p.root_key, issued, valid_days)


def revocation_of(p: TestPki, certificate: x509.Certificate, when: datetime, sequence: int = 1) -> SignerRevocations:
    revoked = (RevokedSigner(pki.kid_of(certificate), when.replace(microsecond=0), RevocationReason.KEY_COMPROMISE),)
    return build_signer_revocations(revoked, sequence, when, p.root_certificate, p.root_key)


def test_signer_certificate_is_limited_and_short_lived(test_pki: TestPki, now: datetime) -> None:
    cert = test_pki.signer_certificate
    pki.check_list_signer(cert, test_pki.root_certificate, now)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [pki.OID_LIST_SIGNING]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=90, minutes=5)
    with pytest.raises(TrustError, match="not limited to signing tag records"):
        pki.check_centre_certificate(cert, test_pki.root_certificate)  # a signer cannot sign tag records


def test_signed_list_carries_x5chain_and_verifies_with_only_the_root(test_pki: TestPki, now: datetime) -> None:
    blob = test_pki.signed_trust_list(sequence=5)
    envelope = cose.parse_sign1(blob, max_size=1 << 20, allow_x5chain=True)
    assert envelope.x5chain == (pki.certificate_to_der(test_pki.signer_certificate),)
    parsed = parse_trust_list(blob, test_pki.root_certificate, now=now)
    assert parsed.sequence == 5 and parsed.signed_by == test_pki.signer_certificate
    assert parsed.status_signers(now) == (test_pki.signer_certificate,)
    store = TrustStore.load(test_pki.root_certificate, blob, now=now)
    assert store.problem is None and pki.kid_of(test_pki.centre_certificate) in store.signers


def test_tag_records_still_refuse_x5chain(test_pki: TestPki) -> None:
    blob = test_pki.signed_trust_list()
    with pytest.raises(RecordFormatError, match="exactly alg"):
        cose.parse_sign1(blob, max_size=1 << 20)  # the default profile, used for tag records


def test_root_signed_list_is_still_accepted(test_pki: TestPki, now: datetime) -> None:
    parsed = parse_trust_list(test_pki.trust_list_bytes, test_pki.root_certificate, now=now)
    assert parsed.signed_by is None and parsed.sequence == 1


def test_expired_signer_is_refused(test_pki: TestPki, now: datetime) -> None:
    key, old = new_signer(test_pki, now - timedelta(days=100), valid_days=30)
    with pytest.raises(TrustError, match="not at"):
        pki.check_list_signer(old, test_pki.root_certificate, now)
    # Signed while valid, checked now: refused at `now`, and a list may never outlive its signer.
    issued = now - timedelta(days=90)
    blob = test_pki.signed_trust_list(key=key, certificate=old, issued_at=issued, expires_at=issued + timedelta(days=5))
    with pytest.raises(TrustError, match="not at"):
        parse_trust_list(blob, test_pki.root_certificate, now=now)
    with pytest.raises(TrustError, match="outlive"):
        test_pki.signed_trust_list(key=key, certificate=old, issued_at=issued, expires_at=issued + timedelta(days=60))


def test_wrong_usage_cannot_sign_lists(test_pki: TestPki, now: datetime) -> None:
    # A centre key (record-signing EKU) putting its certificate in x5chain is refused.
    payload = cbor_codec.encode({1: 2})
    forged = cose.sign1(
        payload,
        test_pki.centre_key,
        pki.kid_of(test_pki.centre_certificate),
        (pki.certificate_to_der(test_pki.centre_certificate),),
    )
    with pytest.raises(TrustError, match="not a list signer"):
        parse_trust_list(forged, test_pki.root_certificate, now=now)


def test_signer_of_another_root_is_refused(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)
    blob = stranger.signed_trust_list()
    with pytest.raises(TrustError, match="not issued by the bureau root"):
        parse_trust_list(blob, test_pki.root_certificate, now=now)


def test_x5chain_kid_mismatch_and_tampering_are_refused(test_pki: TestPki, now: datetime) -> None:
    _, other = new_signer(test_pki, now - timedelta(days=1))
    payload = cbor_codec.encode({1: 2})
    mismatched = cose.sign1(
        payload, test_pki.signer_key, pki.kid_of(test_pki.signer_certificate), (pki.certificate_to_der(other),)
    )
    with pytest.raises(TrustError, match="kid does not name"):
        parse_trust_list(mismatched, test_pki.root_certificate, now=now)
    blob = bytearray(test_pki.signed_trust_list())
    blob[-70] ^= 1
    with pytest.raises(TrustError):
        parse_trust_list(bytes(blob), test_pki.root_certificate, now=now)


def test_revoked_signer_is_refused(test_pki: TestPki, now: datetime) -> None:
    key, stolen = new_signer(test_pki, now - timedelta(days=2))
    revocations = revocation_of(test_pki, stolen, now - timedelta(hours=2))
    # The stolen key cannot sign a list that carries its own root-signed revocation...
    with pytest.raises(TrustError, match="revoked"):
        test_pki.signed_trust_list(key=key, certificate=stolen, signer_revocations=revocations)
    # ...and a station that has seen the revocation refuses its later lists, whatever their sequence.
    held = parse_trust_list(
        test_pki.signed_trust_list(sequence=10, signer_revocations=revocations), test_pki.root_certificate, now=now
    )
    forged = parse_trust_list(
        test_pki.signed_trust_list(sequence=99, key=key, certificate=stolen), test_pki.root_certificate, now=now
    )
    with pytest.raises(TrustError, match="revoked in the list held"):
        check_succession(held, forged)
    # A root-signed list revoking the signer by its ordinary revoked entries counts too.
    from tag_tools.trustlist import build_trust_list

    root_signed = build_trust_list(
        test_pki.trust_list(sequence=11, revoked=revocations.revoked), test_pki.root_certificate, test_pki.root_key
    )
    assert pki.kid_of(stolen) in parse_trust_list(root_signed, test_pki.root_certificate).revoked_list_signers()


def test_a_stolen_signer_cannot_revoke_its_successor(test_pki: TestPki, now: datetime) -> None:
    key, stolen = new_signer(test_pki, now - timedelta(days=2))
    fake = RevokedSigner(pki.kid_of(test_pki.signer_certificate), now.replace(microsecond=0), RevocationReason.KEY_COMPROMISE)
    held = parse_trust_list(
        test_pki.signed_trust_list(sequence=3, key=key, certificate=stolen, revoked=(fake,)), test_pki.root_certificate
    )
    genuine = parse_trust_list(test_pki.signed_trust_list(sequence=4), test_pki.root_certificate)
    check_succession(held, genuine)  # a signer's own revoked entries do not revoke list signers


def test_rotation_old_and_new_signers_both_work_until_revoked(test_pki: TestPki, now: datetime) -> None:
    new_key, new_cert = new_signer(test_pki, now - timedelta(hours=3))
    old = parse_trust_list(
        test_pki.signed_trust_list(sequence=20, signers=(test_pki.signer_certificate, new_cert)),
        test_pki.root_certificate,
        now=now,
    )
    assert set(old.status_signers(now)) == {test_pki.signer_certificate, new_cert}  # status lists from either
    rotated = parse_trust_list(
        test_pki.signed_trust_list(sequence=21, key=new_key, certificate=new_cert, signers=(new_cert,)),
        test_pki.root_certificate,
        now=now,
    )
    check_succession(old, rotated)
    # The old signer keeps working until it expires or is revoked.
    later = parse_trust_list(test_pki.signed_trust_list(sequence=22), test_pki.root_certificate, now=now)
    check_succession(rotated, later)
    assert test_pki.signer_certificate not in later.status_signers(
        test_pki.signer_certificate.not_valid_after_utc + timedelta(seconds=1)
    )


def test_compromise_sequence_inflation_is_undone_by_the_revocation(test_pki: TestPki, now: datetime) -> None:
    key, stolen = new_signer(test_pki, now - timedelta(days=2))
    inflated = parse_trust_list(
        test_pki.signed_trust_list(sequence=2**40, key=key, certificate=stolen), test_pki.root_certificate
    )
    revocations = revocation_of(test_pki, stolen, now - timedelta(hours=1))
    recovery = parse_trust_list(
        test_pki.signed_trust_list(sequence=30, signer_revocations=revocations), test_pki.root_certificate
    )
    check_succession(inflated, recovery)  # lower sequence, but it revokes the signer of the held list
    honest_lower = parse_trust_list(test_pki.signed_trust_list(sequence=29), test_pki.root_certificate)
    with pytest.raises(TrustError, match="rollback"):
        check_succession(recovery, honest_lower)


def test_signer_revocations_never_go_back(test_pki: TestPki, now: datetime) -> None:
    _, first = new_signer(test_pki, now - timedelta(days=2))
    newer = revocation_of(test_pki, first, now - timedelta(hours=1), sequence=2)
    older = build_signer_revocations((), 1, now - timedelta(days=1), test_pki.root_certificate, test_pki.root_key)
    held = parse_trust_list(test_pki.signed_trust_list(sequence=5, signer_revocations=newer), test_pki.root_certificate)
    replay = parse_trust_list(test_pki.signed_trust_list(sequence=6, signer_revocations=older), test_pki.root_certificate)
    with pytest.raises(TrustError, match="older signer revocations"):
        check_succession(held, replay)
    with pytest.raises(TrustError, match="signer revocations would go back"):
        check_trust_list_follows(held, replay)


def test_signer_revocations_must_be_root_signed(test_pki: TestPki, now: datetime) -> None:
    from tag_tools.trustlist import parse_signer_revocations

    forged = cose.sign1(cbor_codec.encode({1: 1, 2: 9, 3: 0, 4: []}), test_pki.signer_key, pki.kid_of(test_pki.root_certificate))
    with pytest.raises(TrustError, match="not authentic"):
        parse_signer_revocations(forged, test_pki.root_certificate)


def test_signer_never_drops_a_centre_revocation(test_pki: TestPki, now: datetime) -> None:
    revoked = (RevokedSigner(pki.kid_of(test_pki.centre_certificate), now.replace(microsecond=0), RevocationReason.MISCONDUCT),)
    before = parse_trust_list(test_pki.signed_trust_list(sequence=5, revoked=revoked), test_pki.root_certificate)
    after = parse_trust_list(test_pki.signed_trust_list(sequence=6), test_pki.root_certificate)
    with pytest.raises(TrustError, match="drops the revocation"):
        check_trust_list_follows(before, after)
    with pytest.raises(TrustError, match="does not follow"):
        check_trust_list_follows(before, before)


def test_es256_signer(test_pki: TestPki, now: datetime) -> None:
    key, cert = new_signer(test_pki, now - timedelta(days=1), algorithm=crypto.Algorithm.ES256)
    parsed = parse_trust_list(test_pki.signed_trust_list(key=key, certificate=cert), test_pki.root_certificate, now=now)
    assert parsed.signed_by == cert


def test_signed_lists_conform_to_the_schema(tmp_path: Path, test_pki: TestPki, now: datetime) -> None:
    from tests.tag_tools.test_cddl import zcbor_validate

    _, other = new_signer(test_pki, now - timedelta(days=1))
    revocations = revocation_of(test_pki, other, now - timedelta(hours=1))
    for blob in (test_pki.signed_trust_list(signer_revocations=revocations), test_pki.trust_list_bytes):
        result = zcbor_validate(tmp_path, "trust-list.cddl", "trust-list", blob)
        assert result.returncode == 0, result.stderr[-2000:]
    mangled = cbor_codec.encode({1: 2, 2: 1})  # a v2 body missing its keys fails: the validator is not a no-op
    result = zcbor_validate(tmp_path, "trust-list.cddl", "trust-list", cose.sign1(mangled, test_pki.signer_key, b"\0" * 8))
    assert result.returncode != 0


def test_cli_issue_revoke_and_rotate_a_signer(tmp_path: Path, now: datetime) -> None:
    from cryptography.hazmat.primitives import serialization

    from tag_tools.ca_store import CaStore
    from tag_tools.cli.main import main as cylinder_tag
    from tag_tools.keys import write_private_key

    ca = tmp_path / "ca"
    CaStore(ca).init("Test root", b"root pass", now - timedelta(days=1), 3650)
    (tmp_path / "root.pass").write_text("root pass")
    (tmp_path / "signer.pass").write_text("signer pass")
    at = ["--now", now.isoformat()]
    certs = []
    for name in ("first", "second"):
        key = crypto.generate_private_key()
        write_private_key(tmp_path / f"{name}.pem", key, b"signer pass")
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        (tmp_path / f"{name}.pub.pem").write_bytes(pem)
        assert cylinder_tag(["ca", "issue-signer", "--dir", str(ca), "--public-key", str(tmp_path / f"{name}.pub.pem"), "--name", name,
                             "--out", str(tmp_path / f"{name}-cert.pem"), "--passphrase-file", str(tmp_path / "root.pass"), *at]) == 0  # fmt: skip
        certs.append(pki.load_certificate((tmp_path / f"{name}-cert.pem").read_bytes()))
    root = CaStore(ca).root_certificate()

    def build(signer: str) -> int:
        return cylinder_tag(["trustlist", "build", "--dir", str(ca), "--out", str(tmp_path / "list.cose"),
                             "--signer-key", str(tmp_path / f"{signer}.pem"), "--signer-cert", str(tmp_path / f"{signer}-cert.pem"),
                             "--passphrase-file", str(tmp_path / "signer.pass"), *at])  # fmt: skip

    assert build("first") == 0
    first = parse_trust_list((tmp_path / "list.cose").read_bytes(), root, now=now)
    assert first.signed_by == certs[0] and set(first.signers) == set(certs)
    assert cylinder_tag(["ca", "revoke-signer", "--dir", str(ca), "--cert", str(tmp_path / "first-cert.pem"),
                         "--reason", "key-compromise", "--passphrase-file", str(tmp_path / "root.pass"), *at]) == 0  # fmt: skip
    assert build("first") == 5  # the revoked signer cannot sign the list that carries its revocation (trust error)
    assert build("second") == 0
    rotated = parse_trust_list((tmp_path / "list.cose").read_bytes(), root, now=now)
    assert rotated.signed_by == certs[1] and rotated.signers == (certs[1],)
    assert pki.kid_of(certs[0]) in rotated.revoked_list_signers() and rotated.sequence > first.sequence
    check_succession(first, rotated)
