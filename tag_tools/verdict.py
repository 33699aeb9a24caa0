"""The outcome of checking one tag: a decision, machine-readable reasons, and trusted claims.

Reason codes are stable strings: stations log them, the registry stores them, the bureau filters
by them, and the attendant's screen translates them. Never rename one; add new ones. The catalogue
(tag_tools/reason_catalogue.py, data in tag_tools/locale/reasons.json) owns their bits, severity,
overridability and texts; `Reason` names the verifier's codes for the type checker, and a test keeps
the two equal.
"""

from dataclasses import dataclass
from enum import StrEnum

from tag_tools.chip_evidence import ChipEvidence, Originality
from tag_tools.claims import CylinderRecord
from tag_tools.reason_catalogue import Origin, Severity, catalogue
from tag_tools.reason_codes import Reason

__all__ = ["WARNING_REASONS", "ChipEvidence", "Decision", "Originality", "Reason", "Verdict"]


class Decision(StrEnum):
    ALLOW = "allow"
    ALLOW_WITH_WARNING = "allow_with_warning"
    REFUSE = "refuse"


# Reasons that only warn: the catalogue's severity says which.
WARNING_REASONS = frozenset(Reason(code) for code in catalogue().codes_where(severity=Severity.WARNING, origin=Origin.VERIFIER))


@dataclass(frozen=True)
class Verdict:
    """Decision plus reasons (refusals and warnings alike, most serious first).

    `record` is set only when its signature and signer were trusted.
    """

    decision: Decision
    reasons: tuple[Reason, ...] = ()
    record: CylinderRecord | None = None
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
