"""The bureau's X.509 hierarchy: a root CA that certifies inspection centres' record-signing keys
and the list signer's key.

Two levels only. The root is pinned at every station; centre certificates reach stations inside the
signed trust list. A centre certificate carries the centre's ID (subject serialNumber) and region
(a private extension), may only sign tag records (critical extended key usage) and is not a CA.

A list-signer certificate lets the root stay offline: its key signs the weekly trust list and the
status lists, nothing else (its own critical extended key usage), for a short time (90 days by
default), so a stolen signer key is worth little and is replaced without touching the root.

What a certificate must be is tag_tools.cert_profile's alone: the check_* functions here delegate to
it, and every issuing function runs it on what it made, so the CA never issues a certificate that
stations would refuse.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tag_tools import cert_profile, crypto
from tag_tools.cert_profile import OID_CENTRE_REGION as OID_CENTRE_REGION
from tag_tools.cert_profile import OID_LIST_SIGNING as OID_LIST_SIGNING
from tag_tools.cert_profile import OID_TAG_RECORD_SIGNING as OID_TAG_RECORD_SIGNING
from tag_tools.errors import InputError, TrustError

DEFAULT_SIGNER_VALID_DAYS = 90


def kid_of(certificate: x509.Certificate) -> bytes:
    """COSE kid: the first 8 bytes of SHA-256 over the certificate's DER encoding."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def certificate_to_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_to_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def load_certificate(data: bytes) -> x509.Certificate:
    """PEM or DER; TrustError for anything else."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise TrustError(f"not an X.509 certificate: {error}") from error


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError as error:
        raise InputError(f"not a PEM certificate signing request: {error}") from error


def _utf8_string_der(text: str) -> bytes:
    """DER of an ASN.1 UTF8String (short form length: region codes are short)."""
    raw = text.encode("utf-8")
    if len(raw) > 127:
        raise InputError("region code is longer than 127 bytes")
    return bytes([0x0C, len(raw)]) + raw


def create_root(
    key: crypto.PrivateKey, name: str, now: datetime, valid_days: int = 20 * 365, serial: int | None = None
) -> x509.Certificate:
    """The bureau's self-signed root. It signs only certificates and trust lists.

    `serial` is random unless given (only the specification's reproducible example gives one).
    """
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public_key = key.public_key()
    root = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, _hash_for(key))
    )
    _meets_profile(cert_profile.check_root, root)
    return root


def create_centre_csr(key: crypto.PrivateKey, centre_id: str, region: str, name: str) -> x509.CertificateSigningRequest:
    """What a centre sends the bureau: its public key, ID, region and name, signed by its key."""
    if not centre_id or not region:
        raise InputError("a centre needs an ID and a region")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name or centre_id),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, centre_id),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{centre_id} tag record signer"),
        ]
    )
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.UnrecognizedExtension(OID_CENTRE_REGION, _utf8_string_der(region)), critical=False)
        .sign(key, _hash_for(key))
    )


def issue_centre_certificate(
    csr: x509.CertificateSigningRequest,
    root_certificate: x509.Certificate,
    root_key: crypto.PrivateKey,
    now: datetime,
    valid_days: int = 3 * 365,
    serial: int | None = None,
) -> x509.Certificate:
    """Certify a centre's key for signing tag records only, after checking its CSR."""
    if not csr.is_signature_valid:
        raise InputError("the CSR's signature does not verify: it was not made with the key it carries")
    public_key = csr.public_key()
    crypto.algorithm_of(public_key)  # type: ignore[arg-type]  # refuses RSA, other curves
    identity = _identity_from(csr.subject, csr.extensions)
    not_after = min(now + timedelta(days=valid_days), root_certificate.not_valid_after_utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(root_certificate.subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([OID_TAG_RECORD_SIGNING]), critical=True)
        .add_extension(x509.UnrecognizedExtension(OID_CENTRE_REGION, _utf8_string_der(identity.region)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(root_key, _hash_for(root_key))
    )
    _meets_profile(lambda c: cert_profile.check_centre_certificate(c, root_certificate), certificate)
    return certificate


def issue_list_signer_certificate(
    public_key: crypto.PublicKey,
    name: str,
    root_certificate: x509.Certificate,
    root_key: crypto.PrivateKey,
    now: datetime,
    valid_days: int = DEFAULT_SIGNER_VALID_DAYS,
    serial: int | None = None,
) -> x509.Certificate:
    """Certify the list signer's public key for signing trust and status lists only.

    The CA takes a public key rather than a CSR because an HSM-held key (PKCS#11) cannot sign a CSR
    through `cryptography`; the bureau exports the key with `cylinder-signer public-key` on the
    signer's machine and checks it there.
    """
    crypto.algorithm_of(public_key)
    if not name.strip():
        raise InputError("a list signer needs a name")
    if valid_days < 1:
        raise InputError("a list signer certificate must be valid for at least a day")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organisation_of(root_certificate)),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name.strip()} list signer"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_certificate.subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=valid_days), root_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([OID_LIST_SIGNING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(root_key, _hash_for(root_key))
    )
    _meets_profile(lambda c: cert_profile.check_list_signer(c, root_certificate), certificate)
    return certificate


