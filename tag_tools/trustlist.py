"""The bureau's signed trust list: which centre certificates stations trust and which are revoked.

Stations pin only the bureau root certificate. Everything else arrives in this list: a COSE_Sign1
by the root key over a CBOR map (schemas/trust-list.cddl) with a sequence number (a station never
goes back to an older list), an issue time and an expiry. A station refuses to decide on a list
that is not authentic, expired, or older than its configured maximum age.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from cryptography import x509

from tag_tools import cbor_codec, cose, crypto, pki
from tag_tools.errors import RecordFormatError, SignatureError, TrustError
from tag_tools.verdict import Reason

log = logging.getLogger(__name__)

TRUST_LIST_VERSION = 1
MAX_TRUST_LIST_SIZE = 4 * 1024 * 1024  # thousands of centres fit; anything larger is not ours


class TrustListKey(IntEnum):
    VERSION = 1
    SEQUENCE = 2
    ISSUED_AT = 3
    EXPIRES_AT = 4
    CENTRES = 5
    REVOKED = 6


class RevocationReason(IntEnum):
    """Why a centre's signing certificate was revoked. Every reason refuses all its records:
    a centre that merely closes is not revoked, its certificate simply is not renewed."""

    KEY_COMPROMISE = 1
    MISCONDUCT = 2
    SUPERSEDED = 3
    CEASED_OPERATION = 4


@dataclass(frozen=True)
class RevokedSigner:
    kid: bytes
    revoked_at: datetime
    reason: RevocationReason


@dataclass(frozen=True)
class TrustList:
    sequence: int
    issued_at: datetime
    expires_at: datetime
    centres: tuple[x509.Certificate, ...]
    revoked: tuple[RevokedSigner, ...] = ()


def build_trust_list(trust_list: TrustList, root_certificate: x509.Certificate, root_key: crypto.PrivateKey) -> bytes:
    """Sign a trust list with the root key, after checking every centre certificate chains to it."""
    if trust_list.expires_at <= trust_list.issued_at:
        raise TrustError("a trust list must expire after it is issued")
    for certificate in trust_list.centres:
        pki.check_centre_certificate(certificate, root_certificate)
    if crypto.public_key_der(root_key.public_key()) != crypto.public_key_der(root_certificate.public_key()):  # type: ignore[arg-type]
        raise TrustError("the root key does not belong to the root certificate")
    payload = cbor_codec.encode(
        {
            TrustListKey.VERSION: TRUST_LIST_VERSION,
            TrustListKey.SEQUENCE: trust_list.sequence,
            TrustListKey.ISSUED_AT: int(trust_list.issued_at.timestamp()),
            TrustListKey.EXPIRES_AT: int(trust_list.expires_at.timestamp()),
            TrustListKey.CENTRES: [pki.certificate_to_der(c) for c in trust_list.centres],
            TrustListKey.REVOKED: [[r.kid, int(r.revoked_at.timestamp()), int(r.reason)] for r in trust_list.revoked],
        }
    )
    return cose.sign1(payload, root_key, pki.kid_of(root_certificate))


def parse_trust_list(data: bytes, root_certificate: x509.Certificate) -> TrustList:
    """Check the root's signature and every certificate; TrustError when not authentic."""
    if len(data) > MAX_TRUST_LIST_SIZE:
        raise TrustError("trust list is larger than any real one")
    try:
        envelope = cose.parse_sign1(data, max_size=MAX_TRUST_LIST_SIZE)
        if envelope.kid != pki.kid_of(root_certificate):
            raise TrustError("trust list was not signed by the pinned bureau root")
        envelope.verify(root_certificate.public_key())  # type: ignore[arg-type]
        body = cbor_codec.decode(envelope.payload, "trust list", max_size=MAX_TRUST_LIST_SIZE)
        return _trust_list_from(body, root_certificate)
    except (RecordFormatError, SignatureError) as error:
        raise TrustError(f"trust list is not authentic: {error}") from error


