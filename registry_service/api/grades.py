"""Station grades and patrols as JSON: the bureau's list of current grades, and patrols recorded
and read by grid people (their own cells) and the bureau (everywhere). Codes, not words."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from registry_service import grading_rules
from registry_service.api import parse
from registry_service.api.common import created, now, report_tx, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import grades, patrols

blueprint = Blueprint("grades", __name__)
PATROL_FIELDS = ("station", "results", "notes")


def _rules() -> grading_rules.GradingRules:
    return grading_rules.current(registry().config.grading_rules_path)


def _page_size(args: dict[str, str]) -> tuple[int, int]:
    limit = parse.query_int(args, "limit", 100, 1, registry().config.max_page_size)
    return parse.query_int(args, "page", 1, 1, 10_000), limit


@blueprint.get("/bureau/station-grades")
@roles(Role.BUREAU)
def station_grades() -> Response:
    """Each station's current grade, worst first, with the figures and the measures that decided it."""
    args = parse.filled(parse.query_args({"region", "grade", "page", "limit"}))
    page, limit = _page_size(args)
    principal = current()

    def work(session: Session) -> grades.GradePage:
        return grades.current_grades(
            session, principal, region=args.get("region"), grade=args.get("grade"), page=page, page_size=limit
        )

    result = report_tx(work)
    rows = [asdict(row) | {"computed_at": row.computed_at.isoformat()} for row in result.rows]
    return jsonify({"stations": rows, "total": result.total, "page": page, "grades": result.per_grade})


@blueprint.post("/patrols")
@roles(Role.GRID, Role.BUREAU)
def record_patrol() -> tuple[Response, int]:
    """A patrol of one station, every checklist item answered; failed items open or attach to cases."""
    data = parse.json_body()
    parse.only_fields(data, PATROL_FIELDS)
    station = parse.required_text(data, "station", max_len=64)
    principal = current()
    rules = _rules()
    moment = now()
    view = tx(
        lambda s: patrols.record_patrol(
            s, principal, moment, rules, station_code=station, results=data.get("results"), notes=data.get("notes")
        )
    )
    return created(patrols.to_json(view))


@blueprint.get("/patrols")
@roles(Role.GRID, Role.BUREAU)
def list_patrols() -> Response:
    """Patrols of the stations the caller sees (a grid person: its cells), newest first."""
    args = parse.filled(parse.query_args({"station", "region", "since", "until", "failed", "page", "limit"}))
    since, until = parse.optional_timestamp(args, "since"), parse.optional_timestamp(args, "until")
    failed = args.get("failed", "false")
    if failed not in ("true", "false"):
        raise InvalidInput("failed must be true or false")
    page, limit = _page_size(args)
    principal = current()

    def work(session: Session) -> dict[str, Any]:
        result = patrols.list_patrols(
            session,
            principal,
            station=args.get("station"),
            region=args.get("region"),
            since=since,
            until=until,
            failed_only=failed == "true",
            page=page,
            page_size=limit,
        )
        return {"patrols": [patrols.to_json(view) for view in result.rows], "total": result.total, "page": page}

    return jsonify(report_tx(work))
