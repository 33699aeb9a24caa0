"""The refuel-attempt filter (services.queries.EventFilter) read from query-string values.

One reading for the API's /bureau/* queries and for the dashboard's pages, so that a filter field
is added, and checked, in one place. The time window is the caller's: RFC 3339 instants in the
API, local days on the dashboard (dashboard/filters.py). Empty values are the caller's too: the API
refuses them, the dashboard drops them (what an HTML form sends for "no filter").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime

from registry_service.api import parse
from registry_service.api.event_input import REASON
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services.queries import EventFilter

# Every field from_query reads, besides the time window.
FIELDS = ("outcome", "reason", "region", "station", "plate", "cylinder_id", "tag_uid", "decided_offline", "clock_skewed")


def from_query(values: Mapping[str, str], since: datetime | None = None, until: datetime | None = None) -> EventFilter:
    """The filter the non-empty `values` ask for; InvalidInput names the first field that is wrong.

    outcome is one outcome or several, comma-separated; plate, cylinder_id and tag_uid are brought
    to their canonical forms (tag_tools.identifiers), so that "粤ｂ 12345" finds 粤B12345.
    """
    outcomes: tuple[Outcome, ...] = ()
    if "outcome" in values:
        outcomes = tuple(parse.choice(o, "outcome", Outcome) for o in values["outcome"].split(","))
    return EventFilter(
        since=since,
        until=until,
        outcomes=outcomes,
        reason=_matching(values, "reason", REASON, "reason is not a reason code"),
        region=_matching(values, "region", parse.CODE, "region is not a code"),
        station=_matching(values, "station", parse.CODE, "station is not a code"),
        plate=_canonical(values, "plate", parse.plate),
        cylinder_id=_canonical(values, "cylinder_id", parse.cylinder_id),
        tag_uid=_canonical(values, "tag_uid", parse.tag_uid),
        decided_offline=_flag(values, "decided_offline"),
        clock_skewed=_flag(values, "clock_skewed"),
    )


def _matching(values: Mapping[str, str], key: str, pattern: re.Pattern[str], message: str) -> str | None:
    value = values.get(key)
    if value is not None and not pattern.match(value):
        raise InvalidInput(message)
    return value


def _canonical(values: Mapping[str, str], key: str, canonical: Callable[[object, str], str]) -> str | None:
    value = values.get(key)
    return canonical(value, key) if value is not None else None


def _flag(values: Mapping[str, str], key: str) -> bool | None:
    value = values.get(key)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise InvalidInput(f"{key} must be true or false")
    return value == "true"
