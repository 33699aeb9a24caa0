"""Station grades and patrols (services/grades.py, services/patrols.py): the grades page, the
phone-sized patrol form, the patrols list and one patrol with the cases its failed items opened.

URLs (all for the bureau, which sees every station, and grid users, who see the stations of their
own cells; a station outside a grid user's cells is a 403, as in the API):
- GET  /dashboard/station-grades?region=<code>&grade=A..D&page=N   current grades, worst first,
  the measured figures, the deciding measures, the last patrol and the next one's due date; and
  the stations whose patrol is due now.
- GET  /dashboard/patrol?station=<code>   the checklist form (without a station: a station field
  and the stations due); POST /dashboard/patrol records it. Form fields: csrf_token, station,
  result-<item> = pass | fail | na for every checklist item, note-<item> (optional text).
  A refused form comes back as typed with a 422; a recorded patrol redirects to its page.
- GET  /dashboard/patrols?station=<code>&region=<code>&failed=1&page=N   newest first.
- GET  /dashboard/patrols/<id>   its results, notes and the cases of its failed items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import redirect, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from registry_service import grading_rules
from registry_service.dashboard.languages import words
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, page, read, reg, user
from registry_service.errors import Forbidden, InvalidInput, NotFound
from registry_service.grading_rules import GradingRules
from registry_service.models import Case, CaseState, Patrol, Role, Station
from registry_service.services import grades, grid_scope, patrols
from registry_service.services.places import station_by_code

PAGE_SIZE = 50
MAX_PATROL_ID = 2**31 - 1  # the id column's largest value on PostgreSQL (and what SQLite can bind)
MAX_FIELD = 64  # characters of a station or region code: longer is a typo, not a question
ROLES = (Role.BUREAU, Role.GRID)


def rules() -> GradingRules:
    return grading_rules.current(reg().config.grading_rules_path)


def _arg(name: str) -> str | None:
    return request.args.get(name, "").strip()[:MAX_FIELD] or None


def _page_number() -> int:
    text = request.args.get("page", "1")
    # isascii: str.isdigit() also accepts "²", which int() refuses
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 10_000:
        raise InvalidInput("page must be a whole number from 1 to 10000")
    return int(text)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(timezone(timedelta(hours=offset_hours()))).date()


def case_link(number: str) -> str | None:
    """The case page's URL (case_views.py), or None while that page is not mounted."""
    try:
        return url_for("dashboard.case_page", number=number)
    except BuildError:
        return None


@blueprint.context_processor
def _grade_words() -> dict[str, Any]:
    w = words()

    def measure_value(name: str, figures: dict[str, Any]) -> str:
        """A measured figure as the grading rules read it: a share as a percentage, hours with a
        decimal, counts as whole numbers."""
        value = figures.get(name)
        if value is None:
            return "–"
        if name == grading_rules.REFUSALS_HANDLED:
            return w.percent(float(value))
        if name in (grading_rules.OVERRIDES_PER_1000, grading_rules.HOURS_DARK):
            return w.decimal(float(value))
        return w.integer(value)

    return {"measure_value": measure_value, "case_link": case_link}


# Grades --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradesShown:
    result: grades.GradePage
    last_patrols: dict[str, datetime]  # station code -> its last patrol (stations on this page)
    due: list[grades.DueStation]


def _last_patrols(session: Session, codes: list[str]) -> dict[str, datetime]:
    """Each listed station's newest patrol: one grouped query for the page's stations."""
    if not codes:
        return {}
    rows = session.execute(
        select(Station.code, func.max(Patrol.at))
        .join(Patrol, Patrol.station_id == Station.id)
        .where(Station.code.in_(codes))
        .group_by(Station.code)
    ).all()
    return {str(code): at for code, at in rows}


