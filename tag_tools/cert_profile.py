"""The bureau's certificate profile, enforced in one place: every clause schemas/trust-list.md states
for the pinned root, a centre's record-signing certificate and a list signer's certificate.

Why one module: a station trusts a key to sign cylinder records only because the root certified it
*for that purpose*. Checks spread over the code let a root-issued certificate with the wrong key
usage, or an extended key usage that adds serverAuth or anyExtendedKeyUsage, through; a TLS server's
key could then sign records. Here every clause is checked and a refusal names its clause
(`ProfileError.clause`), so each clause has its own test (tests/tag_tools/test_cert_profile.py).

Nothing here knows about trust lists or records; `pki` (issuing, reading identities) and `trustlist`
(what a station accepts) call these checks. Time is always a parameter.
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID

from tag_tools.errors import TrustError

# Private object identifiers under the UUID arc (ITU-T X.667: 2.25.<uuid>), which needs no
# registration and cannot collide with anyone else's.
OID_TAG_RECORD_SIGNING = x509.ObjectIdentifier("2.25.232526215414562755355315046480766802085")
OID_CENTRE_REGION = x509.ObjectIdentifier("2.25.240176512253767636955317448520047140784")
OID_LIST_SIGNING = x509.ObjectIdentifier("2.25.163624140434208582366137369726421194811")

MAX_CENTRE_ID = 32  # claim 16 of a record carries 1..32 characters: a longer ID could sign nothing
LIST_SIGNER_SUFFIX = " list signer"
_Extension = TypeVar("_Extension", bound=x509.ExtensionType)


class Clause(StrEnum):
    """The clause of the profile a certificate breaks (stable names: tests and logs use them)."""

    VERSION = "version"
    ISSUER = "issuer"
    SIGNATURE_ALGORITHM = "signature_algorithm"
    KEY_TYPE = "key_type"
    VALIDITY = "validity"
    EXTENSIONS = "extensions"
    BASIC_CONSTRAINTS = "basic_constraints"
    KEY_USAGE = "key_usage"
    EXTENDED_KEY_USAGE = "extended_key_usage"
    KEY_IDENTIFIERS = "key_identifiers"
    CRITICAL_EXTENSION = "critical_extension"
    SUBJECT = "subject"
    CENTRE_REGION = "centre_region"


class ProfileError(TrustError):
    """A certificate breaks the bureau's profile; `clause` says which part."""

    def __init__(self, clause: Clause, detail: str) -> None:
        super().__init__(f"{detail} [{clause.value}]")
        self.clause = clause
        self.detail = detail


# Extensions each kind of certificate may carry, with the criticality the profile requires.
# Anything else is refused when critical (RFC 5280 4.2: a critical extension the relying party does
# not understand must be refused) and ignored when not.
_ROOT_EXTENSIONS: Mapping[x509.ObjectIdentifier, bool] = {
    ExtensionOID.BASIC_CONSTRAINTS: True,
    ExtensionOID.KEY_USAGE: True,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: False,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: False,
}
_LEAF_EXTENSIONS: Mapping[x509.ObjectIdentifier, bool] = {
    ExtensionOID.BASIC_CONSTRAINTS: True,
    ExtensionOID.KEY_USAGE: True,
    ExtensionOID.EXTENDED_KEY_USAGE: True,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: False,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: False,
}
_CENTRE_EXTENSIONS: Mapping[x509.ObjectIdentifier, bool] = {**_LEAF_EXTENSIONS, OID_CENTRE_REGION: False}

