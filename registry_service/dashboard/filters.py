"""The dashboard's query string: the API's refuel-attempt filters in browser form (local dates
instead of RFC 3339 instants, empty fields ignored), plus sorting and paging.

Dates are days in the bureau's time zone, both ends inclusive, because officers think in days;
they become the UTC half-open window the registry's queries take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode

from registry_service.api import parse
from registry_service.api.event_input import REASON
from registry_service.api.parse import CODE, choice, day, tag_uid
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services.queries import MAX_RANGE, EventFilter

DEFAULT_DAYS = 14
PAGE_SIZE = 50
SORTS = ("time", "station", "plate", "cylinder", "outcome")
FILTER_KEYS = ("since", "until", "outcome", "reason", "region", "station", "plate", "cylinder_id", "tag_uid")


@dataclass(frozen=True)
class DashboardQuery:
    """Everything a page's query string can ask for, already validated."""

    since: date
    until: date
    outcome: Outcome | None = None
    reason: str | None = None
    region: str | None = None
    station: str | None = None
    plate: str | None = None
    cylinder_id: str | None = None
    tag_uid: str | None = None
    sort: str = "time"
    descending: bool = True
    page: int = 1

    def event_filter(self, utc_offset_hours: int, outcomes: tuple[Outcome, ...] = ()) -> EventFilter:
        zone = timezone(timedelta(hours=utc_offset_hours))
        return EventFilter(
            since=datetime.combine(self.since, time(0), zone),
            until=datetime.combine(self.until + timedelta(days=1), time(0), zone),
            outcomes=(self.outcome,) if self.outcome else outcomes,
            reason=self.reason, region=self.region, station=self.station, plate=self.plate,
            cylinder_id=self.cylinder_id, tag_uid=self.tag_uid,
        )

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    def params(self, **changes: object) -> dict[str, str]:
        """The query string of this query with some fields changed (None drops a field)."""
        values = {key: getattr(self, key) for key in (*FILTER_KEYS, "sort", "descending", "page")}
        values.update(changes)
        out: dict[str, str] = {}
        for key, value in values.items():
            if value is None or value == "" or (key, value) in (("sort", "time"), ("descending", True), ("page", 1)):
                continue
            if key == "descending":
                out["order"] = "asc"
            elif isinstance(value, date):
                out[key] = value.isoformat()
            else:
                out[key] = str(value)
        return out

    def query_string(self, **changes: object) -> str:
        return urlencode(self.params(**changes))

    def with_region(self, region: str | None) -> DashboardQuery:
        return replace(self, region=region, page=1)


def today_local(now: datetime, utc_offset_hours: int) -> date:
    return now.astimezone(timezone(timedelta(hours=utc_offset_hours))).date()


def parse_query(args: Mapping[str, str], now: datetime, utc_offset_hours: int, default_days: int = DEFAULT_DAYS) -> DashboardQuery:
    """Validate a page's query string; empty fields mean "no filter" (what an HTML form sends)."""
    values = {key: value.strip() for key, value in args.items() if isinstance(value, str) and value.strip()}
    until = day(values["until"], "until") if "until" in values else today_local(now, utc_offset_hours)
    since = day(values["since"], "since") if "since" in values else until - timedelta(days=default_days - 1)
    if since > until:
        raise InvalidInput("since must not be after until")
    if (until - since) >= MAX_RANGE:
        raise InvalidInput(f"a query covers at most {MAX_RANGE.days} days")
    outcome = choice(values["outcome"], "outcome", Outcome) if "outcome" in values else None
    reason = _matching(values, "reason", REASON)
    sort = values.get("sort", "time")
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of: {', '.join(SORTS)}")
    page_text = values.get("page", "1")
    # ASCII digits only: str.isdigit() also takes "١٢" and "²" (int() refuses the latter: a 500).
    if not re.fullmatch(r"[0-9]{1,5}", page_text) or not 1 <= int(page_text) <= 10_000:
        raise InvalidInput("page must be a number from 1 to 10000")
    return DashboardQuery(
        since=since, until=until, outcome=outcome, reason=reason,
        region=_matching(values, "region", CODE), station=_matching(values, "station", CODE),
        plate=_identifier(values, "plate", parse.plate), cylinder_id=_identifier(values, "cylinder_id", parse.cylinder_id),
        tag_uid=tag_uid(values["tag_uid"], "tag_uid") if "tag_uid" in values else None,
        sort=sort, descending=values.get("order", "desc") != "asc", page=int(page_text),
    )


def _identifier(values: Mapping[str, str], key: str, check: Callable[[object, str], str]) -> str | None:
    """The canonical form (tag_tools.identifiers) of a plate or cylinder typed into a filter, so that
    "粤ｂ 12345" finds 粤B12345; None when the filter is not set."""
    value = values.get(key)
    return check(value, key) if value else None


def _matching(values: Mapping[str, str], key: str, pattern: object) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if len(value) > 80 or not pattern.match(value):  # type: ignore[attr-defined]
        raise InvalidInput(f"{key} is not in the expected format")
    return value