@blueprint.get("/station-grades")
@allow(*ROLES)
def station_grades() -> Any:
    region, grade = _arg("region"), _arg("grade")
    if grade is not None and grade not in grading_rules.GRADES:
        raise InvalidInput(f"grade must be one of {', '.join(grading_rules.GRADES)}")
    number, principal, moment, current_rules = _page_number(), user(), now(), rules()

    def work(session: Session) -> GradesShown:
        result = grades.current_grades(session, principal, region=region, grade=grade, page=number, page_size=PAGE_SIZE)
        due = grades.patrols_due(session, principal, moment, current_rules, utc_offset_hours=offset_hours(), region=region)
        return GradesShown(result, _last_patrols(session, [row.station for row in result.rows]), due)

    shown = read(work)
    next_due = {
        row.station: _local_day(shown.last_patrols[row.station]) + timedelta(days=row.patrol_interval_days)
        for row in shown.result.rows
        if row.station in shown.last_patrols
    }
    pages = max(1, -(-shown.result.total // PAGE_SIZE))
    return page(
        "station_grades.html",
        shown=shown,
        next_due=next_due,
        region=region,
        grade=grade,
        grades=grading_rules.GRADES,
        measures=grading_rules.MEASURES,
        pages=pages,
        today=_local_day(moment),
    )


# The patrol form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatrolForm:
    """The form as typed: a result and a note per item, and why it was refused (English, logged)."""

    station: Station | None
    results: dict[str, str]
    notes: dict[str, str]
    refused: bool = False


def _visible_station(session: Session, code: str) -> Station:
    station = station_by_code(session, code)
    if not grid_scope.visible(user(), station.region.path):
        raise Forbidden("this station is outside your grid cells")
    return station


def _form_page(form: PatrolForm, status: int = 200) -> Any:
    principal, moment, current_rules = user(), now(), rules()
    due = (
        []
        if form.station
        else read(lambda s: grades.patrols_due(s, principal, moment, current_rules, utc_offset_hours=offset_hours()))
    )
    return page(
        "patrol_form.html",
        status,
        form=form,
        checklist=current_rules.checklist,
        results=patrols.RESULTS,
        due=due,
        note_max=patrols.NOTE_MAX,
    )


@blueprint.get("/patrol")
@allow(*ROLES)
def patrol_form() -> Any:
    code = _arg("station")
    station = read(lambda s: _visible_station(s, code)) if code else None
    return _form_page(PatrolForm(station, {}, {}))


@blueprint.post("/patrol")
@allow(*ROLES)
def patrol_submit() -> Any:
    code = request.form.get("station", "").strip()[:MAX_FIELD]
    if not code:
        raise InvalidInput("station is required")
    current_rules = rules()
    results = {item: request.form.get(f"result-{item}", "") for item in current_rules.checklist}
    results = {item: value for item, value in results.items() if value}
    notes = {item: request.form.get(f"note-{item}", "") for item in current_rules.checklist}
    notes = {item: text for item, text in notes.items() if text.strip()}
    principal, moment = user(), now()
    try:
        view = reg().transaction(
            lambda s: patrols.record_patrol(s, principal, moment, current_rules, station_code=code, results=results, notes=notes)
        )
    except InvalidInput:  # an item left unanswered, a note too long: the form again, as typed
        station = read(lambda s: _visible_station(s, code))
        return _form_page(PatrolForm(station, results, notes, refused=True), 422)
    return redirect(url_for("dashboard.patrol_detail", patrol_id=view.id))


# Patrols -------------------------------------------------------------------------------------


@blueprint.get("/patrols")
@allow(*ROLES)
def patrol_list() -> Any:
    station, region = _arg("station"), _arg("region")
    failed = request.args.get("failed") == "1"
    number, principal = _page_number(), user()
    result = read(
        lambda s: patrols.list_patrols(
            s, principal, station=station, region=region, failed_only=failed, page=number, page_size=PAGE_SIZE
        )
    )
    pages = max(1, -(-result.total // PAGE_SIZE))
    return page("patrols.html", result=result, station=station, region=region, failed=failed, pages=pages)


@dataclass(frozen=True)
class PatrolShown:
    view: patrols.PatrolView
    cases: dict[str, tuple[str, str]]  # failed item -> (case number, state)


def _patrol(session: Session, patrol_id: int) -> PatrolShown:
    patrol = session.get(Patrol, patrol_id)
    station = session.get(Station, patrol.station_id) if patrol else None
    if patrol is None or station is None or not grid_scope.visible(user(), station.region.path):
        raise NotFound("no such patrol")  # outside the user's cells: as if it did not exist
    results = dict(patrol.results)
    keys = {patrols.subject_key(station.code, item): item for item, result in results.items() if result == patrols.FAIL}
    cases: dict[str, tuple[str, str]] = {}
    if keys:
        # The case each failed item opened or attached to: opened by this patrol or before it, the
        # newest per item (a later patrol's repeat of a closed case opens another).
        rows = session.execute(
            select(Case.subject_key, Case.number, Case.state)
            .where(Case.subject_key.in_(keys), Case.opened_at <= patrol.at)
            .order_by(Case.opened_at, Case.id)
        ).all()
        for key, case_number, state in rows:
            cases[keys[key]] = (str(case_number), str(state))
    view = patrols.patrol_view(patrol, station, [number for number, _ in cases.values()])
    return PatrolShown(view, cases)


@blueprint.get("/patrols/<int:patrol_id>")
@allow(*ROLES)
def patrol_detail(patrol_id: int) -> Any:
    if patrol_id > MAX_PATROL_ID:  # beyond the id column: no such patrol (the database would refuse the number)
        raise NotFound("no such patrol")
    shown = read(lambda s: _patrol(s, patrol_id))
    return page("patrol.html", shown=shown, checklist=rules().checklist, closed=CaseState.CLOSED.value)
