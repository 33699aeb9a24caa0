"""The dashboard's query string: the API's refuel-attempt filter in browser form (local dates
instead of RFC 3339 instants, empty fields ignored; the fields themselves are read by
api/event_filter.py, as for the API), plus sorting and paging.

Dates are days in the bureau's time zone, both ends inclusive, because officers think in days;
they become the UTC half-open window the registry's queries take.

A query string with wrong fields is refused as a whole (FilterRefused), naming every wrong field
and how it is wrong (a member of FIELD_ERRORS, worded by the "field_error" messages), and keeping
what was typed (`Form`), so that the page shows its form again with those fields marked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import TypeVar
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
# Every field a page's form has: what a refused form shows again as it was typed.
FORM_KEYS = (*FILTER_KEYS, "sort", "order", "page", "kind", "cursor", "q")
MAX_ECHO = 200  # characters of a refused value shown again: enough for anything a person types

# How a field can be wrong: the "field_error" message family (i18n.FAMILIES).
FIELD_ERRORS = (
    "not_a_date",
    "since_after_until",
    "range_too_long",
    "not_a_choice",
    "not_a_code",
    "unknown_region",
    "unknown_station",
    "not_a_plate",
    "not_a_cylinder_id",
    "not_a_tag_uid",
    "not_a_page",
    "not_a_cursor",
    "not_searchable",
)
# What a failed field is called when its own check fails, by field.
_FAILED_AS = {
    "since": "not_a_date",
    "until": "not_a_date",
    "outcome": "not_a_choice",
    "reason": "not_a_choice",
    "region": "not_a_code",
    "station": "not_a_code",
    "plate": "not_a_plate",
    "cylinder_id": "not_a_cylinder_id",
    "tag_uid": "not_a_tag_uid",
    "sort": "not_a_choice",
    "order": "not_a_choice",
    "page": "not_a_page",
    "kind": "not_a_choice",
    "cursor": "not_a_cursor",
}
T = TypeVar("T")


@dataclass(frozen=True)
class FieldProblem:
    """One wrong field: its name in the form, how it is wrong, and values for the message."""

    name: str
    kind: str  # one of FIELD_ERRORS
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Form:
    """A page's filter form as the person sees it: each field's text and, when refused, why."""

    values: Mapping[str, str]
    problems: Mapping[str, FieldProblem] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def problem(self, name: str) -> FieldProblem | None:
        return self.problems.get(name)

    @property
    def invalid(self) -> bool:
        return bool(self.problems)


class FilterRefused(InvalidInput):
    """Wrong fields in a page's query string; `form` is the form to show again, fields marked.
    The detail is the English of the checks that failed (as the API says them), for logs and tests."""

    def __init__(self, problems: list[FieldProblem], typed: Mapping[str, str], details: list[str]) -> None:
        super().__init__("; ".join(details) or "invalid filter")
        self.form = Form(typed, {p.name: p for p in problems})

    @property
    def problems(self) -> list[FieldProblem]:
        return list(self.form.problems.values())


class Checks:
    """Runs a form's field checks and keeps every failure, so one answer names all wrong fields."""

    def __init__(self, args: Mapping[str, str]) -> None:
        self.typed = {k: v[:MAX_ECHO] for k, v in args.items() if k in FORM_KEYS and isinstance(v, str)}
        self.problems: list[FieldProblem] = []
        self.details: list[str] = []

    def run(self, name: str, check: Callable[[], T], kind: str | None = None) -> T | None:
        """check(), or None after noting `name` as wrong (as `kind`, else as the field fails)."""
        try:
            return check()
        except InvalidInput as error:
            self.fail(name, kind or _FAILED_AS.get(name, "not_a_choice"), error.detail)
            return None

    def fail(self, name: str, kind: str, detail: str, **values: object) -> None:
        if all(p.name != name for p in self.problems):  # the first problem of a field is the one shown
            self.problems.append(FieldProblem(name, kind, values))
        self.details.append(detail)

    def done(self) -> None:
        """Raise FilterRefused when any check failed."""
        if self.problems:
            raise FilterRefused(self.problems, self.typed, self.details)


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

    def form(self, **extra: str | None) -> Form:
        """The form showing this query (canonical values: a typed plate comes back as stored)."""
        values = {key: value for key, value in self.params(page=None).items() if key != "order"}
        values["order"] = "desc" if self.descending else "asc"
        values["sort"] = self.sort
        values.update({key: value for key, value in extra.items() if value})
        return Form(values)


def today_local(now: datetime, utc_offset_hours: int) -> date:
    return now.astimezone(timezone(timedelta(hours=utc_offset_hours))).date()


def parse_query(
    args: Mapping[str, str], now: datetime, utc_offset_hours: int, default_days: int = DEFAULT_DAYS
) -> DashboardQuery:
    """Validate a page's query string; empty fields mean "no filter" (what an HTML form sends)."""
    checks = Checks(args)
    query = read_query(checks, args, now, utc_offset_hours, default_days)
    checks.done()
    assert query is not None  # no failed check: done() raised otherwise
    return query


def read_query(
    checks: Checks, args: Mapping[str, str], now: datetime, utc_offset_hours: int, default_days: int = DEFAULT_DAYS
) -> DashboardQuery | None:
    """parse_query's work with failures kept in `checks` (None when any field failed), for pages
    that check fields of their own as well."""
    values = {key: value.strip() for key, value in args.items() if isinstance(value, str) and value.strip()}
    today = today_local(now, utc_offset_hours)
    until = checks.run("until", lambda: day(values["until"], "until")) if "until" in values else today
    since = checks.run("since", lambda: day(values["since"], "since")) if "since" in values else None
    if since is None and "since" not in values and until is not None:
        since = until - timedelta(days=default_days - 1)
    if since is not None and until is not None:
        if since > until:
            checks.fail("since", "since_after_until", "since must not be after until")
        elif (until - since) >= MAX_RANGE:
            checks.fail("since", "range_too_long", f"a query covers at most {MAX_RANGE.days} days", days=MAX_RANGE.days)
    # Each field alone first, so that every wrong one is named; then all of them together.
    for key in EVENT_KEYS:
        if key in values:
            checks.run(key, _alone(key, values[key]))
    sort = values.get("sort", "time")
    if sort not in SORTS:
        checks.fail("sort", "not_a_choice", f"sort must be one of: {', '.join(SORTS)}")
    if values.get("order", "desc") not in ("asc", "desc"):
        checks.fail("order", "not_a_choice", "order must be asc or desc")
    page_text = values.get("page", "1")
    # ASCII digits only: str.isdigit() also takes "١٢" and "²" (int() refuses the latter: a 500).
    if not re.fullmatch(r"[0-9]{1,5}", page_text) or not 1 <= int(page_text) <= 10_000:
        checks.fail("page", "not_a_page", "page must be a number from 1 to 10000")
    if checks.problems or since is None or until is None:
        return None
    return DashboardQuery(
        since=since,
        until=until,
        events=event_filter.from_query({key: values[key] for key in EVENT_KEYS if key in values}),
        sort=sort,
        descending=values.get("order", "desc") != "asc",
        page=int(page_text),
    )


def _alone(key: str, value: str) -> Callable[[], EventFilter]:
    return lambda: event_filter.from_query({key: value})


def choice_or_none(checks: Checks, args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    """An optional field with a list of choices (a fault kind, ...): None when empty, noted as wrong
    when it is not one of `allowed`."""
    value = (args.get(name) or "").strip() or None
    if value is not None and value not in allowed:
        checks.fail(name, "not_a_choice", f"{name} must be one of: {', '.join(allowed)}")
        return None
    return value
