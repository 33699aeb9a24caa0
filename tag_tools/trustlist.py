"""The bureau's signed trust list: which centre certificates stations trust and which are revoked.

Stations pin only the bureau root certificate. Everything else arrives in this list: a COSE_Sign1
over a CBOR map (schemas/trust-list.cddl) with a sequence number (a station never goes back to an
older list), an issue time and an expiry. A station refuses to decide on a list that is not
authentic, expired, or older than its configured maximum age.

Who signs (version 2): the list signer, a key the root certified for lists only (pki.OID_LIST_SIGNING)
for a short time; its certificate rides in the protected x5chain header so a station that pins only
the root can check it. The root stays offline, used only to certify centres and signers and to sign
the signer revocations (`SignerRevocations`), which every later list carries verbatim: a list signer
cannot forge or drop a revocation of itself that a station has already seen. A list signed by the
root itself (version 1, or 2 without x5chain) is still accepted: deprecated, for the migration.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from cryptography import x509

from tag_tools import cbor_codec, cert_profile, cose, crypto, pki
from tag_tools.errors import RecordFormatError, SignatureError, TrustError
from tag_tools.verdict import Reason

log = logging.getLogger(__name__)

TRUST_LIST_VERSION = 1  # keys 1..6 only, signed by the root (deprecated)
TRUST_LIST_VERSION_SIGNERS = 2  # adds list signers (7) and, once there are any, signer revocations (8)
SIGNER_REVOCATIONS_VERSION = 1
MAX_TRUST_LIST_SIZE = 4 * 1024 * 1024  # thousands of centres fit; anything larger is not ours


class TrustListKey(IntEnum):
    VERSION = 1
    SEQUENCE = 2
    ISSUED_AT = 3
    EXPIRES_AT = 4
    CENTRES = 5
    REVOKED = 6
    SIGNERS = 7
    SIGNER_REVOCATIONS = 8


_V1_KEYS = frozenset(int(k) for k in TrustListKey if k <= TrustListKey.REVOKED)
_V2_KEYS = _V1_KEYS | {int(TrustListKey.SIGNERS)}


class SignerRevocationsKey(IntEnum):
    VERSION = 1
    SEQUENCE = 2
    ISSUED_AT = 3
    REVOKED = 4


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
class SignerRevocations:
    """List signers the root has revoked, signed by the root (offline, only when one is revoked).

    Trust lists carry `blob` verbatim, so the signer that publishes a list cannot edit it; the
    sequence lets a station refuse a list that carries an older one than it has seen."""

    sequence: int
    issued_at: datetime
    revoked: tuple[RevokedSigner, ...]
    blob: bytes = field(repr=False, compare=False, default=b"")

    @property
    def kids(self) -> frozenset[bytes]:
        return frozenset(r.kid for r in self.revoked)


@dataclass(frozen=True)
class TrustList:
    sequence: int
    issued_at: datetime
    expires_at: datetime
    centres: tuple[x509.Certificate, ...]
    revoked: tuple[RevokedSigner, ...] = ()
    signers: tuple[x509.Certificate, ...] = ()  # list signers stations accept (status lists, next trust lists)
    signer_revocations: SignerRevocations | None = None
    signed_by: x509.Certificate | None = None  # set by parse_trust_list: the list signer, None for the root

    def revoked_list_signers(self) -> frozenset[bytes]:
        """Kids of list signers revoked on the root's authority: the root-signed signer revocations,
        and the revoked entries of a list the root signed itself. A list signer's own revoked entries
        do not count here: a stolen signer key must not be able to revoke its legitimate successor."""
        kids = self.signer_revocations.kids if self.signer_revocations else frozenset()
        if self.signed_by is None:
            kids |= {r.kid for r in self.revoked}
        return kids

    def status_signers(self, now: datetime) -> tuple[x509.Certificate, ...]:
        """The list signers whose status lists a station accepts at `now` (two during a rotation):
        those listed and the one that signed this list, unexpired and not revoked."""
        revoked = self.revoked_list_signers() | {r.kid for r in self.revoked}
        candidates = self.signers + ((self.signed_by,) if self.signed_by is not None else ())
        chosen: dict[bytes, x509.Certificate] = {}
        for certificate in candidates:
            kid = pki.kid_of(certificate)
            if kid not in revoked and certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
                chosen.setdefault(kid, certificate)
        return tuple(chosen.values())


def build_trust_list(
    trust_list: TrustList,
    root_certificate: x509.Certificate,
    key: crypto.PrivateKey,
    signer_certificate: x509.Certificate | None = None,
) -> bytes:
    """Sign a trust list, after checking every certificate in it chains to the root.

    With `signer_certificate`, `key` is the list signer's key and the certificate goes into x5chain;
    without it, `key` is the root key (deprecated: keeps the root online)."""
    if trust_list.expires_at <= trust_list.issued_at:
        raise TrustError("a trust list must expire after it is issued")
    pki.check_root(root_certificate, trust_list.issued_at)
    for certificate in trust_list.centres:
        pki.check_centre_certificate(certificate, root_certificate)
    for certificate in trust_list.signers:
        pki.check_list_signer(certificate, root_certificate)
    if trust_list.signer_revocations is not None:
        parse_signer_revocations(trust_list.signer_revocations.blob, root_certificate)
    signing_certificate = signer_certificate or root_certificate
    if crypto.public_key_der(key.public_key()) != crypto.public_key_der(signing_certificate.public_key()):  # type: ignore[arg-type]
        which = "list signer" if signer_certificate is not None else "root"
        raise TrustError(f"the {which} key does not belong to the {which} certificate")
    chain: tuple[bytes, ...] = ()
    if signer_certificate is not None:
        pki.check_list_signer(signer_certificate, root_certificate, trust_list.issued_at)
        _check_signer_covers(replace(trust_list, signed_by=signer_certificate))
        chain = (pki.certificate_to_der(signer_certificate),)
    signed_v2 = bool(chain or trust_list.signers or trust_list.signer_revocations)
    body: dict[int, object] = {
        TrustListKey.VERSION: TRUST_LIST_VERSION_SIGNERS if signed_v2 else TRUST_LIST_VERSION,
        TrustListKey.SEQUENCE: trust_list.sequence,
        TrustListKey.ISSUED_AT: int(trust_list.issued_at.timestamp()),
        TrustListKey.EXPIRES_AT: int(trust_list.expires_at.timestamp()),
        TrustListKey.CENTRES: [pki.certificate_to_der(c) for c in trust_list.centres],
        TrustListKey.REVOKED: revoked_to_cbor(trust_list.revoked),
    }
    if signed_v2:
        body[TrustListKey.SIGNERS] = [pki.certificate_to_der(c) for c in trust_list.signers]
    if trust_list.signer_revocations is not None:
        body[TrustListKey.SIGNER_REVOCATIONS] = trust_list.signer_revocations.blob
    return cose.sign1(cbor_codec.encode(body), key, pki.kid_of(signing_certificate), chain)


def parse_trust_list(data: bytes, root_certificate: x509.Certificate, *, now: datetime | None = None) -> TrustList:
    """Check the signature (the root's, or a list signer's the root certified) and every
    certificate; TrustError when not authentic. With `now`, the list signer must also be valid then.

    A list signer's list is refused when the signer is revoked by the signer revocations it
    carries or by its own revoked entries, when it was issued outside the signer's validity, or
    when it outlives the signer's certificate. Revocations a station saw in an earlier list are
    `check_succession`'s business."""
    if len(data) > MAX_TRUST_LIST_SIZE:
        raise TrustError("trust list is larger than any real one")
    pki.check_root(root_certificate, now)  # the pinned root's own profile (and validity, given `now`)
    try:
        envelope = cose.parse_sign1(data, max_size=MAX_TRUST_LIST_SIZE, allow_x5chain=True)
        signer = _list_signer_of(envelope, root_certificate, now)
        envelope.verify((signer or root_certificate).public_key())  # type: ignore[arg-type]
        body = cbor_codec.decode(envelope.payload, "trust list", max_size=MAX_TRUST_LIST_SIZE)
        trust_list = _trust_list_from(body, root_certificate, signer)
    except (RecordFormatError, SignatureError) as error:
        raise TrustError(f"trust list is not authentic: {error}") from error
    if signer is not None:
        _check_signer_covers(trust_list)
    return trust_list


