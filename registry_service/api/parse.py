"""Input validation for request bodies and query strings: every field checked, every failure an
InvalidInput naming the field (422), never an exception that becomes a 500."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from flask import request

from registry_service.api import json_input
from registry_service.errors import InvalidInput, RegistryError
from tag_tools import fields, identifiers
from tag_tools.fields import FieldError, clean_text

E = TypeVar("E", bound=StrEnum)

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")  # \Z: "$" would let a final newline through
# The canonical forms of tag_tools.identifiers. Inputs go through plate()/cylinder_id()/tag_uid()
# below, which normalise first; these patterns only say what a canonical value looks like.
TAG_UID = identifiers.TAG_UID_PATTERN
PLATE = identifiers.PLATE_PATTERN
CYLINDER_TEXT = identifiers.CYLINDER_ID_PATTERN


class UnsupportedMediaType(RegistryError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with Content-Type: application/json")
    # Not request.get_json: it lets a RecursionError from a deeply nested body through (a 500).
    data = json_input.loads(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


def only_fields(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")


def password(data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """A password exactly as typed: not stripped and not normalised (the dashboard's sign-in form
    does neither, and both paths must hash the same bytes). Characters UTF-8 cannot encode or an
    overlong value are refused here; at log-in they would simply never match."""
    value = data.get(key)
    if value is None:
        _absent(data, key, required, nullable=False)
        return None
    if fields.usable_password(value) is None:
        raise InvalidInput(f"{key} must be text of 1 to {fields.PASSWORD_MAX} characters without control characters")
    return str(value)


def text(
    data: Mapping[str, Any],
    key: str,
    *,
    required: bool = True,
    max_len: int = 200,
    pattern: re.Pattern[str] | None = None,
    nullable: bool = False,
) -> str | None:
    """Free text under the shared rules of tag_tools.fields.clean_text (NFC, stripped, no control
    characters, lone surrogates or non-characters, length counted after stripping)."""
    value = data.get(key)
    if value is None:
        _absent(data, key, required, nullable)
        return None
    try:
        value = clean_text(value, field=key, min_len=1 if required else 0, max_len=max_len)
    except FieldError as exc:
        raise InvalidInput(str(exc)) from None
    if pattern is not None and value and not pattern.match(value):
        raise InvalidInput(f"{key} is not in the expected format")
    return value


def _absent(data: Mapping[str, Any], key: str, required: bool, nullable: bool) -> None:
    """A missing or null value: fine when optional; an explicit null only where the API allows it."""
    if required:
        raise InvalidInput(f"{key} is required")
    if key in data and not nullable:
        raise InvalidInput(f"{key} must be left out rather than null")


def required_text(data: Mapping[str, Any], key: str, **kw: Any) -> str:
    value = text(data, key, required=True, **kw)
    assert value is not None
    return value


def integer(
    data: Mapping[str, Any], key: str, *, required: bool = True, low: int = 0, high: int = 2**31 - 1, nullable: bool = False
) -> int | None:
    value = data.get(key)
    if value is None:
        _absent(data, key, required, nullable)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer")
    if not low <= value <= high:
        raise InvalidInput(f"{key} must be between {low} and {high}")
    return value


def boolean(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key} must be true or false")
    return value


def any_timestamp(value: object, key: str) -> datetime:
    """An RFC 3339 date-time with its offset, of any year."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"{key} must be an RFC 3339 date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{key} is not an RFC 3339 date-time") from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{key} needs a time zone offset")
    return parsed


def timestamp(value: object, key: str) -> datetime:
    parsed = any_timestamp(value, key)
    if not 2000 <= parsed.year <= 2199:
        raise InvalidInput(f"{key} is out of range")
    return parsed


def day(value: object, key: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise InvalidInput(f"{key} must be a date YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{key} is not a valid date") from exc
    # The years `timestamp` takes: a filter or window built from year 1 or 9999 plus or minus a
    # few days would overflow the calendar (OverflowError, a 500) before any query runs.
    if not 2000 <= parsed.year <= 2199:
        raise InvalidInput(f"{key} is out of range (years 2000 to 2199)")
    return parsed


def event_uuid(value: object, key: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(f"{key} is not a UUID") from exc


def choice(value: object, key: str, enum_type: type[E]) -> E:
    allowed = ", ".join(m.value for m in enum_type)
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be one of: {allowed}")
    try:
        return enum_type(value)
    except ValueError as exc:
        raise InvalidInput(f"{key} must be one of: {allowed}") from exc


def tag_uid(value: object, key: str) -> str:
    """The canonical tag UID (tag_tools.identifiers.tag_uid); InvalidInput names `key`."""
    return _identifier(identifiers.tag_uid, value, key)


def plate(value: object, key: str) -> str:
    """The canonical plate (full-width, case, spaces and separators folded); InvalidInput names `key`."""
    return _identifier(identifiers.plate, value, key)


def cylinder_id(value: object, key: str) -> str:
    """The canonical cylinder ID; InvalidInput names `key`."""
    return _identifier(identifiers.cylinder_id, value, key)


def vin(value: object, key: str) -> str:
    """The canonical VIN; InvalidInput names `key`."""
    return _identifier(identifiers.vin, value, key)


def optional_identifier(
    data: Mapping[str, Any], key: str, check: Callable[[object, str], str], *, nullable: bool = False
) -> str | None:
    """`check(data[key])` when the key is there; None when it is absent (or null where allowed)."""
    value = data.get(key)
    if value is None:
        _absent(data, key, False, nullable)
        return None
    if isinstance(value, str) and not value.strip():
        return None  # an empty optional field means "not given", as for free text
    return _identifier(check, value, key)


def _identifier(check: Callable[[object, str], str], value: object, key: str) -> str:
    try:
        return check(value, key)
    except identifiers.IdentifierError as exc:
        raise InvalidInput(str(exc)) from None


# Query strings -------------------------------------------------------------------------------


def query_args(allowed: Iterable[str]) -> dict[str, str]:
    allowed = set(allowed)
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)}")
    for key in request.args:
        if len(request.args.getlist(key)) > 1:
            raise InvalidInput(f"query parameter {key} given more than once")
    return {k: v for k, v in request.args.items()}


def filled(args: dict[str, str]) -> dict[str, str]:
    """`args`, refused when a parameter is given without a value (`?kind=`): never read as "any"."""
    empty = sorted(key for key, value in args.items() if not value)
    if empty:
        raise InvalidInput(f"query parameter(s) given without a value: {', '.join(empty)}")
    return args


def optional_timestamp(args: Mapping[str, str], key: str) -> datetime | None:
    """The query parameter `key` as a timestamp (see timestamp), None when it is not given."""
    return timestamp(args[key], key) if key in args else None


def query_int(args: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = args.get(key)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,12}", raw):  # not \d: it matches "١٢" and "１２" too
        raise InvalidInput(f"{key} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise InvalidInput(f"{key} must be between {low} and {high}")
    return value
