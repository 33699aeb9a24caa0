"""Verification: from what a reader got off a tag to ALLOW, ALLOW_WITH_WARNING or REFUSE.

`verify_tag` is the one function stations call. It never raises on anything read from a tag: every
failure is a REFUSE with a reason code. Checks run from the cheapest and most fundamental (is there
a record, is the trust list usable) to the record's content, so a forged record is never reported
as merely overdue. `authenticate_record` is the strict core the registry uses when a centre submits
an inspection: it raises typed errors instead of returning a verdict.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from tag_tools import cbor_codec, cose, ndef_record, rules, t2t_memory
from tag_tools.claims import CylinderRecord, InspectionResult
from tag_tools.errors import (
    NoRecordError,
    RecordFormatError,
    RecordRejectedError,
    SignatureError,
    StatusIndexError,
    UnsupportedVersionError,
)
from tag_tools.revocations import NO_REVOCATIONS, Revocations
from tag_tools.status_list import StatusList, StatusValue
from tag_tools.trustlist import TrustedSigner, TrustStore
from tag_tools.verdict import WARNING_REASONS, ChipEvidence, Decision, Originality, Reason, Verdict

log = logging.getLogger(__name__)
NO_STATUS_LISTS: Mapping[int, StatusList] = {}


class TagMemory(bytes):
    """Raw Type 2 Tag memory from page 0, as opposed to a bare NDEF message."""


@dataclass(frozen=True)
class VerificationPolicy:
    """What a station (or the bureau) decides about borderline cases."""

    warning_days: int = 30  # warn when the next inspection or end of life is this close
    clock_skew: timedelta = timedelta(minutes=10)  # tolerated for records "issued in the future"
    refuse_non_genuine_chip: bool = True
    local_timezone: tzinfo = UTC  # whose calendar day decides "overdue" (Asia/Shanghai in China)


DEFAULT_POLICY = VerificationPolicy()


@dataclass(frozen=True)
class AuthenticatedRecord:
    record: CylinderRecord
    signer: TrustedSigner

    @property
    def centre_id(self) -> str:
        return self.signer.centre_id


def verify_tag(
    uid: bytes,
    data: bytes,
    *,
    trust: TrustStore,
    now: datetime,
    revocations: Revocations = NO_REVOCATIONS,
    chip: ChipEvidence | None = None,
    policy: VerificationPolicy = DEFAULT_POLICY,
    status_lists: Mapping[int, StatusList] = NO_STATUS_LISTS,
) -> Verdict:
    """Decide whether the cylinder behind this tag may be filled at `now`.

    `data` is the NDEF message, or a `TagMemory` image of the whole tag. `now` must be timezone-aware.
    A record with a status reference is judged by the signed status list it names, when held
    (`status_lists`, by list id, already verified); records without one, or naming a list not held,
    by `revocations` (the older per-cylinder feed, during the migration).
    """
    _require_aware(now)
    try:
        authenticated = _authenticate(uid, data, trust, now, policy)
    except RecordRejectedError as failure:
        return Verdict(Decision.REFUSE, (failure.reason,), detail=failure.detail)
    except Exception as error:
        log.exception("unexpected error while verifying a tag")
        return Verdict(Decision.REFUSE, (Reason.MALFORMED,), detail=f"internal error: {type(error).__name__}")
    return _judge(authenticated, now, revocations, chip, policy, status_lists)


def authenticate_record(uid: bytes | None, data: bytes, trust: TrustStore, now: datetime) -> AuthenticatedRecord:
    """The record's claims and signer, if and only if the record is authentic.

    `uid=None` skips the tag binding (the registry receives records before they are written).
    Raises RecordRejectedError carrying the same reason code a station's verdict would give.
    """
    return _authenticate(uid, data, trust, now, DEFAULT_POLICY)


def _authenticate(
    uid: bytes | None, data: bytes, trust: TrustStore, now: datetime, policy: VerificationPolicy
) -> AuthenticatedRecord:
    _require_aware(now)
    freshness = trust.freshness_problem(now)
    if freshness is not None:
        raise RecordRejectedError(*freshness)
    envelope = _envelope(data)
    signer = trust.signers.get(envelope.kid)
    revoked = trust.revoked.get(envelope.kid)
    if revoked is not None:
        raise RecordRejectedError(
            Reason.SIGNER_REVOKED,
            f"signer {envelope.kid.hex()} revoked at {revoked.revoked_at.isoformat()} ({revoked.reason.name.lower()})",
        )
    if signer is None:
        raise RecordRejectedError(Reason.UNKNOWN_SIGNER, f"no trusted centre certificate has kid {envelope.kid.hex()}")
    try:
        envelope.verify(signer.public_key)
    except SignatureError as error:
        raise RecordRejectedError(Reason.BAD_SIGNATURE, str(error)) from None
    record = _claims(envelope.payload)
    if not (signer.not_before <= record.issued_at <= signer.not_after):
        raise RecordRejectedError(
            Reason.SIGNER_NOT_VALID_AT_ISSUE,
            f"record issued {record.issued_at.isoformat()} outside the signer's validity "
            f"{signer.not_before.isoformat()}..{signer.not_after.isoformat()}",
        )
    if record.centre_id != signer.centre_id:
        raise RecordRejectedError(
            Reason.MALFORMED, f"record names centre {record.centre_id!r} but was signed by {signer.centre_id!r}"
        )
    if record.issued_at > now + policy.clock_skew:
        raise RecordRejectedError(Reason.ISSUED_IN_FUTURE, f"record issued at {record.issued_at.isoformat()}, after now")
    if uid is not None and record.tag_uid != uid:
        raise RecordRejectedError(
            Reason.UID_MISMATCH,
            f"record belongs to tag {record.tag_uid.hex().upper()}, read from tag {uid.hex().upper()}: moved or cloned",
        )
    return AuthenticatedRecord(record, signer)


def _require_aware(now: datetime) -> None:
    # A programming error, not bad tag content: raise rather than refuse.
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")


def _envelope(data: bytes) -> cose.Sign1:
    try:
        message = t2t_memory.ndef_message_from_memory(data) if isinstance(data, TagMemory) else data
        return cose.parse_sign1(ndef_record.record_payload(message))
    except NoRecordError as error:
        raise RecordRejectedError(Reason.NO_RECORD, str(error)) from None
    except RecordFormatError as error:
        raise RecordRejectedError(Reason.MALFORMED, str(error)) from None


def _claims(payload: bytes) -> CylinderRecord:
    try:
        return CylinderRecord.from_cbor_map(cbor_codec.decode(payload, "claims"))
    except UnsupportedVersionError as error:
        raise RecordRejectedError(Reason.UNSUPPORTED_VERSION, str(error)) from None
    except RecordFormatError as error:
        raise RecordRejectedError(Reason.MALFORMED, str(error)) from None


def _status_findings(record: CylinderRecord, status_lists: Mapping[int, StatusList], now: datetime) -> list[tuple[Reason, str]]:
    """What the record's entry in its signed status list says (O(1)): nothing when the record has
    no status reference or names a list not held (the revocation feed judges it then)."""
    reference = record.status_ref
    if reference is None or reference.list_id not in status_lists:
        return []
    held = status_lists[reference.list_id]
    if now >= held.expires_at:
        return [(Reason.TRUST_LIST_STALE, f"status list {held.list_id} expired {held.expires_at.isoformat()}")]
    try:
        value = held.status(reference.index)
    except StatusIndexError:
        return []  # issued after the list was built: nothing can have been revoked for it yet
    where = f"status list {held.list_id} entry {reference.index}"
    if value is StatusValue.SUPERSEDED:
        return [(Reason.RECORD_SUPERSEDED, f"{where}: superseded by a newer inspection")]
    if value in (StatusValue.REVOKED_STOLEN, StatusValue.REVOKED_SCRAPPED):
        return [(Reason.CYLINDER_REVOKED, f"{where}: {value.name.lower()}")]
    return []


def _judged_by_status_list(record: CylinderRecord, status_lists: Mapping[int, StatusList]) -> bool:
    return record.status_ref is not None and record.status_ref.list_id in status_lists


def _judge(
    authenticated: AuthenticatedRecord,
    now: datetime,
    revocations: Revocations,
    chip: ChipEvidence | None,
    policy: VerificationPolicy,
    status_lists: Mapping[int, StatusList] = NO_STATUS_LISTS,
) -> Verdict:
    """Apply the filling rules to an authentic record; collect every reason that applies."""
    record = authenticated.record
    today = rules.local_today(now, policy.local_timezone)
    cylinder_id = str(record.cylinder_id)
    reasons: list[Reason] = []
    details: list[str] = []
    if not _judged_by_status_list(record, status_lists):
        # The per-cylinder feed judges only records its signed list cannot: it names cylinders, not
        # records, so it would keep refusing a record re-issued after the bureau reversed a
        # condemnation (schemas/status-list.md, "Undoing a revocation").
        revocation = revocations.cylinder_revocation(cylinder_id)
        if revocation is not None:
            reasons.append(Reason.CYLINDER_REVOKED)
            details.append(f"cylinder {cylinder_id} is {revocation.value}")
        if revocations.is_superseded(cylinder_id, record.sequence):
            reasons.append(Reason.RECORD_SUPERSEDED)
            details.append(f"record {record.sequence} is superseded by a newer inspection")
    for reason, detail in _status_findings(record, status_lists, now):
        if reason not in reasons:
            reasons.append(reason)
            details.append(detail)
    if record.result is InspectionResult.FAILED:
        reasons.append(Reason.INSPECTION_FAILED)
        details.append(f"failed inspection on {record.inspected.isoformat()}")
    if rules.issued_before_inspection(record.issued_at, record.inspected, policy.local_timezone):
        reasons.append(Reason.MALFORMED)  # as the claims check said before it became zone-free
        details.append(f"record issued {record.issued_at.isoformat()}, before its inspection on {record.inspected.isoformat()}")
    if rules.is_past_service_life(today, record.end_of_life):
        reasons.append(Reason.PAST_SERVICE_LIFE)
        details.append(f"design service life ended {record.end_of_life.isoformat()}")
    if rules.is_overdue(today, record.next_due):
        reasons.append(Reason.INSPECTION_OVERDUE)
        details.append(f"inspection was due {record.next_due.isoformat()}")
    if chip is not None and chip.originality is Originality.NOT_GENUINE:
        reasons.append(Reason.CHIP_NOT_GENUINE if policy.refuse_non_genuine_chip else Reason.CHIP_NOT_GENUINE_WARNING)
        details.append("the chip's NXP originality signature does not verify")
    refused = any(reason not in WARNING_REASONS for reason in reasons)
    if rules.is_due_soon(today, record.next_due, record.end_of_life, policy.warning_days, refused=refused):
        reasons.append(Reason.DUE_SOON)
        details.append(f"next inspection {record.next_due.isoformat()}, end of life {record.end_of_life.isoformat()}")
    if refused:
        decision = Decision.REFUSE
    elif reasons:
        decision = Decision.ALLOW_WITH_WARNING
    else:
        decision = Decision.ALLOW
    return Verdict(decision, tuple(reasons), record, authenticated.centre_id, "; ".join(details))