def _list_signer_of(envelope: cose.Sign1, root: x509.Certificate, now: datetime | None) -> x509.Certificate | None:
    """The list signer certificate from x5chain, checked against the root; None for a root-signed list."""
    if not envelope.x5chain:
        if envelope.kid != pki.kid_of(root):
            raise TrustError("trust list was not signed by the pinned bureau root")
        return None
    signer = pki.load_certificate(envelope.x5chain[0])
    if envelope.x5chain[1:] not in ((), (pki.certificate_to_der(root),)):
        raise TrustError("trust list x5chain must end at the pinned bureau root")
    if envelope.kid != pki.kid_of(signer):
        raise TrustError("trust list kid does not name the certificate in its x5chain")
    pki.check_list_signer(signer, root, now)
    return signer


def _check_signer_covers(trust_list: TrustList) -> None:
    """A list signer's list lies within its certificate and names no revocation of that signer."""
    signer = trust_list.signed_by
    assert signer is not None
    kid = pki.kid_of(signer)
    if kid in trust_list.revoked_list_signers() | {r.kid for r in trust_list.revoked}:
        raise TrustError(f"trust list signed by list signer {kid.hex()}, which is revoked")
    if not signer.not_valid_before_utc <= trust_list.issued_at <= signer.not_valid_after_utc:
        raise TrustError("trust list issued outside its list signer certificate's validity")
    if trust_list.expires_at > signer.not_valid_after_utc:
        raise TrustError("trust list would outlive its list signer certificate: rotate the signer first")


