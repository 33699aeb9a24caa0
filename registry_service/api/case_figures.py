"""The weekly case figures as JSON (services/case_figures.py): what the dashboard's weekly report
shows, for a region subtree and an ISO week, with one row per child region (or per region of one
level). The bureau asks about any region; a grid user about its own (its first one by default)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from registry_service.api import parse
from registry_service.api.common import now, report_tx
from registry_service.auth import current, roles
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import case_figures

blueprint = Blueprint("case_figures", __name__)


@blueprint.get("/bureau/case-figures")
@roles(Role.BUREAU, Role.GRID)
def case_figures_of_week() -> Response:
    """Reported, accepted (立案), closed (结案), rates, open, overdue and time to close for a week."""
    args = parse.query_args({"region", "week", "level"})
    zone = registry().config.zone()
    week = case_figures.Week.parse(args["week"]) if "week" in args else case_figures.Week.containing(now(), zone)
    window = week.window(zone)
    principal = current()

    def work(session: Session) -> case_figures.Report:
        region = case_figures.region_for(session, args.get("region"), principal)
        return case_figures.report(session, region, window, args.get("level"))

    result = report_tx(work)
    return jsonify(
        {
            "region": result.region.code if result.region else None,
            "week": week.code,
            "since": window.start.isoformat(),
            "until": window.end.isoformat(),
            "timezone": zone.key,
            "level": result.level,
            "total": result.total.as_json(),
            "rows": [
                {"region": row.code, "name": row.name, "level": row.level, "direct": row.direct, **row.figures.as_json()}
                for row in result.rows
            ],
        }
    )
