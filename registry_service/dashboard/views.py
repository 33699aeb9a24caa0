"""Dashboard pages. Each view parses its query string, calls one read function, renders."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from registry_service.api.bureau import EVENT_COLUMNS
from registry_service.api.common import csv_response
from registry_service.api.parse import CODE
from registry_service.dashboard import records, reports
from registry_service.dashboard.filters import DEFAULT_DAYS, SORTS, DashboardQuery, parse_query, today_local
from registry_service.dashboard.web import allow, blueprint, lang, now, offset_hours, page, read, reg, user
from registry_service.errors import InvalidInput
from registry_service.models import Outcome, Role
from registry_service.services import station_faults as faults
from registry_service.services.reasons import REASON_CODES
from tag_tools import identifiers

log = logging.getLogger(__name__)
CSV_COLUMNS = [*EVENT_COLUMNS, "local_time", "reason_text"]
INSPECTION_DAYS = 366  # inspections are yearly: a year shows every cylinder a centre handles
FAULT_PAGE_SIZE = 100


def _query(default_days: int = DEFAULT_DAYS) -> DashboardQuery:
    return parse_query(request.args, now(), offset_hours(), default_days)


def _settings() -> reports.Settings:
    config = reg().config
    return reports.Settings(config.report_utc_offset_hours, config.max_plausible_speed_kmh)


# Sign-in and sign-out live in web.py, with the server-side session check.


@blueprint.get("/")
@allow(Role.BUREAU, Role.CENTRE)
def index() -> BaseResponse:
    target = "dashboard.overview" if user().role is Role.BUREAU else "dashboard.inspections"
    return redirect(url_for(target))


@blueprint.get("/overview")
@allow(Role.BUREAU)
def overview() -> Any:
    query = _query()
    data = read(lambda s: reports.overview(s, query, now(), _settings()))
    return page("overview.html", query=query, data=data)


@blueprint.get("/attempts")
@allow(Role.BUREAU)
def attempts() -> Any:
    query = _query()
    result = read(lambda s: reports.attempt_page(s, query, now(), offset_hours()))
    return page("attempts.html", query=query, result=result, sorts=SORTS, outcomes=list(Outcome), reasons=REASON_CODES)


@blueprint.get("/attempts.csv")
@allow(Role.BUREAU)
def attempts_csv() -> Response:
    query = _query()
    rows = read(lambda s: reports.attempts_for_export(s, query, now(), offset_hours(), lang()))
    scope = query.events.station or query.events.region or "all"
    name = f"refuel-attempts-{scope}-{query.since.isoformat()}-{query.until.isoformat()}.csv"
    return csv_response(rows, CSV_COLUMNS, name)


@blueprint.get("/stations/<code>")
@allow(Role.BUREAU)
def station(code: str) -> Any:
    query = _query()
    history = read(lambda s: records.station_history(s, code, query, now(), offset_hours()))
    return page("station.html", query=query, h=history)


@blueprint.get("/station-faults")
@allow(Role.BUREAU)
def station_faults() -> Any:
    """What stations reported they could not deliver or do (schemas/station-fault-report.md)."""
    query = _query()
    window = query.event_filter(offset_hours())
    kind = request.args.get("kind", "").strip() or None
    if kind is not None and not CODE.match(kind):
        raise InvalidInput("kind is not a code")
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise InvalidInput("cursor is not one this registry issued")
    flt = faults.FaultFilter(station=query.events.station, kind=kind, since=window.since, until=window.until)
    result = read(lambda s: faults.list_faults(s, flt, now(), FAULT_PAGE_SIZE, cursor))
    return page("station_faults.html", query=query, kind=kind, kinds=faults.KINDS, result=result)


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
def inspections() -> Any:
    query = _query(INSPECTION_DAYS)
    centre_id = user().centre_id if user().role is Role.CENTRE else None
    rows = read(lambda s: records.centre_inspections(s, centre_id, query))
    return page("inspections.html", query=query, rows=rows)


def _today() -> date:
    return today_local(now(), offset_hours())
