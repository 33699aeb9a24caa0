"""Reason codes as bits, so scan events can be filtered by reason with one integer test.

The order is frozen: a code's bit never changes once events were stored with it. New codes are
appended; a code this table does not know yet still lands in the text column and sets OTHER_BIT.
"""

from __future__ import annotations

from collections.abc import Iterable

from registry_service.errors import InvalidInput

# Station verdict reasons (tag_tools.verdict.Reason values) plus the registry's own.
REASON_CODES: tuple[str, ...] = (
    "no_record",
    "malformed",
    "unsupported_version",
    "unknown_signer",
    "bad_signature",
    "signer_revoked",
    "signer_not_valid_at_issue",
    "trust_list_stale",
    "trust_list_not_authentic",
    "issued_in_future",
    "uid_mismatch",
    "inspection_overdue",
    "inspection_failed",
    "past_service_life",
    "cylinder_revoked",
    "record_superseded",
    "chip_not_genuine",
    "due_soon",
    "chip_not_genuine_warning",
    "unregistered",
    "registration_mismatch",
    "tag_unreadable",
    "refilled_too_soon",
    "cylinder_missing",
    "agent_error",
    "record_newer_than_registry",
    "clock_unset",
)
OTHER_BIT = 1 << 62
_BITS = {code: 1 << index for index, code in enumerate(REASON_CODES)}
REASON_PATTERN = r"^[a-z][a-z0-9_]{0,47}\Z"


def mask_of(reasons: Iterable[str]) -> int:
    mask = 0
    for reason in reasons:
        mask |= _BITS.get(reason, OTHER_BIT)
    return mask


def bit_of(reason: str) -> int:
    try:
        return _BITS[reason]
    except KeyError as exc:
        raise InvalidInput(f"unknown reason code {reason!r}") from exc
