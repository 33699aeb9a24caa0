"""Errors of the reader layer: one base, narrow subclasses, each keeping the cause.

Backends translate their stack's exceptions (nfcpy, pyscard/PC/SC codes) into these at the
boundary, with `raise ... from error` and `cause=error`, so callers see one family of errors and
a person can still see what the driver said. `cylinder-tag` maps every ReaderError to exit code
READER_ERROR.
"""

from __future__ import annotations

from tag_tools.errors import TagToolsError


class ReaderError(TagToolsError):
    """A reader or a tag failed; `cause` is the driver's own exception, when there was one."""

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class ReaderPathError(ReaderError, ValueError):
    """A reader path string that names no known backend or is malformed."""


class ReaderNotFoundError(ReaderError):
    """No such reader, the reader was unplugged, or its driver stack is not running."""


class ReaderBusyError(ReaderError):
    """Another program holds the reader (typically nfcpy and pcscd claiming the same device)."""


class ReadTimeout(ReaderError):
    """No tag came into the field before the timeout."""


class WaitCancelled(ReaderError):
    """Waiting for a tag was cancelled by the caller."""


class TagRemovedError(ReaderError):
    """The tag left the field (or stopped answering) in the middle of an operation."""


class MultipleTagsError(ReaderError):
    """More than one tag answered, or the tag's memory names another UID than the one selected."""


class NotType2TagError(ReaderError):
    """The card in the field is not an NFC Forum Type 2 Tag (e.g. a bank card, a Type 4 tag)."""


class TagNotFormattedError(ReaderError):
    """The tag has no NDEF capability container, so there is nowhere to put an NDEF message."""


class TagCommandError(ReaderError):
    """The tag refused a command (NAK) or answered something malformed."""

    def __init__(self, message: str, *, cause: BaseException | None = None, nak: int | None = None) -> None:
        super().__init__(message, cause=cause)
        self.nak = nak


class CommandNotSupported(TagCommandError):
    """The tag or the reader does not implement a command (no answer, or the reader refuses it)."""


class TagLockedError(ReaderError):
    """The tag, or the part of it a write needs, is permanently read-only."""


class TagFullError(ReaderError):
    """The NDEF message does not fit the tag's data area."""


class PartialWriteError(ReaderError):
    """A write stopped half-way or did not read back: the tag now holds neither old nor new data."""

    def __init__(self, message: str, *, pages_written: int, pages_total: int, cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        self.pages_written = pages_written
        self.pages_total = pages_total
