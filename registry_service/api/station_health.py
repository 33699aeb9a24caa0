"""The bureau's station health as JSON: the same questions as the dashboard's station health pages
(services/health_reports.py): pumps' latest heartbeats, alarms, and per station over a window the
unexplained gas, override attempts and time dark."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from registry_service.api import event_filter, parse
from registry_service.api.common import now, report_tx
from registry_service.auth import roles
from registry_service.errors import InvalidInput
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import health_reports, queries

blueprint = Blueprint("station_health", __name__)
PLACE = ("region", "station")
WINDOW = ("since", "until")


def _filter(args: dict[str, str]) -> queries.EventFilter:
    parse.filled(args)
    since, until = parse.optional_timestamp(args, "since"), parse.optional_timestamp(args, "until")
    return event_filter.from_query({k: args[k] for k in PLACE if k in args}, since=since, until=until)


def _scope(session: Session, flt: queries.EventFilter) -> health_reports.Scope:
    return health_reports.scope_of(session, flt, now())


def _json(value: Any) -> Any:
    """Dataclass fields as JSON: instants in RFC 3339, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    return value


def _page_size(args: dict[str, str]) -> tuple[int, int]:
    limit = parse.query_int(args, "limit", 100, 1, registry().config.max_page_size)
    return parse.query_int(args, "page", 1, 1, 10_000), limit


@blueprint.get("/bureau/station-health")
@roles(Role.BUREAU)
def station_health() -> Response:
    """Active stations, silent ones first, with each pump's latest heartbeat."""
    args = parse.query_args({*PLACE, "page", "limit"})
    flt = _filter(args)
    page, limit = _page_size(args)
    result = report_tx(lambda s: health_reports.station_health(s, _scope(s, flt), page, limit))
    stations = [_json(asdict(station)) | {"last_heartbeat": _json(station.last_heartbeat)} for station in result.stations]
    return jsonify({"stations": stations, "total": result.total, "silent": result.silent, "never": result.never, "page": page})


@blueprint.get("/bureau/station-alarms")
@roles(Role.BUREAU)
def station_alarms() -> Response:
    """Unexplained gas raised in the window and silences that lasted into it, newest first."""
    args = parse.query_args({*PLACE, *WINDOW, "kind", "page", "limit"})
    flt = _filter(args)
    kind = args.get("kind")
    if kind is not None and kind not in health_reports.ALARM_KINDS:
        raise InvalidInput(f"kind must be one of: {', '.join(health_reports.ALARM_KINDS)}")
    page, limit = _page_size(args)
    result = report_tx(lambda s: health_reports.alarm_page(s, _scope(s, flt), kind, page, limit))
    return jsonify(
        {
            "alarms": [_json(asdict(row)) for row in result.rows],
            "total": result.total,
            "page": page,
            "unexplained": result.quantities,
        }
    )


@blueprint.get("/bureau/station-alarms/summary")
@roles(Role.BUREAU)
def station_summary() -> Response:
    """Per station over the window: unexplained gas by unit (most first), override attempts and time dark."""
    args = parse.query_args({*PLACE, *WINDOW})
    flt = _filter(args)

    def work(session: Session) -> dict[str, Any]:
        scope = _scope(session, flt)
        ranked = health_reports.unexplained_ranking(session, scope)
        overrides = health_reports.override_attempts(session, scope)
        return {
            "since": scope.since.isoformat(),
            "until": scope.until.isoformat(),
            "unexplained": {unit: [_json(asdict(r)) for r in rows] for unit, rows in ranked.items()},
            "override_attempts": [asdict(c) for c in overrides.stations],
            "time_dark": [asdict(d) for d in health_reports.time_dark(session, scope, now())],
        }

    return jsonify(report_tx(work))
