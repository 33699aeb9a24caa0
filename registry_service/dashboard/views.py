"""Dashboard pages. Each view parses its query string, calls one read function, renders."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Response, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from registry_service.api.bureau import EVENT_COLUMNS
from registry_service.api.common import csv_response
from registry_service.api.parse import CODE
from registry_service.dashboard import i18n, records, reports
from registry_service.dashboard.filters import DEFAULT_DAYS, SORTS, DashboardQuery, parse_query, today_local
from registry_service.dashboard.signin import CSRF_FIELD, SignInRefused, new_csrf_token
from registry_service.dashboard.signin import sign_in as check_sign_in
from registry_service.dashboard.web import allow, blueprint, lang, now, offset_hours, page, read, reg, throttle, user
from registry_service.errors import InvalidInput
from registry_service.models import Outcome, Role
from registry_service.services import station_faults as faults
from registry_service.services.reasons import REASON_CODES

log = logging.getLogger(__name__)
CSV_COLUMNS = [*EVENT_COLUMNS, "local_time", "reason_text"]
INSPECTION_DAYS = 366  # inspections are yearly: a year shows every cylinder a centre handles
FAULT_PAGE_SIZE = 100


def _query(default_days: int = DEFAULT_DAYS) -> DashboardQuery:
    return parse_query(request.args, now(), offset_hours(), default_days)


def _settings() -> reports.Settings:
    config = reg().config
    return reports.Settings(config.report_utc_offset_hours, config.max_plausible_speed_kmh)


def _safe_next(target: str | None) -> str | None:
    """Only our own pages: an open redirect after sign-in would help phishing."""
    if target and target.startswith(url_for("dashboard.index")) and "//" not in target and "\\" not in target:
        return target
    return None


@blueprint.get("/sign-in")
def sign_in() -> Any:
    if g.get("dashboard_user") is not None:
        return redirect(url_for("dashboard.index"))
    return page("sign_in.html", next=_safe_next(request.args.get("next")))


@blueprint.post("/sign-in")
def sign_in_submit() -> Any:
    username = request.form.get("username", "")[:80]
    password = request.form.get("password", "")[:200]
    target = _safe_next(request.form.get("next"))
    try:
        principal = read(lambda s: check_sign_in(s, throttle(), username, password, now()))
    except SignInRefused as refused:
        log.warning("dashboard sign-in refused for %r from %s: %s", username, request.remote_addr, refused.key)
        status = 403 if refused.key == "role_refused" else 429 if refused.key == "locked_out" else 401
        error = i18n.translate(refused.key, lang(), **refused.values)
        return page("sign_in.html", status, error=error, username=username, next=target)
    log.info("dashboard sign-in: %s (%s) from %s", principal.username, principal.role.value, request.remote_addr)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user: no fixation
    session.update(user_id=principal.user_id, signed_in_at=now().isoformat(), **{CSRF_FIELD: new_csrf_token()})
    return redirect(target or url_for("dashboard.index"))


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    session.clear()
    return redirect(url_for("dashboard.sign_in"))


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
    return page("attempts.html", query=query, result=result, sorts=SORTS, outcomes=list(Outcome),
                reasons=REASON_CODES)


@blueprint.get("/attempts.csv")
@allow(Role.BUREAU)
def attempts_csv() -> Response:
    query = _query()
    rows = read(lambda s: reports.attempts_for_export(s, query, now(), offset_hours(), lang()))
    scope = query.station or query.region or "all"
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
    flt = faults.FaultFilter(station=query.station, kind=kind, since=window.since, until=window.until)
    result = read(lambda s: faults.list_faults(s, flt, now(), FAULT_PAGE_SIZE, cursor))
    return page("station_faults.html", query=query, kind=kind, kinds=faults.KINDS, result=result)


@blueprint.get("/vehicles/<plate>")
@allow(Role.BUREAU)
def vehicle(plate: str) -> Any:
    history = read(lambda s: records.vehicle_history(s, plate, now()))
    return page("vehicle.html", h=history, today=_today())


@blueprint.get("/cylinders/<cylinder_id>")
@allow(Role.BUREAU, Role.CENTRE)
def cylinder(cylinder_id: str) -> Any:
    centre_id = user().centre_id if user().role is Role.CENTRE else None
    history = read(lambda s: records.cylinder_history(s, cylinder_id, now(), centre_id))
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