_KEY_USAGE_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def check_root(root: x509.Certificate, now: datetime | None = None) -> None:
    """The pinned root: a v3, self-signed Ed25519 CA with path length 0, keyUsage exactly keyCertSign
    and cRLSign (critical), no extended key usage, a subject key identifier, no critical extension
    outside the profile, and (given `now`) valid at `now`. ProfileError otherwise."""
    _check_version(root, "root")
    if root.issuer != root.subject:
        raise ProfileError(Clause.ISSUER, "root certificate is not self-issued (issuer differs from subject)")
    public_key = root.public_key()
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise ProfileError(Clause.KEY_TYPE, f"root key is {type(public_key).__name__}: the profile requires Ed25519")
    if root.signature_algorithm_oid != SignatureAlgorithmOID.ED25519:
        raise ProfileError(Clause.SIGNATURE_ALGORITHM, "root certificate is not signed with Ed25519")
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as error:
        raise ProfileError(Clause.ISSUER, f"root certificate is not self-signed: {error or 'bad signature'}") from error
    extensions = _extensions(root, "root", _ROOT_EXTENSIONS)
    constraints = _required(extensions, x509.BasicConstraints, "root", Clause.BASIC_CONSTRAINTS)
    if not constraints.ca or constraints.path_length != 0:
        raise ProfileError(Clause.BASIC_CONSTRAINTS, "root certificate must be a CA with path length 0")
    _check_key_usage(_required(extensions, x509.KeyUsage, "root", Clause.KEY_USAGE), {"key_cert_sign", "crl_sign"}, "root")
    if ExtensionOID.EXTENDED_KEY_USAGE in _oids(extensions):
        raise ProfileError(Clause.EXTENDED_KEY_USAGE, "root certificate must not carry an extended key usage")
    subject_key_id = _required(extensions, x509.SubjectKeyIdentifier, "root", Clause.KEY_IDENTIFIERS)
    authority = _optional(extensions, x509.AuthorityKeyIdentifier)
    if authority is not None and authority.key_identifier != subject_key_id.digest:
        raise ProfileError(Clause.KEY_IDENTIFIERS, "root certificate's authority key identifier is not its own")
    if now is not None:
        check_valid_at(root, now, "root")


def check_centre_certificate(certificate: x509.Certificate, root: x509.Certificate, now: datetime | None = None) -> None:
    """A centre's record-signing certificate: the leaf clauses (`_check_leaf`) with extended key
    usage exactly record signing, subject serialNumber = centre ID (1..32 printable characters) and
    organisationName, and the non-critical region extension holding a DER UTF8String.

    Without `now`, no time is checked: a station checks that the certificate was valid when each
    record was issued (`signer_not_valid_at_issue`), not today."""
    extensions = _check_leaf(certificate, root, now, "centre", _CENTRE_EXTENSIONS, OID_TAG_RECORD_SIGNING)
    centre_ids = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(centre_ids) != 1:
        raise ProfileError(Clause.SUBJECT, "centre certificate must name exactly one centre ID (subject serialNumber)")
    centre_id = str(centre_ids[0].value)
    if not (1 <= len(centre_id) <= MAX_CENTRE_ID) or not centre_id.isprintable():
        raise ProfileError(Clause.SUBJECT, f"centre ID must be 1..{MAX_CENTRE_ID} printable characters")
    if len(certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)) != 1:
        raise ProfileError(Clause.SUBJECT, "centre certificate must name the centre (exactly one subject organisationName)")
    region = next((e for e in extensions if e.oid == OID_CENTRE_REGION), None)
    if region is None or not isinstance(region.value, x509.UnrecognizedExtension):
        raise ProfileError(Clause.CENTRE_REGION, "centre certificate has no centre region extension")
    if not region_from_der(region.value.value):
        raise ProfileError(Clause.CENTRE_REGION, "centre region is empty")