def _trust_list_from(body: object, root: x509.Certificate) -> TrustList:
    if not isinstance(body, dict) or set(body) != {int(k) for k in TrustListKey}:
        raise TrustError("trust list body has the wrong set of keys")
    if body[TrustListKey.VERSION] != TRUST_LIST_VERSION:
        raise TrustError(f"trust list version {body[TrustListKey.VERSION]!r} is not supported")
    sequence, issued, expires = body[TrustListKey.SEQUENCE], body[TrustListKey.ISSUED_AT], body[TrustListKey.EXPIRES_AT]
    if not all(type(v) is int and v >= 0 for v in (sequence, issued, expires)):
        raise TrustError("trust list sequence and times must be unsigned integers")
    centres = body[TrustListKey.CENTRES]
    revoked = body[TrustListKey.REVOKED]
    if not isinstance(centres, list) or not isinstance(revoked, list):
        raise TrustError("trust list centres and revoked entries must be arrays")
    certificates = []
    for der in centres:
        if type(der) is not bytes:
            raise TrustError("trust list centre entry is not a DER certificate")
        certificate = pki.load_certificate(der)
        pki.check_centre_certificate(certificate, root)
        certificates.append(certificate)
    return TrustList(
        sequence=sequence,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
        centres=tuple(certificates),
        revoked=tuple(_revoked_from(entry) for entry in revoked),
    )


def _revoked_from(entry: object) -> RevokedSigner:
    if not (isinstance(entry, list) and len(entry) == 3):
        raise TrustError("revoked entry must be [kid, revoked_at, reason]")
    kid, when, reason = entry
    if type(kid) is not bytes or len(kid) != cose.KID_SIZE or type(when) is not int or type(reason) is not int:
        raise TrustError("revoked entry has wrong types")
    try:
        return RevokedSigner(kid, datetime.fromtimestamp(when, UTC), RevocationReason(reason))
    except (ValueError, OverflowError, OSError) as error:
        raise TrustError(f"revoked entry is out of range: {error}") from error


@dataclass(frozen=True)
class TrustedSigner:
    """A centre certificate compiled for fast verification."""

    certificate: x509.Certificate
    public_key: crypto.PublicKey
    centre_id: str
    region: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class TrustStore:
    """A pinned root plus the trust list it signed, checked once and ready for many verifications.

    Loading never raises: a list that is not authentic gives a store whose `problem` is set, so
    every verification against it refuses with that reason instead of crashing the station.
    """

    root: x509.Certificate
    max_age: timedelta
    trust_list: TrustList | None
    problem: Reason | None = None
    problem_detail: str = ""
    signers: dict[bytes, TrustedSigner] = field(default_factory=dict)
    revoked: dict[bytes, RevokedSigner] = field(default_factory=dict)

    @classmethod
    def load(cls, root: x509.Certificate, trust_list_bytes: bytes, max_age: timedelta = timedelta(days=7)) -> "TrustStore":
        try:
            trust_list = parse_trust_list(trust_list_bytes, root)
        except TrustError as error:
            log.warning("trust list rejected: %s", error)
            return cls(root, max_age, None, Reason.TRUST_LIST_NOT_AUTHENTIC, str(error))
        signers = {}
        for certificate in trust_list.centres:
            identity = pki.centre_identity(certificate)
            signers[pki.kid_of(certificate)] = TrustedSigner(
                certificate=certificate,
                public_key=certificate.public_key(),  # type: ignore[arg-type]
                centre_id=identity.centre_id,
                region=identity.region,
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
            )
        return cls(root, max_age, trust_list, None, "", signers, {r.kid: r for r in trust_list.revoked})

    def freshness_problem(self, now: datetime) -> tuple[Reason, str] | None:
        """Why decisions cannot rely on this list at `now`, or None when it is usable."""
        if self.trust_list is None:
            return (self.problem or Reason.TRUST_LIST_NOT_AUTHENTIC, self.problem_detail)
        if now >= self.trust_list.expires_at:
            return (Reason.TRUST_LIST_STALE, f"trust list expired at {self.trust_list.expires_at.isoformat()}")
        if now - self.trust_list.issued_at > self.max_age:
            return (
                Reason.TRUST_LIST_STALE,
                f"trust list issued {self.trust_list.issued_at.isoformat()} is older than {self.max_age}",
            )
        if self.trust_list.issued_at - now > timedelta(minutes=10):
            return (Reason.TRUST_LIST_STALE, "trust list is issued in the future: check the station clock")
        return None
