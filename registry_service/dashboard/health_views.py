"""Station health pages: stations that go dark, cheat or break (services/health_reports.py).

Five tabs over the same filter (grid cell or any region, one station, local days): each pump's
latest heartbeat, alarms, stations ranked by unexplained gas, override attempts, time dark. Bureau
only, like the other city-wide pages; the health tab shows the state now and ignores the days.
"""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy.orm import Session

from registry_service.dashboard import forms
from registry_service.dashboard.filters import PAGE_SIZE, DashboardQuery, choice_or_none
from registry_service.dashboard.forms import keeps_form
from registry_service.dashboard.languages import words
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, page, read
from registry_service.models import Role
from registry_service.services import health_reports

# The tabs, in the order shown: (endpoint, message key of its name).
TABS = (
    ("dashboard.station_health", "station_health"),
    ("dashboard.station_alarms", "station_alarms"),
    ("dashboard.unexplained_ranking", "unexplained_ranking"),
    ("dashboard.override_attempts", "override_attempts"),
    ("dashboard.time_dark", "time_dark"),
)
TAB_ENDPOINTS = frozenset(endpoint for endpoint, _ in TABS)


def _scope(session: Session, query: DashboardQuery) -> health_reports.Scope:
    return health_reports.scope_of(session, query.event_filter(offset_hours()), now())


def _alarm_choices(**_: object) -> dict[str, Any]:
    return {"kinds": health_reports.ALARM_KINDS, "kind": None}


@blueprint.context_processor
def _health_words() -> dict[str, Any]:
    w = words()
    return {"fmt_qty": w.quantity, "fmt_duration": w.duration, "health_tab_list": TABS, "health_endpoints": TAB_ENDPOINTS}


@blueprint.get("/station-health")
@allow(Role.BUREAU)
@keeps_form("station_health.html")
def station_health() -> Any:
    return forms.filtered_page(
        "station_health.html", lambda s, query: health_reports.station_health(s, _scope(s, query), query.page, PAGE_SIZE)
    )


@blueprint.get("/station-alarms")
@allow(Role.BUREAU)
@keeps_form("station_alarms.html", _alarm_choices)
def station_alarms() -> Any:
    fields = forms.checks()
    kind = choice_or_none(fields, request.args, "kind", health_reports.ALARM_KINDS)
    filtered = forms.filtered(fields=fields)
    query = filtered.query
    result = read(lambda s: health_reports.alarm_page(s, _scope(s, query), kind, query.page, PAGE_SIZE))
    return page(
        "station_alarms.html",
        query=query,
        form=query.form(kind=kind),
        names=filtered.names,
        result=result,
        kind=kind,
        kinds=health_reports.ALARM_KINDS,
    )


@blueprint.get("/unexplained-quantity")
@allow(Role.BUREAU)
@keeps_form("unexplained.html")
def unexplained_ranking() -> Any:
    return forms.filtered_page(
        "unexplained.html", lambda s, query: health_reports.unexplained_ranking(s, _scope(s, query)), "ranked"
    )


@blueprint.get("/override-attempts")
@allow(Role.BUREAU)
@keeps_form("override_attempts.html")
def override_attempts() -> Any:
    return forms.filtered_page("override_attempts.html", lambda s, query: health_reports.override_attempts(s, _scope(s, query)))


@blueprint.get("/time-dark")
@allow(Role.BUREAU)
@keeps_form("time_dark.html")
def time_dark() -> Any:
    return forms.filtered_page("time_dark.html", lambda s, query: health_reports.time_dark(s, _scope(s, query), now()), "rows")
