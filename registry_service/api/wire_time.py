"""Time on the wire between stations and the registry: the station's zone in a status request,
a station's clock reading in an event, and the registry's own clock in every answer a station
uses to measure its clock offset (docs/station.md, "Time")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from registry_service.api import parse
from registry_service.errors import InvalidInput

# IANA names: "Asia/Shanghai", "UTC", "Etc/GMT-8". No dots, so never a path out of the tz database.
ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,31}(/[A-Za-z0-9_+-]{1,32}){0,2}\Z")
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def time_zone(value: object, key: str) -> tzinfo:
    """An IANA time zone by name; InvalidInput names the field when it is not one."""
    if not isinstance(value, str) or not ZONE_NAME.match(value):
        raise InvalidInput(f"{key} must be an IANA time zone name such as Asia/Shanghai")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"{key}: {value!r} is not a known time zone") from None


def station_clock(value: object, key: str) -> datetime:
    """A station's clock reading, in UTC. Any year parses: a box that booted with a 1970 clock
    still reports its events, and the registry corrects and flags them (services/events.py)."""
    parsed = parse.any_timestamp(value, key)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar by its offset
        return EARLIEST if parsed.year == 1 else LATEST


def registry_time(now: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-11-22T02:00:00.000Z."""
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