def _trust_list_from(body: object, root: x509.Certificate, signer: x509.Certificate | None) -> TrustList:
    if not isinstance(body, dict):
        raise TrustError("trust list body is not a map")
    version = body.get(TrustListKey.VERSION)
    keys = frozenset(body) - {int(TrustListKey.SIGNER_REVOCATIONS)}
    if version == TRUST_LIST_VERSION and signer is None:
        if frozenset(body) != _V1_KEYS:
            raise TrustError("trust list body has the wrong set of keys")
    elif version == TRUST_LIST_VERSION_SIGNERS:
        if keys != _V2_KEYS:
            raise TrustError("trust list body has the wrong set of keys")
    else:
        raise TrustError(f"trust list version {version!r} is not supported" + (" for a list signer" if signer else ""))
    sequence, issued, expires = body[TrustListKey.SEQUENCE], body[TrustListKey.ISSUED_AT], body[TrustListKey.EXPIRES_AT]
    if not all(type(v) is int and v >= 0 for v in (sequence, issued, expires)):
        raise TrustError("trust list sequence and times must be unsigned integers")
    revoked = body[TrustListKey.REVOKED]
    if not isinstance(revoked, list):
        raise TrustError("trust list revoked entries must be an array")
    revocations = body.get(TrustListKey.SIGNER_REVOCATIONS)
    if revocations is not None and type(revocations) is not bytes:
        raise TrustError("trust list signer revocations must be a root-signed COSE_Sign1 (bytes)")
    return TrustList(
        sequence=sequence,
        issued_at=_time(issued),
        expires_at=_time(expires),
        centres=tuple(_certificates(body[TrustListKey.CENTRES], "centre", lambda c: pki.check_centre_certificate(c, root))),
        revoked=_revoked_list_from(revoked),
        signers=tuple(_certificates(body.get(TrustListKey.SIGNERS, []), "signer", lambda c: pki.check_list_signer(c, root))),
        signer_revocations=parse_signer_revocations(revocations, root) if revocations is not None else None,
        signed_by=signer,
    )


def _certificates(entries: object, what: str, check: Callable[[x509.Certificate], object]) -> list[x509.Certificate]:
    if not isinstance(entries, list):
        raise TrustError(f"trust list {what} entries must be an array")
    certificates = []
    for der in entries:
        if type(der) is not bytes:
            raise TrustError(f"trust list {what} entry is not a DER certificate")
        certificate = pki.load_certificate(der)
        check(certificate)
        certificates.append(certificate)
    return certificates


