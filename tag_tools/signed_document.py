"""A small signed document of the list signer's kind (a status list, a station policy): deterministic
CBOR claims in a COSE_Sign1 by a certificate's key, identified by the certificate's kid.

Each document keeps its own claims and errors; this is the envelope both share, so that the checks
on the signer (its key, its validity at the issue time, its being trusted) are made in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from tag_tools import cbor_codec, cose, crypto, pki
from tag_tools.errors import RecordFormatError, SignatureError, TagToolsError


@dataclass(frozen=True)
class Kind:
    """One kind of document: its name in messages, who signs it, its size bound and its errors
    (`malformed`: no document of this profile; `forged`: not signed by a trusted signer's key)."""

    name: str
    signer_role: str
    max_size: int
    malformed: type[TagToolsError]
    forged: type[TagToolsError]


def sign_claims(
    kind: Kind, claims: Mapping[int, object], key: crypto.PrivateKey, certificate: x509.Certificate, issued_at: datetime
) -> bytes:
    """The claims signed by `key`, refused (kind.malformed) unless it is the key of `certificate`
    and the certificate is valid at `issued_at`."""
    if crypto.public_key_der(key.public_key()) != crypto.public_key_der(certificate.public_key()):  # type: ignore[arg-type]
        raise kind.malformed("the signing key does not belong to the signer certificate")
    if not (certificate.not_valid_before_utc <= issued_at <= certificate.not_valid_after_utc):
        raise kind.malformed(f"the signer certificate is not valid at the {kind.name}'s issue time")
    return cose.sign1(cbor_codec.encode(dict(claims)), key, pki.kid_of(certificate))


def open_claims(
    kind: Kind, data: bytes, signers: x509.Certificate | Sequence[x509.Certificate]
) -> tuple[x509.Certificate, object]:
    """The signer (one of `signers`, by kid) and the decoded claims of a document it signed; the
    signature is checked before the claims are decoded."""
    certificates = [signers] if isinstance(signers, x509.Certificate) else list(signers)
    if len(data) > kind.max_size:
        raise kind.malformed(f"{kind.name} is {len(data)} bytes, more than the {kind.max_size} allowed")
    try:
        envelope = cose.parse_sign1(data, max_size=kind.max_size)
    except RecordFormatError as error:
        raise kind.malformed(f"{kind.name} is not a COSE_Sign1: {error}") from error
    signer = next((c for c in certificates if pki.kid_of(c) == envelope.kid), None)
    if signer is None:
        raise kind.forged(f"{kind.name} signed by {envelope.kid.hex()}, which is not a trusted {kind.signer_role}")
    try:
        envelope.verify(signer.public_key())  # type: ignore[arg-type]
    except SignatureError as error:
        raise kind.forged(f"{kind.name} is not authentic: its signature does not verify: {error}") from error
    try:
        claims = cbor_codec.decode(envelope.payload, f"{kind.name} claims", max_size=kind.max_size)
    except RecordFormatError as error:
        raise kind.malformed(f"{kind.name} claims are not deterministic CBOR: {error}") from error
    return signer, claims
