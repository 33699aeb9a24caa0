"""The one base error of tag_tools and its narrow subclasses.

Each error also subclasses the builtin it refines (ValueError, OSError), as PyNaCl does, so callers
that only know the builtin still catch it. Verification never raises these for bad tag contents:
it turns them into reason codes; they surface only from tools and APIs used by people.
"""

from tag_tools.reason_codes import Reason
from tag_tools.status_values import StatusValue


class TagToolsError(Exception):
    """Base of every error raised on purpose by tag_tools."""


class RecordFormatError(TagToolsError, ValueError):
    """Bytes that should be a tag record, an NDEF message or tag memory are not well formed."""


class UnsupportedVersionError(RecordFormatError):
    """A well-formed record of a format version this code does not know."""


class SignatureError(TagToolsError, ValueError):
    """A signature did not verify, or was made with an algorithm we do not accept."""


class TrustError(TagToolsError, ValueError):
    """A certificate or trust list is not acceptable (chain, usage, validity, authenticity)."""


class KeyStoreError(TagToolsError, ValueError):
    """A private key file cannot be written, read or decrypted, or no passphrase is available."""


class InputError(TagToolsError, ValueError):
    """Input given by a person (JSON, CSV row, command-line value) is not acceptable."""


class NoRecordError(RecordFormatError):
    """The tag holds no cylinder record at all (blank, or only other NDEF records)."""


class RecordRejectedError(TagToolsError, ValueError):
    """A record is not authentic or not bound to this tag; `reason` is the verdict's reason code."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class StatusListError(TagToolsError, ValueError):
    """A status list is not acceptable: not authentic, malformed, or inflating to the wrong size."""


class StatusListStaleError(StatusListError):
    """An authentic status list that has expired, or is issued in the future (a clock is wrong)."""


class StatusListRollbackError(StatusListError):
    """An authentic status list older (lower sequence) than the one already held: a replay."""


class StatusIndexError(StatusListError, IndexError):
    """A record's status index is outside the list it names: its status cannot be known."""


class RevocationClearedError(StatusListError):
    """A new status list would lower an entry of the previous one (undo a revocation or supersession)."""

    def __init__(self, index: int, before: StatusValue | None, after: StatusValue | None, detail: str) -> None:
        super().__init__(detail)
        self.index = index
        self.before = before
        self.after = after


class PolicyError(TagToolsError, ValueError):
    """A central station policy document is not acceptable (malformed, for another station, bad terms)."""


class PolicyForgedError(PolicyError):
    """A policy document that is not authentic: unknown or revoked signer, bad signature."""


class PolicyRollbackError(PolicyError):
    """An authentic policy document not newer (sequence not above) than the one already held: a replay."""
