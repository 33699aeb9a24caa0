"""Reason codes as bits, so scan events can be filtered by reason with one integer test.

The bits come from the reason catalogue (tag_tools/locale/reasons.json through
tag_tools.reason_catalogue), which is append-only: a code's bit never changes once events were stored
with it. A code the catalogue does not know yet still lands in the text column and sets OTHER_BIT.
"""

from __future__ import annotations

from collections.abc import Iterable

from registry_service.errors import InvalidInput
from tag_tools.reason_catalogue import MAX_BIT, catalogue

# Every reason code (the verifier's, the station's and the registry's own), in bit order.
REASON_CODES: tuple[str, ...] = catalogue().codes
OTHER_BIT = 1 << (MAX_BIT + 1)
_BITS = {entry.code: entry.mask for entry in catalogue().entries}
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
