"""A page's filter form over the request: its query string read (filters.py), the region and station
it names checked against the registry, and, when anything is wrong, the page shown again with its
form as typed and the wrong fields marked (status 422) instead of an error page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import request
from sqlalchemy.orm import Session

from registry_service.dashboard import reports
from registry_service.dashboard.filters import DEFAULT_DAYS, Checks, DashboardQuery, FilterRefused, read_query
from registry_service.dashboard.web import now, offset_hours, page, read, reg
from registry_service.services import search

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Filtered:
    query: DashboardQuery
    names: Mapping[str, str]  # the names of the region and station the query names, for the pickers


def checks() -> Checks:
    """The checks of this request's form fields (for pages with fields of their own: see filtered)."""
    return Checks(request.args)


def filtered(default_days: int = DEFAULT_DAYS, fields: Checks | None = None) -> Filtered:
    """This request's filter; FilterRefused names every wrong field, those in `fields` included."""
    fields = fields or checks()
    query = read_query(fields, request.args, now(), offset_hours(), default_days)
    names: dict[str, str] = {}
    if query is not None and (query.events.region or query.events.station):
        names = read(lambda s: search.place_names(s, query.events.region, query.events.station))
        # A code the registry does not know is the form's mistake, shown beside its field.
        if query.events.region and "region" not in names:
            fields.fail("region", "unknown_region", f"no region {query.events.region}")
        if query.events.station and "station" not in names:
            fields.fail("station", "unknown_station", f"no station {query.events.station}")
    fields.done()
    assert query is not None  # done() raised otherwise
    return Filtered(query, names)


def filtered_page(
    template: str, report: Callable[[Session, DashboardQuery], object], name: str = "result", **context: Any
) -> tuple[str, int]:
    """A filtered report page's body: this request's filter (filtered), `report` read over it, and
    `template` shown with the form, the pickers' names and the report's answer as `name`."""
    found = filtered()
    query = found.query
    answer = read(lambda s: report(s, query))
    values: dict[str, Any] = {name: answer}
    return page(template, query=query, form=query.form(), names=found.names, **values, **context)


def keeps_form(
    template: str, context: Callable[..., Mapping[str, Any]] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | tuple[str, int]]]:
    """View decorator: a FilterRefused from the view shows `template` again with the form as typed
    (`form`, its problems marked) and no results (`query` None); `context(**view kwargs)` adds what
    the page needs besides (a station page's station)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | tuple[str, int]]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | tuple[str, int]:
            try:
                return view(*args, **kwargs)
            except FilterRefused as refused:
                extra = context(**kwargs) if context else {}
                return page(template, refused.status, query=None, form=refused.form, names={}, **extra)

        return wrapper

    return decorate


def settings() -> reports.Settings:
    config = reg().config
    return reports.Settings(config.report_utc_offset_hours, config.max_plausible_speed_kmh)
