"""The bureau's certificate profile (schemas/trust-list.md, "Certificates"), one test per clause.

Each test builds a certificate that breaks one clause and nothing else (the builder's defaults meet
the profile: `test_the_builder_meets_the_profile`), and asserts the refusal names that clause. The
verification tests show what a station does with such a certificate: every record is refused with
`trust_list_not_authentic`, where the old checks let a TLS-server-like key sign cylinder records.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from tag_tools import cbor_codec, cert_profile, cose, crypto, pki, spec_example
from tag_tools.cert_profile import Clause, ProfileError
from tag_tools.errors import InputError, TrustError
from tag_tools.record import sign_record
from tag_tools.trustlist import TrustList, TrustStore, build_trust_list, parse_trust_list
from tag_tools.verdict import Decision, Reason
from tag_tools.verify import verify_tag
from tests.testkit import TestPki, typical_record

REC, LIST = pki.OID_TAG_RECORD_SIGNING, pki.OID_LIST_SIGNING
BC, KU, EKU = ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE
SKI, AKI, REGION = ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER, pki.OID_CENTRE_REGION
CENTRE_SUBJECT = [
    (NameOID.COUNTRY_NAME, "CN"),
    (NameOID.ORGANIZATION_NAME, "Rogue inspection centre"),
    (NameOID.SERIAL_NUMBER, "ZZTJ01"),
    (NameOID.COMMON_NAME, "ZZTJ01 tag record signer"),
]
Extensions = dict[x509.ObjectIdentifier, tuple[x509.ExtensionType, bool]]


def key_usage(*bits: str) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: name in bits for name in names})


def leaf_extensions(p: TestPki, key: Any, purpose: x509.ObjectIdentifier = REC) -> Extensions:
    extensions: Extensions = {
        BC: (x509.BasicConstraints(ca=False, path_length=None), True),
        KU: (key_usage("digital_signature"), True),
        EKU: (x509.ExtendedKeyUsage([purpose]), True),
        SKI: (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        AKI: (x509.AuthorityKeyIdentifier.from_issuer_public_key(p.root_key.public_key()), False),
    }
    if purpose == REC:
        extensions[REGION] = (x509.UnrecognizedExtension(REGION, b"\x0c\x06410105"), False)
    return extensions


def build(
    p: TestPki,
    change: Extensions | None = None,
    drop: tuple[x509.ObjectIdentifier, ...] = (),
    *,
    purpose: x509.ObjectIdentifier = REC,
    subject: list[tuple[x509.ObjectIdentifier, str]] | None = None,
    key: Any = None,
    signer: Any = None,
    issuer: x509.Name | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[Any, x509.Certificate]:
    """A leaf the root issues (a centre's, or a list signer's with purpose=LIST), changed as asked."""
    key = key or crypto.generate_private_key()
    extensions = {**leaf_extensions(p, key, purpose), **(change or {})}
    if subject is None:
        subject = CENTRE_SUBJECT if purpose == REC else [(NameOID.COMMON_NAME, "Rogue list signer")]
    signer = signer or p.root_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oid, value) for oid, value in subject]))
        .issuer_name(issuer or p.root_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or p.now - timedelta(days=100))
        .not_valid_after(not_after or p.now + timedelta(days=100))
    )
    for oid, (value, critical) in extensions.items():
        if oid not in drop:
            builder = builder.add_extension(value, critical=critical)
    hash_ = None if isinstance(signer, type(p.root_key)) else hashes.SHA256()
    return key, builder.sign(signer, hash_)


def build_root(
    change: Extensions | None = None,
    drop: tuple[x509.ObjectIdentifier, ...] = (),
    *,
    key: Any = None,
    not_before: datetime,
    not_after: datetime,
) -> tuple[Any, x509.Certificate]:
    key = key or crypto.generate_private_key()
    extensions: Extensions = {
        BC: (x509.BasicConstraints(ca=True, path_length=0), True),
        KU: (key_usage("key_cert_sign", "crl_sign"), True),
        SKI: (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        **(change or {}),
    }
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hand-made root")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for oid, (value, critical) in extensions.items():
        if oid not in drop:
            builder = builder.add_extension(value, critical=critical)
    return key, builder.sign(key, None if crypto.algorithm_of(key) is crypto.Algorithm.EDDSA else hashes.SHA256())


def refused(clause: Clause, check: Any, *args: Any) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        check(*args)
    assert caught.value.clause is clause, caught.value
    assert isinstance(caught.value, TrustError)
    return caught.value


def centre_refused(p: TestPki, clause: Clause, certificate: x509.Certificate) -> None:
    refused(clause, pki.check_centre_certificate, certificate, p.root_certificate)


# --- what the project's own tools make meets the profile --------------------------------------------


def test_the_project_certificates_meet_the_profile(test_pki: TestPki, now: datetime) -> None:
    cert_profile.check_root(test_pki.root_certificate, now)
    cert_profile.check_centre_certificate(test_pki.centre_certificate, test_pki.root_certificate, now)
    cert_profile.check_list_signer(test_pki.signer_certificate, test_pki.root_certificate, now)
    es = TestPki.create(now, algorithm=crypto.Algorithm.ES256)
    cert_profile.check_centre_certificate(es.centre_certificate, es.root_certificate, now)
    example = spec_example.build_example()
    cert_profile.check_root(example.root_certificate)
    cert_profile.check_centre_certificate(example.centre_certificate, example.root_certificate)


def test_the_builder_meets_the_profile(test_pki: TestPki, now: datetime) -> None:
    # So that every refusal below is caused by the one change each test makes.
    cert_profile.check_centre_certificate(build(test_pki)[1], test_pki.root_certificate, now)
    cert_profile.check_list_signer(build(test_pki, purpose=LIST)[1], test_pki.root_certificate, now)
    cert_profile.check_root(build_root(not_before=now - timedelta(days=1), not_after=now + timedelta(days=1))[1], now)


# --- version, issuer, algorithms ---------------------------------------------------------------------


def _der_elements(der: bytes) -> list[bytes]:
    """The TLVs inside one DER SEQUENCE (definite lengths only: all DER is)."""

    def length_at(data: bytes, i: int) -> tuple[int, int]:
        first = data[i]
        if first < 0x80:
            return first, i + 1
        count = first & 0x7F
        return int.from_bytes(data[i + 1 : i + 1 + count], "big"), i + 1 + count

    _, i = length_at(der, 1)
    elements = []
    while i < len(der):
        length, body = length_at(der, i + 1)
        elements.append(der[i : body + length])
        i = body + length
    return elements


def _der_sequence(elements: list[bytes], tag: int = 0x30) -> bytes:
    body = b"".join(elements)
    size = len(body)
    length = (
        bytes([size])
        if size < 0x80
        else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + size.to_bytes((size.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + body


def test_version_must_be_3(test_pki: TestPki) -> None:
    # A v1 certificate (no version field, no extensions), correctly signed by the root.
    _, good = build(test_pki)
    tbs, algorithm, _ = _der_elements(pki.certificate_to_der(good))
    v1_tbs = _der_sequence([e for e in _der_elements(tbs) if e[0] not in (0xA0, 0xA3)])
    assert isinstance(test_pki.root_key, ed25519.Ed25519PrivateKey)  # the profile's root key type
    signature = test_pki.root_key.sign(v1_tbs)
    v1 = pki.load_certificate(_der_sequence([v1_tbs, algorithm, _der_sequence([b"\x00" + signature], tag=0x03)]))
    assert v1.version is x509.Version.v1
    centre_refused(test_pki, Clause.VERSION, v1)


def test_issuer_must_be_the_pinned_root(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)  # another root of the same name: the signature does not verify
    centre_refused(test_pki, Clause.ISSUER, stranger.centre_certificate)
    other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another bureau")])
    centre_refused(test_pki, Clause.ISSUER, build(test_pki, issuer=other_name)[1])


def test_signature_algorithm_must_be_the_roots(test_pki: TestPki) -> None:
    # Claims the root as issuer but is ECDSA-signed: refused before any signature check.
    _, certificate = build(test_pki, signer=ec.generate_private_key(ec.SECP256R1()))
    centre_refused(test_pki, Clause.SIGNATURE_ALGORITHM, certificate)


@pytest.mark.parametrize(
    "make_key",
    [lambda: ec.generate_private_key(ec.SECP384R1()), lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024)],
    ids=["p384", "rsa"],
)
def test_key_type_must_be_ed25519_or_p256(test_pki: TestPki, make_key: Callable[[], object]) -> None:
    centre_refused(test_pki, Clause.KEY_TYPE, build(test_pki, key=make_key())[1])


def test_root_must_be_ed25519(now: datetime) -> None:
    _, p256_root = build_root(key=ec.generate_private_key(ec.SECP256R1()), not_before=now, not_after=now + timedelta(days=1))
    refused(Clause.KEY_TYPE, cert_profile.check_root, p256_root)


# --- validity: of the leaf and of the pinned root ---------------------------------------------------


def test_leaf_validity_at_now(test_pki: TestPki, now: datetime) -> None:
    _, expired = build(test_pki, purpose=LIST, not_before=now - timedelta(days=100), not_after=now - timedelta(days=1))
    cert_profile.check_list_signer(expired, test_pki.root_certificate)  # without a time: its profile only
    error = refused(Clause.VALIDITY, cert_profile.check_list_signer, expired, test_pki.root_certificate, now)
    assert "not at" in str(error)


def test_leaf_validity_must_lie_within_the_roots(test_pki: TestPki) -> None:
    beyond = test_pki.root_certificate.not_valid_after_utc + timedelta(days=1)
    centre_refused(test_pki, Clause.VALIDITY, build(test_pki, not_after=beyond)[1])


def test_root_validity_is_checked(now: datetime) -> None:
    _, old = build_root(not_before=now - timedelta(days=100), not_after=now - timedelta(days=10))
    cert_profile.check_root(old)
    refused(Clause.VALIDITY, cert_profile.check_root, old, now)
    refused(Clause.VALIDITY, pki.check_root, old, now)


def _expired_root_world(now: datetime) -> tuple[TestPki, bytes, bytes]:
    """A root valid until ten days ago, a centre it certified, a record signed while both were
    valid, and a root-signed trust list issued an hour ago (made by hand: the CA refuses to)."""
    root_key = crypto.generate_private_key()
    root = pki.create_root(root_key, "Expired bureau (test)", now - timedelta(days=100), valid_days=90)
    centre_key = crypto.generate_private_key()
    csr = pki.create_centre_csr(centre_key, "ZZTJ01", "410105", "Centre")
    centre = pki.issue_centre_certificate(csr, root, root_key, now - timedelta(days=99))
    p = TestPki(root_key, root, centre_key, centre, b"", now, root_key, root)
    with pytest.raises(TrustError):
        build_trust_list(TrustList(1, now - timedelta(hours=1), now + timedelta(days=7), (centre,)), root, root_key)
    message = sign_record(typical_record(b"\x04" * 7, now), centre_key, centre)
    return p, raw_trust_list(p, [centre]), message


def test_an_expired_pinned_root_refuses_every_record(now: datetime) -> None:
    p, trust_list, message = _expired_root_world(now)
    store = TrustStore.load(p.root_certificate, trust_list, timedelta(days=7))
    verdict = verify_tag(b"\x04" * 7, message, trust=store, now=now)
    assert verdict.decision is Decision.REFUSE and verdict.reasons == (Reason.TRUST_LIST_NOT_AUTHENTIC,)
    assert "pinned root" in verdict.detail
    # With a time, loading the list already refuses (what a station's sync does).
    assert TrustStore.load(p.root_certificate, trust_list, now=now).problem is Reason.TRUST_LIST_NOT_AUTHENTIC
    with pytest.raises(ProfileError):
        parse_trust_list(trust_list, p.root_certificate, now=now)


# --- basicConstraints --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, drop",
    [
        ({BC: (x509.BasicConstraints(ca=True, path_length=0), True)}, ()),
        ({BC: (x509.BasicConstraints(ca=False, path_length=None), False)}, ()),
        (None, (BC,)),
    ],
    ids=["ca", "not-critical", "missing"],
)
def test_leaf_basic_constraints(test_pki: TestPki, change: Extensions | None, drop: tuple[x509.ObjectIdentifier, ...]) -> None:
    centre_refused(test_pki, Clause.BASIC_CONSTRAINTS, build(test_pki, change, drop)[1])


@pytest.mark.parametrize(
    "constraints",
    [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.BasicConstraints(ca=True, path_length=1), True),
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.BasicConstraints(ca=True, path_length=0), False),
    ],
    ids=["not-ca", "path-1", "no-path-limit", "not-critical"],
)
def test_root_basic_constraints(now: datetime, constraints: tuple[x509.BasicConstraints, bool]) -> None:
    _, root = build_root({BC: constraints}, not_before=now, not_after=now + timedelta(days=1))
    refused(Clause.BASIC_CONSTRAINTS, cert_profile.check_root, root)


# --- keyUsage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, drop",
    [
        ({KU: (key_usage("key_encipherment"), True)}, ()),
        ({KU: (key_usage("digital_signature", "key_cert_sign"), True)}, ()),
        ({KU: (key_usage("digital_signature", "content_commitment"), True)}, ()),
        ({KU: (key_usage("digital_signature"), False)}, ()),
        (None, (KU,)),
    ],
    ids=["key-encipherment", "plus-cert-sign", "plus-non-repudiation", "not-critical", "missing"],
)
def test_leaf_key_usage_is_exactly_digital_signature(
    test_pki: TestPki, now: datetime, change: Extensions | None, drop: tuple[x509.ObjectIdentifier, ...]
) -> None:
    centre_refused(test_pki, Clause.KEY_USAGE, build(test_pki, change, drop)[1])
    refused(
        Clause.KEY_USAGE,
        cert_profile.check_list_signer,
        build(test_pki, change, drop, purpose=LIST)[1],
        test_pki.root_certificate,
        now,
    )


@pytest.mark.parametrize(
    "usage",
    [
        (key_usage("key_cert_sign", "crl_sign", "digital_signature"), True),
        (key_usage("key_cert_sign"), True),
        (key_usage("key_cert_sign", "crl_sign"), False),
    ],
    ids=["plus-digital-signature", "no-crl-sign", "not-critical"],
)
def test_root_key_usage_is_exactly_cert_and_crl_sign(now: datetime, usage: tuple[x509.KeyUsage, bool]) -> None:
    _, root = build_root({KU: usage}, not_before=now, not_after=now + timedelta(days=1))
    refused(Clause.KEY_USAGE, cert_profile.check_root, root)


# --- extendedKeyUsage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "usages",
    [
        [REC, ExtendedKeyUsageOID.SERVER_AUTH],
        [REC, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
        [ExtendedKeyUsageOID.SERVER_AUTH],
        [REC, LIST],
        [LIST],
        [REC, REC],
    ],
    ids=["plus-server-auth", "plus-any", "server-auth", "plus-list-signing", "list-signing", "twice"],
)
def test_centre_extended_key_usage_is_exactly_record_signing(test_pki: TestPki, usages: list[x509.ObjectIdentifier]) -> None:
    centre_refused(test_pki, Clause.EXTENDED_KEY_USAGE, build(test_pki, {EKU: (x509.ExtendedKeyUsage(usages), True)})[1])


@pytest.mark.parametrize(
    "change, drop",
    [
        ({EKU: (x509.ExtendedKeyUsage([REC]), False)}, ()),
        (None, (EKU,)),
    ],
    ids=["not-critical", "missing"],
)
def test_centre_extended_key_usage_is_critical_and_present(
    test_pki: TestPki, change: Extensions | None, drop: tuple[x509.ObjectIdentifier, ...]
) -> None:
    centre_refused(test_pki, Clause.EXTENDED_KEY_USAGE, build(test_pki, change, drop)[1])


@pytest.mark.parametrize(
    "usages",
    [
        [LIST, ExtendedKeyUsageOID.SERVER_AUTH],
        [LIST, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
        [REC],
    ],
    ids=["plus-server-auth", "plus-any", "record-signing"],
)
def test_list_signer_extended_key_usage_is_exactly_list_signing(
    test_pki: TestPki, now: datetime, usages: list[x509.ObjectIdentifier]
) -> None:
    _, certificate = build(test_pki, {EKU: (x509.ExtendedKeyUsage(usages), True)}, purpose=LIST)
    refused(Clause.EXTENDED_KEY_USAGE, cert_profile.check_list_signer, certificate, test_pki.root_certificate, now)


def test_root_carries_no_extended_key_usage(now: datetime) -> None:
    _, root = build_root({EKU: (x509.ExtendedKeyUsage([REC]), False)}, not_before=now, not_after=now + timedelta(days=1))
    refused(Clause.EXTENDED_KEY_USAGE, cert_profile.check_root, root)


# --- criticality: unknown critical extensions; key identifiers ---------------------------------------


@pytest.mark.parametrize(
    "extension",
    [
        x509.UnrecognizedExtension(x509.ObjectIdentifier("2.25.1"), b"\x05\x00"),
        x509.SubjectAlternativeName([x509.DNSName("pump.example.org")]),
    ],
    ids=["private", "subject-alt-name"],
)
def test_unknown_critical_extensions_are_refused(test_pki: TestPki, now: datetime, extension: x509.ExtensionType) -> None:
    centre_refused(test_pki, Clause.CRITICAL_EXTENSION, build(test_pki, {extension.oid: (extension, True)})[1])
    # Not critical, the same extension is ignored (RFC 5280 4.2).
    cert_profile.check_centre_certificate(build(test_pki, {extension.oid: (extension, False)})[1], test_pki.root_certificate)
    _, root = build_root({extension.oid: (extension, True)}, not_before=now, not_after=now + timedelta(days=1))
    refused(Clause.CRITICAL_EXTENSION, cert_profile.check_root, root)


def test_key_identifiers(test_pki: TestPki) -> None:
    stranger_key = crypto.generate_private_key()
    centre_refused(test_pki, Clause.KEY_IDENTIFIERS, build(test_pki, drop=(SKI,))[1])
    centre_refused(test_pki, Clause.KEY_IDENTIFIERS, build(test_pki, drop=(AKI,))[1])
    wrong = x509.AuthorityKeyIdentifier.from_issuer_public_key(stranger_key.public_key())
    centre_refused(test_pki, Clause.KEY_IDENTIFIERS, build(test_pki, {AKI: (wrong, False)})[1])
    key = crypto.generate_private_key()
    critical_ski: Extensions = {SKI: (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), True)}
    centre_refused(test_pki, Clause.KEY_IDENTIFIERS, build(test_pki, critical_ski, key=key)[1])


def test_root_needs_a_subject_key_identifier(now: datetime) -> None:
    _, root = build_root(drop=(SKI,), not_before=now, not_after=now + timedelta(days=1))
    refused(Clause.KEY_IDENTIFIERS, cert_profile.check_root, root)


# --- subject and region ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        [(NameOID.ORGANIZATION_NAME, "Centre")],
        [(NameOID.ORGANIZATION_NAME, "Centre"), (NameOID.SERIAL_NUMBER, "A"), (NameOID.SERIAL_NUMBER, "B")],
        [(NameOID.ORGANIZATION_NAME, "Centre"), (NameOID.SERIAL_NUMBER, "Z" * 33)],
        [(NameOID.SERIAL_NUMBER, "ZZTJ01")],
    ],
    ids=["no-centre-id", "two-centre-ids", "centre-id-too-long", "no-organisation"],
)
def test_centre_subject(test_pki: TestPki, subject: list[tuple[x509.ObjectIdentifier, str]]) -> None:
    centre_refused(test_pki, Clause.SUBJECT, build(test_pki, subject=subject)[1])


def test_list_signer_subject(test_pki: TestPki, now: datetime) -> None:
    _, certificate = build(test_pki, purpose=LIST, subject=[(NameOID.COMMON_NAME, "pump.example.org")])
    refused(Clause.SUBJECT, cert_profile.check_list_signer, certificate, test_pki.root_certificate, now)


@pytest.mark.parametrize(
    "change, drop",
    [
        (None, (REGION,)),
        ({REGION: (x509.UnrecognizedExtension(REGION, b"\x0c\x06410105"), True)}, ()),
        ({REGION: (x509.UnrecognizedExtension(REGION, b"\x04\x06410105"), False)}, ()),
        ({REGION: (x509.UnrecognizedExtension(REGION, b"\x0c\x00"), False)}, ()),
    ],
    ids=["missing", "critical", "octet-string", "empty"],
)
def test_centre_region(test_pki: TestPki, change: Extensions | None, drop: tuple[x509.ObjectIdentifier, ...]) -> None:
    centre_refused(test_pki, Clause.CENTRE_REGION, build(test_pki, change, drop)[1])


# --- what a station does with such certificates -----------------------------------------------------


def raw_trust_list(p: TestPki, centres: list[x509.Certificate], signers: tuple[x509.Certificate, ...] = ()) -> bytes:
    """A root-signed trust list made by hand, without build_trust_list's checks (as an attacker or
    a buggy CA would)."""
    body: dict[int, object] = {
        1: 2 if signers else 1,
        2: 9,
        3: int((p.now - timedelta(hours=1)).timestamp()),
        4: int((p.now + timedelta(days=7)).timestamp()),
        5: [pki.certificate_to_der(c) for c in centres],
        6: [],
    }
    if signers:
        body[7] = [pki.certificate_to_der(c) for c in signers]
    return cose.sign1(cbor_codec.encode(body), p.root_key, pki.kid_of(p.root_certificate))


@pytest.mark.parametrize(
    "change",
    [
        {KU: (key_usage("key_encipherment", "digital_signature"), True)},
        {EKU: (x509.ExtendedKeyUsage([REC, ExtendedKeyUsageOID.SERVER_AUTH]), True)},
        {EKU: (x509.ExtendedKeyUsage([REC, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]), True)},
    ],
    ids=["tls-key-usage", "server-auth", "any-extended-key-usage"],
)
def test_a_tls_like_certificate_cannot_sign_records(test_pki: TestPki, now: datetime, change: Extensions) -> None:
    key, certificate = build(test_pki, change)
    message = sign_record(typical_record(b"\x04" * 7, now), key, certificate)
    store = TrustStore.load(test_pki.root_certificate, raw_trust_list(test_pki, [certificate]))
    verdict = verify_tag(b"\x04" * 7, message, trust=store, now=now)
    assert verdict.reasons == (Reason.TRUST_LIST_NOT_AUTHENTIC,), verdict
    with pytest.raises(TrustError):  # and the CA's own list builder refuses to list it
        build_trust_list(TrustList(2, now, now + timedelta(days=1), (certificate,)), test_pki.root_certificate, test_pki.root_key)


def test_a_list_signer_with_server_auth_is_not_listed(test_pki: TestPki, now: datetime) -> None:
    _, rogue = build(test_pki, {EKU: (x509.ExtendedKeyUsage([LIST, ExtendedKeyUsageOID.SERVER_AUTH]), True)}, purpose=LIST)
    blob = raw_trust_list(test_pki, [test_pki.centre_certificate], (rogue,))
    with pytest.raises(ProfileError) as caught:
        parse_trust_list(blob, test_pki.root_certificate, now=now)
    assert caught.value.clause is Clause.EXTENDED_KEY_USAGE


def test_the_ca_never_issues_outside_the_profile(now: datetime) -> None:
    with pytest.raises(InputError, match="key_type"):
        pki.create_root(ec.generate_private_key(ec.SECP256R1()), "P-256 root", now)
