"""The outcome of checking one tag: a decision, machine-readable reasons, and trusted claims.

Reason codes are stable strings: stations log them, the registry stores them, the bureau filters
by them, and the attendant's screen translates them. Never rename one; add new ones. The catalogue
(tag_tools/reason_catalogue.py, data in tag_tools/locale/reasons.json) owns their bits, severity,
overridability and texts; `Reason` names the verifier's codes for the type checker, and a test keeps
the two equal.
"""

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

from tag_tools.reason_catalogue import Origin, Severity, catalogue

if TYPE_CHECKING:  # pragma: no cover - import only for the type checker
    from tag_tools.claims import CylinderRecord


class Decision(StrEnum):
    ALLOW = "allow"
    ALLOW_WITH_WARNING = "allow_with_warning"
    REFUSE = "refuse"


class Reason(StrEnum):
    """Why a record was refused or warned about."""

    NO_RECORD = "no_record"
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_SIGNER = "unknown_signer"
    BAD_SIGNATURE = "bad_signature"
    SIGNER_REVOKED = "signer_revoked"
    SIGNER_NOT_VALID_AT_ISSUE = "signer_not_valid_at_issue"
    TRUST_LIST_STALE = "trust_list_stale"
    TRUST_LIST_NOT_AUTHENTIC = "trust_list_not_authentic"
    ISSUED_IN_FUTURE = "issued_in_future"
    UID_MISMATCH = "uid_mismatch"
    INSPECTION_OVERDUE = "inspection_overdue"
    INSPECTION_FAILED = "inspection_failed"
    PAST_SERVICE_LIFE = "past_service_life"
    CYLINDER_REVOKED = "cylinder_revoked"
    RECORD_SUPERSEDED = "record_superseded"
    CHIP_NOT_GENUINE = "chip_not_genuine"
    # Warnings: the fill may go ahead, the attendant is told.
    DUE_SOON = "due_soon"
    CHIP_NOT_GENUINE_WARNING = "chip_not_genuine_warning"


# Reasons that only warn: the catalogue's severity says which.
WARNING_REASONS = frozenset(Reason(code) for code in catalogue().codes_where(severity=Severity.WARNING, origin=Origin.VERIFIER))


class Originality(Enum):
    """Result of the chip's NXP originality-signature check, when the reader could run it."""

    GENUINE = "genuine"
    NOT_GENUINE = "not_genuine"
    NOT_AVAILABLE = "not_available"


@dataclass(frozen=True)
class ChipEvidence:
    """What the reader learnt about the chip itself, besides its memory."""

    originality: Originality = Originality.NOT_AVAILABLE
    chip: str | None = None  # "NTAG215", ...
    read_counter: int | None = None


@dataclass(frozen=True)
class Verdict:
    """Decision plus reasons (refusals and warnings alike, most serious first).

    `record` is set only when its signature and signer were trusted.
    """

    decision: Decision
    reasons: tuple[Reason, ...] = ()
    record: "CylinderRecord | None" = None
    signer_centre_id: str | None = None
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision is not Decision.REFUSE

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict: what `cylinder-tag verify --json` prints and stations upload."""
        return {
            "decision": self.decision.value,
            "reasons": [r.value for r in self.reasons],
            "signer_centre_id": self.signer_centre_id,
            "detail": self.detail,
            "record": self.record.to_json() if self.record is not None else None,
        }
