"""What the signer decides, without sockets: check a request against its certificate, its clock
and the last list it signed, then sign and remember, or refuse with a typed reason.

The rules that make a compromised registry harmless beyond delay:
- a status list's sequence must exceed the last one signed for that list id, and no entry may go
  down (tag_tools.status_list.check_no_cleared_revocations);
- a trust list's sequence must exceed the last one, no centre revocation may disappear and the
  root's signer revocations never go back (tag_tools.trustlist.check_trust_list_follows);
- the issue time must be the signer's own clock (within a skew), the validity short, and the list
  must expire before the signer's certificate does;
- a batch of station policies gets one sequence that must exceed the last batch's, and the signer
  dates every document with its own clock (the registry does not choose the issue time).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from list_signer.errors import Refusal, RefusedError
from list_signer.state import StateDir, packed_size
from tag_tools import crypto, pki
from tag_tools.errors import (
    PolicyError,
    RevocationClearedError,
    StatusListError,
    StatusListRollbackError,
    TagToolsError,
    TrustError,
)
from tag_tools.station_policy import StationPolicy, build_station_policy, check_station_code, terms_from_cbor
from tag_tools.status_list import BITS, StatusArray, StatusList, build_status_list, check_no_cleared_revocations, inflate
from tag_tools.trustlist import (
    TrustList,
    build_trust_list,
    check_trust_list_follows,
    parse_signer_revocations,
    revoked_from_cbor,
)

log = logging.getLogger(__name__)


MAX_POLICY_BATCH = 20_000  # every station of a large province in one publication


@dataclass(frozen=True)
class SignerPolicy:
    max_validity: timedelta = timedelta(days=15)  # a weekly list with a week of grace
    clock_skew: timedelta = timedelta(minutes=10)


class Signer:
    """One key, one certificate, one state directory. Not thread-safe: the server calls it from
    one thread, so two requests can never both pass the check against the same previous list."""

    def __init__(
        self,
        key: crypto.PrivateKey,
        certificate: x509.Certificate,
        root: x509.Certificate,
        state: StateDir,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        policy: SignerPolicy = SignerPolicy(),
    ) -> None:
        pki.check_list_signer(certificate, root)
        if crypto.public_key_der(key.public_key()) != crypto.public_key_der(certificate.public_key()):  # type: ignore[arg-type]
            raise TrustError("the signing key does not belong to the signer certificate")
        self.key, self.certificate, self.root, self.state = key, certificate, root, state
        self.clock, self.policy = clock, policy
        self.kid = pki.kid_of(certificate)

    def status(self) -> dict[str, Any]:
        return {
            "ok": True,
            "kid": self.kid.hex(),
            "not_after": int(self.certificate.not_valid_after_utc.timestamp()),
            "sequences": self.state.sequences(),
            "policy_sequence": self.state.last_policy_sequence(),
        }

    def sign_status_list(self, request: dict[str, Any]) -> bytes:
        fields = _integers(request, "list_id", "sequence", "iat", "exp", "ttl", "bits", "count")
        statuses = request.get("statuses")
        if type(statuses) is not bytes:
            raise RefusedError(Refusal.BAD_REQUEST, '"statuses" must be the zlib-compressed packed entries (bytes)')
        if fields["bits"] != BITS:
            raise RefusedError(Refusal.INVALID_LIST, f"this profile signs {BITS}-bit lists, not {fields['bits']}")
        issued_at, expires_at = self._check_times(fields["iat"], fields["exp"])
        try:
            new = StatusList(
                fields["list_id"],
                fields["sequence"],
                issued_at,
                expires_at,
                timedelta(seconds=fields["ttl"]),
                StatusArray(fields["count"], inflate(statuses, packed_size(fields["count"]))),
            )
            previous = self.state.last_status_list(new.list_id)
            if previous is not None:
                check_no_cleared_revocations(previous, new)
            signed = build_status_list(new, self.key, self.certificate)
        except RevocationClearedError as error:
            raise RefusedError(Refusal.CLEARED_REVOCATION, str(error), error.index) from None
        except StatusListRollbackError as error:
            raise RefusedError(Refusal.ROLLBACK, str(error)) from None
        except (StatusListError, ValueError, OverflowError) as error:
            raise RefusedError(Refusal.INVALID_LIST, str(error)) from None
        self.state.save_status_list(new)
        log.info("signed status list %d sequence %d (%d entries)", new.list_id, new.sequence, new.statuses.count)
        return signed

    def sign_trust_list(self, request: dict[str, Any]) -> bytes:
        fields = _integers(request, "sequence", "iat", "exp")
        issued_at, expires_at = self._check_times(fields["iat"], fields["exp"])
        new = self._trust_list_from(request, fields["sequence"], issued_at, expires_at)
        previous = self.state.last_trust_list(self.root)
        if previous is not None and new.sequence <= previous.sequence:
            raise RefusedError(Refusal.ROLLBACK, f"sequence {new.sequence} does not follow {previous.sequence}")
        if self.kid in new.revoked_list_signers() | {r.kid for r in new.revoked}:
            raise RefusedError(Refusal.SIGNER_UNUSABLE, "this list revokes the signer itself: another signer must sign it")
        try:
            check_trust_list_follows(previous, new)
        except TrustError as error:
            raise RefusedError(Refusal.CLEARED_REVOCATION, str(error)) from None
        try:
            signed = build_trust_list(new, self.root, self.key, self.certificate)
        except TagToolsError as error:
            raise RefusedError(Refusal.INVALID_LIST, str(error)) from None
        self.state.save_trust_list(signed)
        log.info("signed trust list sequence %d (%d centres, %d revoked)", new.sequence, len(new.centres), len(new.revoked))
        return signed

    def sign_station_policies(self, request: dict[str, Any]) -> list[bytes]:
        """One document per {"station": code, "terms": map} of `policies`, all with `sequence`,
        dated now by this signer's clock. Nothing is signed unless everything can be."""
        sequence = _integers(request, "sequence")["sequence"]
        entries = request.get("policies")
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_POLICY_BATCH:
            raise RefusedError(Refusal.BAD_REQUEST, f'"policies" must be an array of 1 to {MAX_POLICY_BATCH} entries')
        now = self.clock().replace(microsecond=0)
        try:
            pki.check_list_signer(self.certificate, self.root, now)
        except TrustError as error:
            raise RefusedError(Refusal.SIGNER_UNUSABLE, str(error)) from None
        last = self.state.last_policy_sequence()
        if last is not None and sequence <= last:
            raise RefusedError(Refusal.ROLLBACK, f"policy sequence {sequence} does not follow {last}")
        policies, seen = [], set()
        for index, entry in enumerate(entries):
            try:
                if not isinstance(entry, dict) or set(entry) != {"station", "terms"}:
                    raise PolicyError('each policy is a map of exactly "station" and "terms"')
                code = check_station_code(entry["station"])
                if code in seen:
                    raise PolicyError(f"station {code} appears twice in one batch")
                seen.add(code)
                policies.append(StationPolicy(code, sequence, now, terms_from_cbor(entry["terms"])))
            except PolicyError as error:
                raise RefusedError(Refusal.INVALID_LIST, f"policy {index}: {error}", index) from None
        try:
            signed = [build_station_policy(p, self.key, self.certificate) for p in policies]
        except TagToolsError as error:
            raise RefusedError(Refusal.INVALID_LIST, str(error)) from None
        self.state.save_policy_sequence(sequence)
        log.info("signed %d station policies, sequence %d", len(signed), sequence)
        return signed

    def _trust_list_from(self, request: dict[str, Any], sequence: int, issued_at: datetime, expires_at: datetime) -> TrustList:
        centres, signers, revoked = (request.get(k) for k in ("centres", "signers", "revoked"))
        revocations = request.get("signer_revocations")
        if not all(isinstance(v, list) for v in (centres, signers, revoked)) or not (
            revocations is None or type(revocations) is bytes
        ):
            raise RefusedError(
                Refusal.BAD_REQUEST, "centres, signers and revoked must be arrays, signer_revocations bytes or absent"
            )
        assert isinstance(centres, list) and isinstance(signers, list) and isinstance(revoked, list)
        try:
            return TrustList(
                sequence=sequence,
                issued_at=issued_at,
                expires_at=expires_at,
                centres=tuple(_certificate(der) for der in centres),
                revoked=tuple(revoked_from_cbor(entry) for entry in revoked),
                signers=tuple(_certificate(der) for der in signers),
                signer_revocations=parse_signer_revocations(revocations, self.root) if revocations is not None else None,
            )
        except TrustError as error:
            raise RefusedError(Refusal.INVALID_LIST, str(error)) from None

    def _check_times(self, iat: int, exp: int) -> tuple[datetime, datetime]:
        now = self.clock()
        try:
            pki.check_list_signer(self.certificate, self.root, now)
        except TrustError as error:
            raise RefusedError(Refusal.SIGNER_UNUSABLE, str(error)) from None
        try:
            issued_at, expires_at = datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
        except (ValueError, OverflowError, OSError):
            raise RefusedError(Refusal.BAD_TIME, "iat and exp must be seconds since the epoch") from None
        if abs(issued_at - now) > self.policy.clock_skew:
            raise RefusedError(Refusal.BAD_TIME, f"iat {issued_at.isoformat()} is not the signer's time {now.isoformat()}")
        if not timedelta(0) < expires_at - issued_at <= self.policy.max_validity:
            raise RefusedError(Refusal.BAD_TIME, f"a list is valid for more than 0 and at most {self.policy.max_validity}")
        if expires_at > self.certificate.not_valid_after_utc:
            raise RefusedError(Refusal.SIGNER_UNUSABLE, "the list would outlive the signer certificate: rotate the signer")
        return issued_at, expires_at


def _integers(request: dict[str, Any], *names: str) -> dict[str, int]:
    values = {name: request.get(name) for name in names}
    wrong = [name for name, value in values.items() if type(value) is not int or value < 0]
    if wrong:
        raise RefusedError(Refusal.BAD_REQUEST, f"{', '.join(wrong)} must be unsigned integers")
    return values  # type: ignore[return-value]


def _certificate(der: object) -> x509.Certificate:
    if type(der) is not bytes:
        raise TrustError("a certificate entry is not DER bytes")
    return pki.load_certificate(der)