def _time(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise TrustError(f"time {seconds} is out of range") from error


def revoked_to_cbor(revoked: tuple[RevokedSigner, ...]) -> list[list[object]]:
    return [[r.kid, int(r.revoked_at.timestamp()), int(r.reason)] for r in revoked]


def _revoked_list_from(entries: list[object]) -> tuple[RevokedSigner, ...]:
    return tuple(revoked_from_cbor(entry) for entry in entries)


def build_signer_revocations(
    revoked: tuple[RevokedSigner, ...],
    sequence: int,
    issued_at: datetime,
    root_certificate: x509.Certificate,
    root_key: crypto.PrivateKey,
) -> SignerRevocations:
    """The root signs which list signers it revoked (every one so far: the list only grows)."""
    if crypto.public_key_der(root_key.public_key()) != crypto.public_key_der(root_certificate.public_key()):  # type: ignore[arg-type]
        raise TrustError("the root key does not belong to the root certificate")
    payload = cbor_codec.encode(
        {
            SignerRevocationsKey.VERSION: SIGNER_REVOCATIONS_VERSION,
            SignerRevocationsKey.SEQUENCE: sequence,
            SignerRevocationsKey.ISSUED_AT: int(issued_at.timestamp()),
            SignerRevocationsKey.REVOKED: revoked_to_cbor(revoked),
        }
    )
    blob = cose.sign1(payload, root_key, pki.kid_of(root_certificate))
    return parse_signer_revocations(blob, root_certificate)


def parse_signer_revocations(blob: bytes, root_certificate: x509.Certificate) -> SignerRevocations:
    """Verify the root's signature over a signer revocation list; TrustError otherwise."""
    try:
        envelope = cose.parse_sign1(blob, max_size=MAX_TRUST_LIST_SIZE)
        if envelope.kid != pki.kid_of(root_certificate):
            raise TrustError("signer revocations were not signed by the pinned bureau root")
        envelope.verify(root_certificate.public_key())  # type: ignore[arg-type]
        body = cbor_codec.decode(envelope.payload, "signer revocations", max_size=MAX_TRUST_LIST_SIZE)
    except (RecordFormatError, SignatureError) as error:
        raise TrustError(f"signer revocations are not authentic: {error}") from error
    if not isinstance(body, dict) or set(body) != {int(k) for k in SignerRevocationsKey}:
        raise TrustError("signer revocations have the wrong set of keys")
    if body[SignerRevocationsKey.VERSION] != SIGNER_REVOCATIONS_VERSION:
        raise TrustError(f"signer revocations version {body[SignerRevocationsKey.VERSION]!r} is not supported")
    sequence, issued, revoked = (
        body[k] for k in (SignerRevocationsKey.SEQUENCE, SignerRevocationsKey.ISSUED_AT, SignerRevocationsKey.REVOKED)
    )
    if type(sequence) is not int or type(issued) is not int or sequence < 0 or issued < 0 or not isinstance(revoked, list):
        raise TrustError("signer revocations sequence and time must be unsigned integers, revoked an array")
    return SignerRevocations(sequence, _time(issued), _revoked_list_from(revoked), blob)


def _revocations_sequence(trust_list: TrustList) -> int:
    return trust_list.signer_revocations.sequence if trust_list.signer_revocations else -1


def check_succession(held: TrustList | None, new: TrustList) -> None:
    """May a station replace `held` by `new`? TrustError says why not.

    - `new` must not be signed by a list signer that `held` already shows revoked by the root;
    - it must carry signer revocations at least as new as those `held` carries;
    - its sequence must not be lower than `held`'s, unless `held` was signed by a list signer that
      `new` shows revoked by the root: a stolen signer key may have pushed the sequence up to lock
      stations out of the genuine lists, and that list is discarded.
    An equal sequence is not refused here: it is the same list fetched again, or nothing new."""
    if held is None:
        return
    if new.signed_by is not None and pki.kid_of(new.signed_by) in held.revoked_list_signers():
        raise TrustError(f"trust list signed by list signer {pki.kid_of(new.signed_by).hex()}, revoked in the list held")
    if _revocations_sequence(new) < _revocations_sequence(held):
        raise TrustError("trust list carries older signer revocations than the list held (rollback)")
    held_signer_revoked = held.signed_by is not None and pki.kid_of(held.signed_by) in new.revoked_list_signers()
    if new.sequence < held.sequence and not held_signer_revoked:
        raise TrustError(f"trust list sequence {new.sequence} is older than the {held.sequence} held (rollback)")


def check_trust_list_follows(previous: TrustList | None, new: TrustList) -> None:
    """The list signer's own rule, stricter than a station's: the sequence strictly increases, the
    signer revocations never go back, and no revoked centre is ever un-revoked (a compromised
    registry can delay a centre's revocation by not asking for a list, never undo one)."""
    if previous is None:
        return
    if new.sequence <= previous.sequence:
        raise TrustError(f"sequence {new.sequence} does not follow {previous.sequence}")
    if _revocations_sequence(new) < _revocations_sequence(previous):
        raise TrustError("signer revocations would go back to an older root-signed list")
    dropped = {r.kid for r in previous.revoked} - {r.kid for r in new.revoked}
    if dropped:
        raise TrustError(f"the new list drops the revocation of {', '.join(sorted(k.hex() for k in dropped))}")


def revoked_from_cbor(entry: object) -> RevokedSigner:
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
    def load(
        cls,
        root: x509.Certificate,
        trust_list_bytes: bytes,
        max_age: timedelta = timedelta(days=7),
        now: datetime | None = None,
    ) -> "TrustStore":
        try:
            trust_list = parse_trust_list(trust_list_bytes, root, now=now)
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
        """Why decisions cannot rely on this list at `now`, or None when it is usable.

        The pinned root itself must be valid at `now`: once it expires nothing it certified can be
        trusted, whatever the list says (`trust_list_not_authentic` until a new root is pinned)."""
        if self.trust_list is None:
            return (self.problem or Reason.TRUST_LIST_NOT_AUTHENTIC, self.problem_detail)
        try:
            cert_profile.check_valid_at(self.root, now, "pinned root")
        except TrustError as error:
            return (Reason.TRUST_LIST_NOT_AUTHENTIC, str(error))
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
