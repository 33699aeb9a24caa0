"""Dashboard pages. Each view parses its query string, calls one read function, renders."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from registry_service.api.bureau import EVENT_COLUMNS
from registry_service.api.common import csv_response
from registry_service.dashboard import case_report_views, case_views, forms, records, reports
from registry_service.dashboard.filters import SORTS, FilterRefused, choice_or_none, parse_query, today_local
from registry_service.dashboard.forms import keeps_form
from registry_service.dashboard.languages import words
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, page, read, user
from registry_service.models import Outcome, Role
from registry_service.services import places
from registry_service.services import station_faults as faults
from registry_service.services.reasons import REASON_CODES
from tag_tools import identifiers

log = logging.getLogger(__name__)
CSV_COLUMNS = [*EVENT_COLUMNS, "local_time", "reason_text"]
INSPECTION_DAYS = 366  # inspections are yearly: a year shows every cylinder a centre handles
FAULT_PAGE_SIZE = 100
MAX_CURSOR = 200  # characters: longer is no cursor this registry issued


def _attempt_choices(**_: object) -> dict[str, Any]:
    """What the refuel-attempt form offers to choose from."""
    return {"sorts": SORTS, "outcomes": list(Outcome), "reasons": REASON_CODES}


def _station(code: str) -> dict[str, Any]:
    """The station page's heading when its form is refused."""
    return {"station": read(lambda s: places.station_by_code(s, code)), "h": None}


# Sign-in and sign-out live in web.py, with the server-side session check.


@blueprint.get("/")
@allow(Role.BUREAU, Role.CENTRE, Role.GRID)
def index() -> BaseResponse:
    return redirect(url_for(case_views.index_target(user())))  # a grid user lands on its cases


@blueprint.get("/overview")
@allow(Role.BUREAU)
def overview() -> Any:
    try:
        query, form, status = forms.filtered().query, None, 200
    except FilterRefused as refused:  # the form as typed, marked, over the default period's figures
        query, form, status = parse_query({}, now(), offset_hours()), refused.form, refused.status
    data = read(lambda s: reports.overview(s, query, now(), forms.settings()))
    cases = case_report_views.overview_cases(query)  # grid cases found and handled (issue 16)
    return page("overview.html", status, query=query, form=form or query.form(), data=data, cases=cases)


@blueprint.get("/attempts")
@allow(Role.BUREAU)
@keeps_form("attempts.html", _attempt_choices)
def attempts() -> Any:
    return forms.filtered_page(
        "attempts.html", lambda s, query: reports.attempt_page(s, query, now(), offset_hours()), **_attempt_choices()
    )


@blueprint.get("/attempts.csv")
@allow(Role.BUREAU)
def attempts_csv() -> Response:
    query = forms.filtered().query
    rows = read(lambda s: reports.attempts_for_export(s, query, now(), offset_hours()))
    w, hours = words(), offset_hours()
    for row in rows:  # for the people who read the file rather than process it
        row["local_time"] = w.timestamp(row.pop("_at"), hours)
        row["reason_text"] = w.joined(w.reason(reason) for reason in row["reasons"])
    scope = query.events.station or query.events.region or "all"
    name = f"refuel-attempts-{scope}-{query.since.isoformat()}-{query.until.isoformat()}.csv"
    return csv_response(rows, CSV_COLUMNS, name)


@blueprint.get("/stations/<code>")
@allow(Role.BUREAU)
@keeps_form("station.html", _station)
def station(code: str) -> Any:
    query = forms.filtered().query
    history = read(lambda s: records.station_history(s, code, query, now(), offset_hours()))
    return page("station.html", query=query, form=query.form(), h=history, station=history.station)


@blueprint.get("/station-faults")
@allow(Role.BUREAU)
@keeps_form("station_faults.html", lambda: {"kinds": faults.KINDS, "kind": None})
def station_faults() -> Any:
    """What stations reported they could not deliver or do (schemas/station-fault-report.md)."""
    fields = forms.checks()
    kind = choice_or_none(fields, request.args, "kind", faults.KINDS)
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        fields.fail("cursor", "not_a_cursor", "cursor is not one this registry issued")
    filtered = forms.filtered(fields=fields)
    query = filtered.query
    window = query.event_filter(offset_hours())
    flt = faults.FaultFilter(station=query.events.station, kind=kind, since=window.since, until=window.until)
    result = read(lambda s: faults.list_faults(s, flt, now(), FAULT_PAGE_SIZE, cursor))
    form = query.form(kind=kind)
    return page("station_faults.html", query=query, form=form, names=filtered.names, kind=kind, kinds=faults.KINDS, result=result)


@blueprint.get("/vehicles/<plate>")
@allow(Role.BUREAU)
def vehicle(plate: str) -> Any:
    history = read(lambda s: records.vehicle_history(s, identifiers.plate_key(plate), now()))
    return page("vehicle.html", h=history, today=_today())


@blueprint.get("/cylinders/<cylinder_id>")
@allow(Role.BUREAU, Role.CENTRE)
def cylinder(cylinder_id: str) -> Any:
    centre_id = user().centre_id if user().role is Role.CENTRE else None
    canonical = identifiers.canonical_or_none(identifiers.cylinder_id, cylinder_id, "cylinder_id") or cylinder_id
    history = read(lambda s: records.cylinder_history(s, canonical, now(), centre_id))
    return page("cylinder.html", h=history, today=_today())


@blueprint.get("/inspections")
@allow(Role.BUREAU, Role.CENTRE)
@keeps_form("inspections.html")
def inspections() -> Any:
    query = forms.filtered(INSPECTION_DAYS).query
    centre_id = user().centre_id if user().role is Role.CENTRE else None
    rows = read(lambda s: records.centre_inspections(s, centre_id, query))
    return page("inspections.html", query=query, form=query.form(), rows=rows)


def _today() -> date:
    return today_local(now(), offset_hours())
