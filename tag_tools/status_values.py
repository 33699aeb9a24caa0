"""The values of one status-list entry: a leaf module, so errors and the status list can both name them.

tag_tools.status_list re-exports `StatusValue`; tag_tools.errors' RevocationClearedError carries two.
"""

from enum import IntEnum


class StatusValue(IntEnum):
    """What a station does with a record, by its entry. Numeric order is severity order: the signer
    only ever raises an entry, so a lower value replacing a higher one is refused.

    0 and 1 are the draft's VALID and INVALID; 2 is its SUSPENDED, used here for "reported stolen"
    (a recovered cylinder gets a new record and index, never its old bit back); 3 is the draft's
    application-specific value, used for condemned or scrapped cylinders."""

    VALID = 0
    SUPERSEDED = 1
    REVOKED_STOLEN = 2
    REVOKED_SCRAPPED = 3
