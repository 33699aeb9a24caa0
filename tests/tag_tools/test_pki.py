from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tag_tools import crypto, pki
from tag_tools.errors import InputError, TrustError
from tests.testkit import TestPki


def test_centre_certificate_carries_identity_and_limited_usage(test_pki: TestPki) -> None:
    cert = test_pki.centre_certificate
    identity = pki.check_centre_certificate(cert, test_pki.root_certificate)
    assert (identity.centre_id, identity.region) == ("ZZTJ01", "410105")
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [pki.OID_TAG_RECORD_SIGNING]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and not key_usage.key_cert_sign


def test_root_is_a_self_signed_ca(test_pki: TestPki, now: datetime) -> None:
    pki.check_root(test_pki.root_certificate, now)
    with pytest.raises(TrustError):
        pki.check_root(test_pki.centre_certificate)


def test_certificate_from_another_root_does_not_chain(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)
    with pytest.raises(TrustError, match="not issued by the bureau root"):
        pki.check_centre_certificate(stranger.centre_certificate, test_pki.root_certificate)


def test_root_certificate_is_not_a_record_signer(test_pki: TestPki) -> None:
    with pytest.raises(TrustError):
        pki.check_centre_certificate(test_pki.root_certificate, test_pki.root_certificate)


def test_kid_is_sha256_prefix_of_der(test_pki: TestPki) -> None:
    import hashlib

    der = pki.certificate_to_der(test_pki.centre_certificate)
    assert pki.kid_of(test_pki.centre_certificate) == hashlib.sha256(der).digest()[:8]


def test_csr_needs_identity() -> None:
    key = crypto.generate_private_key()
    with pytest.raises(InputError):
        pki.create_centre_csr(key, "", "410105", "x")


def test_certificate_validity_is_capped_by_the_root(test_pki: TestPki, now: datetime) -> None:
    key = crypto.generate_private_key()
    csr = pki.create_centre_csr(key, "C2", "410102", "Centre 2")
    cert = pki.issue_centre_certificate(csr, test_pki.root_certificate, test_pki.root_key, now, valid_days=100 * 365)
    assert cert.not_valid_after_utc <= test_pki.root_certificate.not_valid_after_utc
    assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - timedelta(days=365)


def test_rsa_keys_are_refused(test_pki: TestPki, now: datetime) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "C3")]))
        .add_extension(x509.UnrecognizedExtension(pki.OID_CENTRE_REGION, b"\x0c\x02ab"), critical=False)
        .sign(rsa_key, hashes.SHA256())
    )
    with pytest.raises(Exception, match="unsupported key type"):
        pki.issue_centre_certificate(csr, test_pki.root_certificate, test_pki.root_key, now)


def test_load_certificate_refuses_garbage() -> None:
    with pytest.raises(TrustError):
        pki.load_certificate(b"not a certificate")
