"""The one rule set for text people type that ends up in a scan event: attendant codes, supervisor
IDs, override reasons, session IDs. The station agent checks with these rules before it enables a
pump, and the registry checks with the same rules when the event arrives, so nothing the station
accepts (and acts on) can be refused later and go unreported.

A value is normalised (NFC, surrounding white space removed) and then checked: no control
characters (NUL, newlines, escapes), no lone surrogates (they cannot be encoded as UTF-8, so they
would break every JSON writer and every PostgreSQL text column downstream), no Unicode
non-characters, and a length in characters after normalisation. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tag_tools.errors import InputError


class FieldError(InputError):
    """A typed value breaks the shared rules; the message names the field and the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field} {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class TextRule:
    """Limits for one kind of typed text; `check` returns the normalised value or raises FieldError."""

    field: str
    min_len: int
    max_len: int

    def check(self, value: object) -> str:
        return clean_text(value, field=self.field, min_len=self.min_len, max_len=self.max_len)

    def optional(self, value: object) -> str | None:
        """For a field an event may leave out: None for None or "" (not given), else `check`.
        The station's event builder and the registry's event parser both use this, so they agree
        on what "absent" means as well as on what is valid."""
        if value is None or value == "":
            return None
        return self.check(value)


ATTENDANT = TextRule("attendant", 1, 32)
SUPERVISOR = TextRule("supervisor", 1, 64)
OVERRIDE_REASON = TextRule("override_reason", 4, 200)
SESSION_ID = TextRule("session_id", 1, 64)
# Numbers a scan event carries, with the registry's column limits: the station leaves a value
# outside them out of the registry's copy rather than have the whole event refused.
EVENT_MAX_REASONS = 16
EVENT_MAX_READ_COUNTER = 2**24 - 1  # NTAG21x's 24-bit NFC counter
EVENT_MAX_RECORD_SEQUENCE = 2**31 - 1  # a 32-bit signed column in the registry
PASSWORD_MAX = 256  # longer passwords are refused before any hashing: a KDF on megabytes is a DoS


# The characters the rules forbid, as one class the regex engine scans in C: Unicode's Cc (control)
# category is exactly U+0000-U+001F and U+007F-U+009F, Cs (surrogates) U+D800-U+DFFF, and the 66
# non-characters are U+FDD0-U+FDEF plus the last two code points of every plane. Registry and
# station check every identifier of every request with it, and a unicodedata lookup per character
# cost more than the rest of a status check's parsing (a test compares it with unicodedata on
# every code point).
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
_FORBIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")


def has_forbidden_character(text: str) -> str | None:
    """The first rule `text` breaks ("a control character", ...), or None when it is clean."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if code < 0xD800:
        return "contains a control character"
    if code <= 0xDFFF:
        return "contains a lone surrogate (not valid Unicode text)"
    return "contains a Unicode non-character"


def clean_text(value: object, *, field: str, min_len: int = 0, max_len: int = 200) -> str:
    """`value` normalised (NFC, stripped) and checked; FieldError naming `field` otherwise.

    Length is counted after stripping, so leading white space can neither hide a short reason nor
    push a valid one over the limit where another checker truncates first."""
    if not isinstance(value, str):
        raise FieldError(field, "must be text")
    broken = has_forbidden_character(value)
    if broken:
        raise FieldError(field, broken)
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) < min_len:
        raise FieldError(field, "must not be empty" if min_len <= 1 else f"needs at least {min_len} characters")
    if len(text) > max_len:
        raise FieldError(field, f"is longer than {max_len} characters")
    return text


def usable_password(value: object) -> str | None:
    """The password as typed when it could be hashed and compared; None when it never could be
    (not text, too long, or with characters UTF-8 cannot encode). A None is a wrong password,
    answered the same way and after the same work as any other wrong password."""
    if not isinstance(value, str) or not value or len(value) > PASSWORD_MAX or has_forbidden_character(value):
        return None
    return value
