"""The dashboard's query string: the API's refuel-attempt filter in browser form (local dates
instead of RFC 3339 instants, empty fields ignored; the fields themselves are read by
api/event_filter.py, as for the API), plus sorting and paging.

Dates are days in the bureau's time zone, both ends inclusive, because officers think in days;
they become the UTC half-open window the registry's queries take.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode

from registry_service.api import event_filter
from registry_service.api.parse import day
from registry_service.errors import InvalidInput
from registry_service.models import Outcome
from registry_service.services.queries import MAX_RANGE, EventFilter

DEFAULT_DAYS = 14
PAGE_SIZE = 50
SORTS = ("time", "station", "plate", "cylinder", "outcome")
# The refuel-attempt fields a page's query string carries (api/event_filter.py reads them).
EVENT_KEYS = ("outcome", "reason", "region", "station", "plate", "cylinder_id", "tag_uid")
FILTER_KEYS = ("since", "until", *EVENT_KEYS)


@dataclass(frozen=True)
class DashboardQuery:
    """Everything a page's query string can ask for, already validated: the days, the refuel-attempt
    filter they narrow (its own since/until stay unset: event_filter() sets them from the days),
    sorting and paging."""

    since: date
    until: date
    events: EventFilter = field(default_factory=EventFilter)
    sort: str = "time"
    descending: bool = True
    page: int = 1

    def event_filter(self, utc_offset_hours: int, outcomes: tuple[Outcome, ...] = ()) -> EventFilter:
        """The filter with the days as a UTC half-open window; `outcomes` when the query names none."""
        zone = timezone(timedelta(hours=utc_offset_hours))
        return replace(
            self.events,
            since=datetime.combine(self.since, time(0), zone),
            until=datetime.combine(self.until + timedelta(days=1), time(0), zone),
            outcomes=self.events.outcomes or outcomes,
        )

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    def params(self, **changes: object) -> dict[str, str]:
        """The query string of this query with some fields changed (None drops a field)."""
        values: dict[str, object] = {"since": self.since, "until": self.until, "outcome": ",".join(self.events.outcomes) or None}
        values.update({key: getattr(self.events, key) for key in EVENT_KEYS if key != "outcome"})
        values.update({"sort": self.sort, "descending": self.descending, "page": self.page})
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
        return replace(self, events=replace(self.events, region=region), page=1)


def today_local(now: datetime, utc_offset_hours: int) -> date:
    return now.astimezone(timezone(timedelta(hours=utc_offset_hours))).date()


def parse_query(
    args: Mapping[str, str], now: datetime, utc_offset_hours: int, default_days: int = DEFAULT_DAYS
) -> DashboardQuery:
    """Validate a page's query string; empty fields mean "no filter" (what an HTML form sends)."""
    values = {key: value.strip() for key, value in args.items() if isinstance(value, str) and value.strip()}
    until = day(values["until"], "until") if "until" in values else today_local(now, utc_offset_hours)
    since = day(values["since"], "since") if "since" in values else until - timedelta(days=default_days - 1)
    if since > until:
        raise InvalidInput("since must not be after until")
    if (until - since) >= MAX_RANGE:
        raise InvalidInput(f"a query covers at most {MAX_RANGE.days} days")
    events = event_filter.from_query({key: values[key] for key in EVENT_KEYS if key in values})
    sort = values.get("sort", "time")
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of: {', '.join(SORTS)}")
    page_text = values.get("page", "1")
    # ASCII digits only: str.isdigit() also takes "١٢" and "²" (int() refuses the latter: a 500).
    if not re.fullmatch(r"[0-9]{1,5}", page_text) or not 1 <= int(page_text) <= 10_000:
        raise InvalidInput("page must be a number from 1 to 10000")
    return DashboardQuery(
        since=since,
        until=until,
        events=events,
        sort=sort,
        descending=values.get("order", "desc") != "asc",
        page=int(page_text),
    )
