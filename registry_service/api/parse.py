"""Input validation for request bodies and query strings: every field checked, every failure an
InvalidInput naming the field (422), never an exception that becomes a 500."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from flask import request

from registry_service.errors import InvalidInput, RegistryError

E = TypeVar("E", bound=StrEnum)

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TAG_UID = re.compile(r"^[0-9A-Fa-f]{8,20}$")
PLATE = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff·-]{2,16}$")
CYLINDER_TEXT = re.compile(r"^[0-9]{1,3}-[0-9]{1,10}-[0-9]{1,20}$")


class UnsupportedMediaType(RegistryError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


def only_fields(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")


def text(
    data: Mapping[str, Any],
    key: str,
    *,
    required: bool = True,
    max_len: int = 200,
    pattern: re.Pattern[str] | None = None,
    nullable: bool = False,
) -> str | None:
    value = data.get(key)
    if value is None:
        _absent(data, key, required, nullable)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    value = value.strip()
    if not value and required:
        raise InvalidInput(f"{key} must not be empty")
    if len(value) > max_len:
        raise InvalidInput(f"{key} is longer than {max_len} characters")
    if "\x00" in value:
        raise InvalidInput(f"{key} contains a NUL character")
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
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{key} is not a valid date") from exc


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
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a hex string")
    cleaned = value.replace(":", "").replace(" ", "")
    if not TAG_UID.match(cleaned):
        raise InvalidInput(f"{key} must be 4 to 10 bytes of hex")
    return cleaned.upper()


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


def query_int(args: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = args.get(key)
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d{1,12}", raw):
        raise InvalidInput(f"{key} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise InvalidInput(f"{key} must be between {low} and {high}")
    return value