def check_list_signer(certificate: x509.Certificate, root: x509.Certificate, now: datetime | None = None) -> None:
    """A list signer's certificate: the leaf clauses with extended key usage exactly list signing and
    a subject commonName "<name> list signer". Given `now`, it and the root must be valid then."""
    _check_leaf(certificate, root, now, "list signer", _LEAF_EXTENSIONS, OID_LIST_SIGNING)
    names = [str(attribute.value) for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if len(names) != 1 or not names[0].endswith(LIST_SIGNER_SUFFIX) or not names[0][: -len(LIST_SIGNER_SUFFIX)].strip():
        raise ProfileError(Clause.SUBJECT, f'list signer certificate must have one commonName "<name>{LIST_SIGNER_SUFFIX}"')


def region_from_der(der: bytes) -> str:
    """The region code from the region extension's value: a DER UTF8String (short-form length)."""
    if len(der) < 2 or der[0] != 0x0C or der[1] != len(der) - 2 or der[1] > 127:
        raise ProfileError(Clause.CENTRE_REGION, "centre region extension is not a DER UTF8String")
    try:
        return der[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(Clause.CENTRE_REGION, "centre region extension is not valid UTF-8") from None


def _check_leaf(
    certificate: x509.Certificate,
    root: x509.Certificate,
    now: datetime | None,
    what: str,
    allowed: Mapping[x509.ObjectIdentifier, bool],
    purpose: x509.ObjectIdentifier,
) -> x509.Extensions:
    """The clauses every certificate the root issues shares; returns its extensions."""
    _check_version(certificate, what)
    if certificate.issuer != root.subject:
        raise ProfileError(Clause.ISSUER, f"{what} certificate was not issued by the bureau root (issuer name)")
    if certificate.signature_algorithm_oid != root_signature_algorithm(root):
        raise ProfileError(Clause.SIGNATURE_ALGORITHM, f"{what} certificate is not signed with the root's algorithm")
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as error:
        raise ProfileError(Clause.ISSUER, f"certificate was not issued by the bureau root: {error or 'bad signature'}") from error
    public_key = certificate.public_key()
    if not (
        isinstance(public_key, ed25519.Ed25519PublicKey)
        or (isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1))
    ):
        raise ProfileError(Clause.KEY_TYPE, f"unsupported key type {type(public_key).__name__}: only Ed25519 and ECDSA P-256")
    if not (
        root.not_valid_before_utc
        <= certificate.not_valid_before_utc
        <= certificate.not_valid_after_utc
        <= root.not_valid_after_utc
    ):
        raise ProfileError(Clause.VALIDITY, f"{what} certificate's validity does not lie within the root's")
    if now is not None:
        check_valid_at(root, now, "root")
        check_valid_at(certificate, now, what)
    extensions = _extensions(certificate, what, allowed)
    constraints = _required(extensions, x509.BasicConstraints, what, Clause.BASIC_CONSTRAINTS)
    if constraints.ca or constraints.path_length is not None:
        raise ProfileError(Clause.BASIC_CONSTRAINTS, f"{what} certificate must not be a CA")
    _check_key_usage(_required(extensions, x509.KeyUsage, what, Clause.KEY_USAGE), {"digital_signature"}, what)
    usage = list(_required(extensions, x509.ExtendedKeyUsage, what, Clause.EXTENDED_KEY_USAGE))
    if usage != [purpose]:
        shown = ", ".join(oid.dotted_string for oid in usage)
        raise ProfileError(
            Clause.EXTENDED_KEY_USAGE,
            f"{what} certificate is not {_PURPOSES[purpose]}: extended key usage is [{shown}], not exactly"
            f" [{purpose.dotted_string}]",
        )
    _required(extensions, x509.SubjectKeyIdentifier, what, Clause.KEY_IDENTIFIERS)
    authority = _required(extensions, x509.AuthorityKeyIdentifier, what, Clause.KEY_IDENTIFIERS)
    root_key_id = _optional(root.extensions, x509.SubjectKeyIdentifier)
    if root_key_id is None or authority.key_identifier != root_key_id.digest:
        raise ProfileError(Clause.KEY_IDENTIFIERS, f"{what} certificate's authority key identifier does not name the root")
    return extensions


_PURPOSES = {
    OID_TAG_RECORD_SIGNING: "limited to signing tag records",
    OID_LIST_SIGNING: "a list signer (limited to signing trust and status lists)",
}


def root_signature_algorithm(root: x509.Certificate) -> x509.ObjectIdentifier:
    """What the root's key signs with: Ed25519 (the profile's root), ecdsa-with-SHA256 for P-256."""
    if isinstance(root.public_key(), ed25519.Ed25519PublicKey):
        return SignatureAlgorithmOID.ED25519
    return SignatureAlgorithmOID.ECDSA_WITH_SHA256


def _check_version(certificate: x509.Certificate, what: str) -> None:
    try:
        version = certificate.version
    except x509.InvalidVersion as error:
        raise ProfileError(Clause.VERSION, f"{what} certificate has an unknown version: {error}") from None
    if version is not x509.Version.v3:
        raise ProfileError(Clause.VERSION, f"{what} certificate is X.509 {version.name}, not v3")


def check_valid_at(certificate: x509.Certificate, now: datetime, what: str) -> None:
    """The certificate's own validity period includes `now` (Clause.VALIDITY otherwise)."""
    if not (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc):
        raise ProfileError(
            Clause.VALIDITY,
            f"{what} certificate is valid {certificate.not_valid_before_utc.isoformat()}"
            f" to {certificate.not_valid_after_utc.isoformat()}, not at {now.isoformat()}",
        )


def _extensions(certificate: x509.Certificate, what: str, allowed: Mapping[x509.ObjectIdentifier, bool]) -> x509.Extensions:
    """The certificate's extensions, each profile extension with its required criticality and no
    other critical extension."""
    try:
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        raise ProfileError(Clause.EXTENSIONS, f"{what} certificate's extensions cannot be read: {error}") from None
    for extension in extensions:
        critical = allowed.get(extension.oid)
        if critical is None:
            if extension.critical:
                raise ProfileError(
                    Clause.CRITICAL_EXTENSION,
                    f"{what} certificate carries an unknown critical extension {extension.oid.dotted_string}",
                )
        elif extension.critical is not critical:
            clause, name = _EXTENSION_CLAUSES[extension.oid]
            must = "critical" if critical else "non-critical"
            raise ProfileError(clause, f"{what} certificate's {name} extension must be {must}")
    return extensions


# The profile's extensions: the clause a wrong criticality breaks, and the name a refusal shows.
_EXTENSION_CLAUSES: Mapping[x509.ObjectIdentifier, tuple[Clause, str]] = {
    ExtensionOID.BASIC_CONSTRAINTS: (Clause.BASIC_CONSTRAINTS, "basicConstraints"),
    ExtensionOID.KEY_USAGE: (Clause.KEY_USAGE, "keyUsage"),
    ExtensionOID.EXTENDED_KEY_USAGE: (Clause.EXTENDED_KEY_USAGE, "extendedKeyUsage"),
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: (Clause.KEY_IDENTIFIERS, "subjectKeyIdentifier"),
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: (Clause.KEY_IDENTIFIERS, "authorityKeyIdentifier"),
    OID_CENTRE_REGION: (Clause.CENTRE_REGION, "centre region"),
}


def _oids(extensions: x509.Extensions) -> set[x509.ObjectIdentifier]:
    return {extension.oid for extension in extensions}


def _required(extensions: x509.Extensions, kind: type[_Extension], what: str, clause: Clause) -> _Extension:
    value = _optional(extensions, kind)
    if value is None:
        raise ProfileError(clause, f"{what} certificate lacks the {kind.__name__} extension")
    return value


def _optional(extensions: x509.Extensions, kind: type[_Extension]) -> _Extension | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _check_key_usage(usage: x509.KeyUsage, required: set[str], what: str) -> None:
    """keyUsage must assert exactly `required` (encipherOnly/decipherOnly only exist with keyAgreement,
    which no profile allows)."""
    asserted = {bit for bit in _KEY_USAGE_BITS if getattr(usage, bit)}
    if asserted != required:
        raise ProfileError(
            Clause.KEY_USAGE,
            f"{what} certificate's key usage is {sorted(asserted) or 'empty'}, not exactly {sorted(required)}",
        )