def _organisation_of(root: x509.Certificate) -> str:
    names = root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "bureau"


def check_list_signer(certificate: x509.Certificate, root: x509.Certificate, now: datetime | None = None) -> None:
    """The whole list-signer profile (tag_tools.cert_profile): chain to the root, usage limited to
    signing lists, not a CA, an accepted key type and (when `now` is given) it and the root valid at
    `now`; TrustError otherwise. Revocation is the trust list's business (tag_tools.trustlist)."""
    cert_profile.check_list_signer(certificate, root, now)


@dataclass(frozen=True)
class CentreIdentity:
    centre_id: str
    region: str
    name: str


def centre_identity(certificate: x509.Certificate) -> CentreIdentity:
    return _identity_from(certificate.subject, certificate.extensions)


def _identity_from(subject: x509.Name, extensions: x509.Extensions) -> CentreIdentity:
    ids = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    names = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    try:
        region_ext = extensions.get_extension_for_oid(OID_CENTRE_REGION).value
    except x509.ExtensionNotFound:
        raise TrustError("certificate or CSR has no centre region extension") from None
    if len(ids) != 1 or not isinstance(region_ext, x509.UnrecognizedExtension):
        raise TrustError("certificate or CSR must name exactly one centre ID (subject serialNumber)")
    return CentreIdentity(
        centre_id=str(ids[0].value),
        region=cert_profile.region_from_der(region_ext.value),
        name=str(names[0].value) if names else "",
    )


def check_root(root: x509.Certificate, now: datetime | None = None) -> None:
    """The pinned root's profile (tag_tools.cert_profile): a self-signed Ed25519 CA limited to
    certifying, and (when `now` is given) valid at `now`; TrustError otherwise."""
    cert_profile.check_root(root, now)


def check_centre_certificate(certificate: x509.Certificate, root: x509.Certificate) -> CentreIdentity:
    """The whole centre profile (tag_tools.cert_profile), then the centre's identity; TrustError otherwise.

    Validity dates are not checked here: a certificate must have been valid when each record was
    issued, which verification checks against the record's issue time.
    """
    cert_profile.check_centre_certificate(certificate, root)
    return centre_identity(certificate)


def _meets_profile(check: Callable[[x509.Certificate], None], certificate: x509.Certificate) -> None:
    """The CA never hands out a certificate that stations would refuse (the way sign_record never
    writes a record they would refuse): an InputError names the clause the request broke."""
    try:
        check(certificate)
    except cert_profile.ProfileError as error:
        raise InputError(f"the certificate would not meet the bureau's profile: {error}") from error


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _hash_for(key: crypto.PrivateKey) -> hashes.SHA256 | None:
    """Ed25519 signs without a separate hash; ECDSA certificates use SHA-256."""
    return None if crypto.algorithm_of(key) is crypto.Algorithm.EDDSA else hashes.SHA256()
