"""The verifier's reason codes as an enum: a leaf module, so errors and verdicts can both name them.

The catalogue (tag_tools/reason_catalogue.py) owns each code's bit, severity, overridability and
texts; `Reason` only names the codes for the type checker, and a test keeps the two equal. It lives
below tag_tools.errors (whose RecordRejectedError carries one) and tag_tools.verdict (which
re-exports it), so neither has to import the other.
"""

from enum import StrEnum


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
