"""The weekly report of cases (services/case_figures.py): a printable page and its CSV for a region
(a cell, a street, a district or the city) and an ISO week, in the reader's language.

Grid platforms report weekly at every level (每周上报一次): the page is the figures of the region's
subtree with one row per region below it, a link down each row and a week back and forth. The
bureau sees every region; a grid user only its own subtrees (the first one by default). Printing
uses the page itself (case_report_print.css): no PDF library is a production dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, request
from sqlalchemy.orm import Session

from registry_service.api.common import csv_response
from registry_service.dashboard.filters import DashboardQuery
from registry_service.dashboard.languages import words
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, page, read, reg, user
from registry_service.models import Role
from registry_service.services import case_figures
from registry_service.services.case_figures import Figures, Report, Week

MAX_FIELD = 64  # characters of a region code or a week: longer is a typo, not a question


def _week() -> Week:
    text = request.args.get("week", "").strip()[:MAX_FIELD]
    return Week.parse(text) if text else Week.containing(now(), reg().config.zone())


def _report(week: Week) -> Report:
    code = request.args.get("region", "").strip()[:MAX_FIELD] or None
    level = request.args.get("level") or None
    principal = user()
    window = week.window(reg().config.zone())

    def work(session: Session) -> Report:
        region = case_figures.region_for(session, code, principal)
        return case_figures.report(session, region, window, level)

    return read(work)


@dataclass(frozen=True)
class FoundHandled:
    """The overview's case figures over its days: "238 problems found, 184 handled"."""

    found: int
    handled: int
    region: str | None
    week: str  # the weekly report to link to: the week of the period's last day


def overview_cases(query: DashboardQuery) -> FoundHandled:
    """Cases found over the overview's days (and region) and how many of them are handled by now."""
    window = case_figures.Window(*query.event_filter(offset_hours()).window(now()))
    principal = user()

    def work(session: Session) -> tuple[int, int]:
        region = case_figures.region_for(session, query.events.region, principal)
        return case_figures.found_and_handled(session, region, window)

    found, handled = read(work)
    return FoundHandled(found, handled, query.events.region, Week.of(query.until).code)


@blueprint.context_processor
def _report_words() -> dict[str, Any]:
    w = words()

    def days_or_hours(seconds: float | None) -> str:
        """Time to close: hours under two days, else days (cases take days, not minutes)."""
        if seconds is None:
            return "–"
        if seconds < 2 * 86400:
            return w.duration(seconds)
        return w.gettext("days_decimal", days=w.decimal(seconds / 86400))

    return {"fmt_close": days_or_hours}


@blueprint.get("/weekly-report")
@allow(Role.BUREAU, Role.GRID)
def weekly_report() -> Any:
    week = _week()
    report = _report(week)
    return page("weekly_report.html", report=report, week=week, level=request.args.get("level") or None)


@blueprint.get("/weekly-report.csv")
@allow(Role.BUREAU, Role.GRID)
def weekly_report_csv() -> Response:
    """The page's table in the reader's language: a total row, then one row per region."""
    week = _week()
    report = _report(week)
    w = words()
    columns = [
        w.gettext("region"),
        w.gettext("area"),
        w.gettext("report_week"),
        w.gettext("figure_reported"),
        w.gettext("figure_accepted"),
        w.gettext("figure_closed"),
        w.gettext("figure_closure_rate"),
        w.gettext("figure_closed_on_time"),
        w.gettext("figure_on_time_rate"),
        w.gettext("figure_open"),
        w.gettext("figure_overdue"),
        w.gettext("figure_average_close_hours"),
    ]

    def line(code: str, name: str, figures: Figures) -> dict[str, Any]:
        average = figures.average_close_seconds
        values = [
            code,
            name,
            week.code,
            figures.reported,
            figures.accepted,
            figures.closed,
            "" if figures.closure_rate is None else w.percent(figures.closure_rate),
            figures.closed_on_time,
            "" if figures.on_time_rate is None else w.percent(figures.on_time_rate),
            figures.open,
            figures.overdue,
            "" if average is None else round(average / 3600, 1),
        ]
        return dict(zip(columns, values, strict=True))

    top = report.region
    rows = [line(top.code if top else "", w.gettext("total"), report.total)]
    rows += [
        line(row.code, row.name + (" " + w.gettext("direct_cases") if row.direct else ""), row.figures) for row in report.rows
    ]
    scope = top.code if top else "all"
    return csv_response(rows, columns, f"weekly-report-{scope}-{week.code}.csv")
