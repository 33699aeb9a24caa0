"""One canonical form for the identifiers every part of the system compares: number plates, VINs,
cylinder IDs and tag UIDs.

The same plate typed on a phone (a full-width B, U+FF22), copied from a spreadsheet (a space, a middle
dot) or read from a tag must be one vehicle, not two; and a value that is not an identifier at all
must be refused where it enters, with an error naming the field, never stored to break a
comparison later. Every entry point (registry API, CSV import, tag signing, the station's events)
calls these functions; stored data is rewritten to the same forms by registry migration 0007.

Each function takes what a person or a tag gave, refuses control characters, lone surrogates and
non-characters (tag_tools.fields rules), applies NFKC (full-width and compatibility forms become
ASCII), upper-cases, removes the separators people type (spaces, hyphens, middle dots), checks the
result against the formats below and returns it, or raises IdentifierError. Pure: no I/O.

Plates: the national formats of the deployments.
  China (GA 36-2018): province character + letter + 5 letters/digits ("粤B12345"). New-energy
    plates have 6, with an energy letter first (small vehicles, "粤BD12345") or last (large ones,
    "粤B12345D"): D or F, and A/B/C/E and G/H/J/K since the D and F series ran out in some cities.
    Special plates: 4 and a suffix 挂/学/警/使/领 ("豫A1234学"), Hong Kong and Macau vehicles
    粤Z + 4 + 港/澳, and embassy plates 使 + 6 digits. Letters never include I or O.
  Peru: ABC-123 and A1B-234 (stored without the hyphen: "ABC123", "A1B234").
  Colombia: ABC123 (cars) and ABC12D (motorcycles).
  Bolivia: 1234ABC, and the older 123ABC.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from tag_tools.fields import FieldError, has_forbidden_character

MAX_RAW_LENGTH = 64  # longer input is refused before any normalisation work

# Removed from plates, VINs and UIDs; hyphen-like characters become "-" in cylinder IDs.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_DOTS = "\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff65"
_PLATE_SEPARATORS = re.compile(f"[\\s{re.escape(_DASHES + _DOTS)}]+")
_UID_SEPARATORS = re.compile(f"[\\s:{re.escape(_DASHES)}]+")
_DASH = re.compile(f"[{re.escape(_DASHES)}]")
_SPACES = re.compile(r"\s+")

CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_CN = f"[{CN_PROVINCES}][A-HJ-NP-Z]"
_CN_CHAR = "[A-HJ-NP-Z0-9]"
_CN_ENERGY = "[A-HJK]"  # D, A, B, C, E: battery electric; F, G, H, J, K: other new energy
PLATE_FORMATS: dict[str, str] = {
    "China": f"{_CN}{_CN_CHAR}{{5}}",
    "China new-energy, small vehicle": f"{_CN}{_CN_ENERGY}{_CN_CHAR}{{5}}",
    "China new-energy, large vehicle": f"{_CN}{_CN_CHAR}{{5}}{_CN_ENERGY}",
    "China special": f"{_CN}{_CN_CHAR}{{4}}[挂学警使领]",
    "China Hong Kong / Macau": f"粤Z{_CN_CHAR}{{4}}[港澳]",
    "China embassy": "使[0-9]{6}",
    "Peru / Colombia": "[A-Z][A-Z0-9]{2}[0-9]{3}",
    "Colombia motorcycle": "[A-Z]{3}[0-9]{2}[A-Z]",
    "Bolivia": "[0-9]{3,4}[A-Z]{3}",
}
PLATE_PATTERN = re.compile("^(?:" + "|".join(PLATE_FORMATS.values()) + ")$")
VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # ISO 3779: no I, O or Q
CYLINDER_ID_PATTERN = re.compile(r"^[0-9]{1,3}-[0-9]{1,10}-[0-9]{1,20}$")
TAG_UID_PATTERN = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")  # ISO 14443: 4, 7 or 10 bytes


class IdentifierError(FieldError):
    """A plate, VIN, cylinder ID or tag UID that is not one; the message names the field."""


def _prepared(value: object, field: str) -> str:
    """NFKC and upper case of a clean text value (the shared rules of tag_tools.fields)."""
    if not isinstance(value, str):
        raise IdentifierError(field, "must be text")
    if len(value) > MAX_RAW_LENGTH:
        raise IdentifierError(field, f"is longer than {MAX_RAW_LENGTH} characters")
    broken = has_forbidden_character(value)
    if broken:
        raise IdentifierError(field, broken)
    return unicodedata.normalize("NFKC", value).upper()


def plate(value: object, field: str = "plate") -> str:
    """The canonical plate ("粤B12345", "ABC123"); IdentifierError unless it is a national format."""
    text = _PLATE_SEPARATORS.sub("", _prepared(value, field))
    if not text:
        raise IdentifierError(field, "must not be empty")
    if not PLATE_PATTERN.match(text):
        raise IdentifierError(field, "is not a number plate of a supported format")
    return text


def vin(value: object, field: str = "vin") -> str:
    """The VIN upper-cased without spaces or hyphens. The check digit is not enforced: Chinese VINs
    carry one, but imported and test fleets do not all pass it."""
    text = _PLATE_SEPARATORS.sub("", _prepared(value, field))
    if not VIN_PATTERN.match(text):
        raise IdentifierError(field, "must be 17 letters and digits without I, O or Q")
    return text


def cylinder_id(value: object, field: str = "cylinder_id") -> str:
    """COUNTRY-ISSUER-NUMBER in the form tag_tools.claims.CylinderId prints (country three digits,
    no other leading zeros), so an ID typed in a CSV and the one read from a tag are the same text."""
    text = _DASH.sub("-", _SPACES.sub("", _prepared(value, field)))
    if not CYLINDER_ID_PATTERN.match(text):
        raise IdentifierError(field, "must look like 156-4101-20190012345")
    country, issuer, number = (int(part) for part in text.split("-"))
    if country == 0:
        raise IdentifierError(field, "has country code 000")
    return f"{country:03d}-{issuer}-{number}"


def tag_uid(value: object, field: str = "tag_uid") -> str:
    """Upper-case hex of a 4, 7 or 10 byte UID; ":", "-" and spaces between bytes are removed."""
    text = _UID_SEPARATORS.sub("", _prepared(value, field))
    if not TAG_UID_PATTERN.match(text):
        raise IdentifierError(field, "must be 4, 7 or 10 bytes of hex")
    return text


def canonical_or_none(check: Callable[[object, str], str], value: object, field: str) -> str | None:
    """`check(value)`, or None when the value is not a valid identifier: for callers that must not
    fail on what a tag says (the station keeps the raw value in its own log)."""
    try:
        return check(value, field)
    except IdentifierError:
        return None


def plate_key(value: str) -> str:
    """What two plates are compared by: the canonical form when the value is a plate, otherwise the
    same normalisation without the format check. Never raises, for comparing what tags say."""
    canonical = canonical_or_none(plate, value, "plate")
    if canonical is not None:
        return canonical
    return _PLATE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value).upper())


def vin_key(value: str) -> str:
    """What two VINs are compared by; never raises (see plate_key)."""
    canonical = canonical_or_none(vin, value, "vin")
    return canonical if canonical is not None else _PLATE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value).upper())
