"""Grid case pages (docs/grid.md, docs/bureau.md "Grid cases"): my cases, all cases with filters,
one case with its timeline and the actions the signed-in person may take, a grid cell's page, and
the photos attached to steps. Bureau and grid users; a grid user sees the cases its regions must
act on (services/grid_scope.py), and a case outside its scope answers 404 as an unknown one does.

URL scheme (stable: the Chromium story and the docs use it):
- GET  /dashboard/my-cases                      my_cases: a grid user's landing page (/ sends it here)
- GET  /dashboard/cases                         case_list; query fields, all optional:
       kind (a case kind), state (a case state or "open"), region (a region code: cases found in its
       subtree), overdue ("true"/"false"), since, until (local days YYYY-MM-DD, of the opening),
       cursor (the next page, from the page's "next" link)
- GET  /dashboard/cases/<number>                case_page: details, timeline, the action form
- POST /dashboard/cases/<number>                case_action, multipart/form-data: csrf_token, action
       (accepted | dispatched | handled | verified | closed | note: the pressed button's value),
       note (text; required for handled and note), assignee (a grid user name, dispatched only;
       empty: the dispatching officer itself, or anyone of the region when the bureau dispatches),
       photo (optional file: JPEG, PNG or WebP). Done: 303 to the case page; refused: the case
       page again with the error and the form as typed (422 invalid, 409 wrong state, 403 not
       yours to take, 404 outside the caller's scope).
- GET  /dashboard/cases/<number>/photos/<sha256> case_photo: the stored file with its content type
- GET  /dashboard/grid/<region code>            grid_cell: people, this week's figures, open cases, children
Element ids the tests and the story use: #cases (the list table; rows carry data-number and class
"late" when overdue or past the step's deadline), #case-state (data-state), #timeline (li
data-action), #action-form with #f-note, #f-assignee, #f-photo and one button per allowed action
(#do-accepted ... #do-note: name=action, value=the action), #action-error, #figures, #people,
#children, #open-cases; on my cases also #assigned (dispatched to me).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from flask import Response, redirect, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service import case_photos
from registry_service.api.parse import CODE, day
from registry_service.dashboard import case_actions
from registry_service.dashboard.filters import MAX_ECHO, Checks, FilterRefused, Form, choice_or_none
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, page, read, reg, user
from registry_service.errors import InvalidInput, NotFound
from registry_service.models import CaseAction, CaseStep, Region, Role
from registry_service.principal import Principal
from registry_service.services import case_figures, case_queries, cases, grid_people, grid_scope
from registry_service.services.case_figures import Week
from registry_service.services.cases import CaseConflict, CaseForbidden, CaseInvalid, StoredPhoto

PAGE_SIZE: Final = 50
MY_LIMIT: Final = 100  # cases a landing page lists per section: more is the list page's job
OVERDUE_CHOICES: Final = ("true", "false")
LIST_FIELDS: Final = ("kind", "state", "region", "overdue", "since", "until", "cursor")
MAX_CURSOR: Final = 200
SHA256_LENGTH: Final = 64
PHOTO_TYPES: Final = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class ListQuery:
    """The case list's filter as validated, and the form showing it."""

    flt: case_queries.CaseFilter
    values: dict[str, str] = field(default_factory=dict)  # the fields as shown, canonical
    cursor: str | None = None

    def form(self) -> Form:
        return Form(self.values)

    def next_url(self, cursor: str) -> str:
        return url_for("dashboard.case_list") + "?" + urlencode({**self.values, "cursor": cursor})


def _local_midnight(day_: date) -> datetime:
    return datetime.combine(day_, time(0), timezone(timedelta(hours=offset_hours())))


def _list_query() -> ListQuery:
    """The list's query string, every wrong field named (FilterRefused keeps the form as typed)."""
    args = request.args
    checks = Checks(args)
    checks.typed.update({k: v[:MAX_ECHO] for k, v in args.items() if k in LIST_FIELDS})
    values = {k: v.strip() for k, v in args.items() if k in LIST_FIELDS and v.strip()}
    kind = choice_or_none(checks, values, "kind", case_queries.KINDS)
    state = choice_or_none(checks, values, "state", case_queries.STATES)
    overdue = choice_or_none(checks, values, "overdue", OVERDUE_CHOICES)
    since = checks.run("since", lambda: day(values["since"], "since"), "not_a_date") if "since" in values else None
    until = checks.run("until", lambda: day(values["until"], "until"), "not_a_date") if "until" in values else None
    if since is not None and until is not None and since > until:
        checks.fail("since", "since_after_until", "since must not be after until")
    region = values.get("region")
    if region is not None:
        if not CODE.match(region):
            checks.fail("region", "not_a_code", "region is not a code")
            region = None
        elif read(lambda s: s.scalar(select(Region.id).where(Region.code == region))) is None:
            checks.fail("region", "unknown_region", f"no region {region}")
    cursor = values.get("cursor")
    if cursor is not None and len(cursor) > MAX_CURSOR:
        checks.fail("cursor", "not_a_cursor", "cursor is not one this registry issued")
    checks.done()
    flt = case_queries.CaseFilter(
        kind=kind,
        state=state,
        region=region,
        overdue=None if overdue is None else overdue == "true",
        since=_local_midnight(since) if since else None,
        until=_local_midnight(until + timedelta(days=1)) if until else None,
    )
    shown = {k: v for k, v in values.items() if k != "cursor"}
    return ListQuery(flt, shown, cursor)


def _list(principal: Principal, flt: case_queries.CaseFilter, limit: int, cursor: str | None = None) -> dict[str, Any]:
    at = now()
    return read(lambda s: case_queries.list_cases(s, principal, flt, at, limit, cursor))


@blueprint.context_processor
def _case_words() -> dict[str, Any]:
    at = now()

    def past_due(row: dict[str, Any]) -> bool:
        """The current step's deadline has passed (the sweep has not escalated it yet, or cannot)."""
        due = row.get("due_at")
        return isinstance(due, str) and row.get("state") != "closed" and datetime.fromisoformat(due) <= at

    return {"case_kinds": case_queries.KINDS, "case_states": case_queries.STATES, "past_due": past_due}


def _region_codes(principal: Principal) -> list[str]:
    return [path.rsplit("/", 1)[-1] for path in principal.region_paths]


@blueprint.get("/my-cases")
@allow(Role.BUREAU, Role.GRID)
def my_cases() -> Any:
    """The cases assigned to the signed-in person, then every open case of its grid."""
    principal = user()
    mine = _list(principal, case_queries.CaseFilter(state=case_queries.OPEN, mine=True), MY_LIMIT)
    waiting = _list(principal, case_queries.CaseFilter(state=case_queries.OPEN), MY_LIMIT)
    codes = _region_codes(principal)
    names = read(lambda s: dict(s.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all()))
    regions = [(code, names.get(code, code)) for code in codes]
    return page("my_cases.html", mine=mine["cases"], waiting=waiting["cases"], more=bool(waiting["next_cursor"]), regions=regions)


@blueprint.get("/cases")
@allow(Role.BUREAU, Role.GRID)
def case_list() -> Any:
    try:
        query = _list_query()
    except FilterRefused as refused:
        return page("cases.html", refused.status, query=None, form=refused.form, result=None)
    result = _list(user(), query.flt, PAGE_SIZE, query.cursor)
    return page("cases.html", query=query, form=query.form(), result=result)


def _case_view(number: str) -> dict[str, Any]:
    """Everything the case page shows: the case, its timeline, what the viewer may do."""
    principal = user()
    at = now()

    def work(session: Session) -> dict[str, Any]:
        detail = case_queries.case_detail(session, principal, number, at)
        case = cases.case_by_number(session, principal, number)
        return {
            "case": detail,
            "actions": case_actions.allowed(session, principal, case),
            "officers": case_actions.officers(session, case),
        }

    return read(work)


@blueprint.get("/cases/<number>")
@allow(Role.BUREAU, Role.GRID)
def case_page(number: str) -> Any:
    return page("case.html", **_case_view(_number(number)), error=None, typed={})


@blueprint.post("/cases/<number>")
@allow(Role.BUREAU, Role.GRID)
def case_action(number: str) -> Any:
    number = _number(number)
    principal = user()
    action = request.form.get("action", "")[:16]
    note = request.form.get("note", "")[: cases.MAX_NOTE + 1]
    assignee = request.form.get("assignee", "").strip()[:80] or None
    typed = {"note": note, "assignee": assignee or ""}
    try:
        _take(principal, number, action, note, assignee)
    except CaseConflict:
        return _refused(number, "wrong_state", 409, typed)
    except CaseForbidden:
        return _refused(number, "forbidden", 403, typed)
    except _Refused as refused:
        return _refused(number, refused.key, 422, typed)
    except case_photos.PhotoRefused:
        return _refused(number, "bad_photo", 422, typed)
    except CaseInvalid:
        return _refused(number, "invalid", 422, typed)
    return redirect(url_for("dashboard.case_page", number=number), 303)


class _Refused(InvalidInput):
    """An action the page refuses before asking the workflow, with the message member saying why."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key


def _take(principal: Principal, number: str, action: str, note: str, assignee: str | None) -> None:
    if action not in cases.ACTIONS:
        raise _Refused("invalid", f"action must be one of: {', '.join(cases.ACTIONS)}")
    if action in cases.NOTE_REQUIRED and not note.strip():
        raise _Refused("note_required", f"{action} needs a note")
    if assignee is not None and action != CaseAction.DISPATCHED:
        assignee = None  # the select is in the one form: only dispatching names someone
    photo = _photo(principal, number)
    at = now()

    def work(session: Session) -> None:
        case = cases.case_by_number(session, principal, number, for_update=True)
        if assignee is not None and assignee not in {o.username for o in case_actions.officers(session, case)}:
            raise _Refused("bad_assignee", f"{assignee} is not an officer of the handling region")
        cases.transition(session, case, action, principal, at, note, photo, assignee=assignee)

    reg().transaction(work)


def _photo(principal: Principal, number: str) -> StoredPhoto | None:
    """The uploaded photo, stored; None when the form sent no file (an empty file part)."""
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        return None
    content = upload.read(case_photos.MAX_PHOTO_BYTES + 1)
    if not content:
        return None
    # Only for a case the caller may see: no one fills the disk through unknown numbers.
    read(lambda s: cases.case_by_number(s, principal, number).id)
    data_dir = reg().config.data_dir
    if data_dir is None:
        raise _Refused("photos_off", "this registry keeps no photos (REGISTRY_DATA_DIR)")
    return case_photos.store(data_dir, content)


def _refused(number: str, key: str, status: int, typed: dict[str, str]) -> tuple[str, int]:
    return page("case.html", status, **_case_view(number), error=key, typed=typed)


@blueprint.get("/cases/<number>/photos/<sha256>")
@allow(Role.BUREAU, Role.GRID)
def case_photo(number: str, sha256: str) -> Response:
    number = _number(number)
    if len(sha256) != SHA256_LENGTH or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound("not a photo of this case")
    principal = user()

    def work(session: Session) -> str | None:
        case = cases.case_by_number(session, principal, number)
        return session.scalar(
            select(CaseStep.photo_path).where(CaseStep.case_id == case.id, CaseStep.photo_sha256 == sha256).limit(1)
        )

    relative = read(work)
    data_dir = reg().config.data_dir
    if relative is None or data_dir is None:
        raise NotFound("not a photo of this case")
    root = Path(data_dir).resolve()
    path = (root / relative).resolve()
    content_type = PHOTO_TYPES.get(path.suffix.lstrip("."))
    if not path.is_relative_to(root) or content_type is None or not path.is_file():
        raise NotFound("the photo's file is not there")
    return send_file(path, mimetype=content_type, download_name=path.name, max_age=0)


@blueprint.get("/grid/<code>")
@allow(Role.BUREAU, Role.GRID)
def grid_cell(code: str) -> Any:
    if not CODE.match(code):
        raise NotFound("not a region code")
    principal = user()
    zone = reg().config.zone()
    week = Week.containing(now(), zone)
    window = week.window(zone)

    def work(session: Session) -> dict[str, Any]:
        region = case_figures.region_for(session, code, principal)
        assert region is not None  # a code was given
        people = [p for p in grid_people.people(session, principal, code) if p.region == code]
        report = case_figures.report(session, region, window)
        parent = session.get(Region, region.parent_id) if region.parent_id is not None else None
        if parent is not None and not grid_scope.visible(principal, parent.path):
            parent = None  # above a grid user's own regions: a link to a 403 helps no one
        trail = [(r, grid_scope.visible(principal, r.path)) for r in report.trail]
        return {"region": region, "people": people, "report": report, "parent": parent, "trail": trail}

    found = read(work)
    open_cases = _list(principal, case_queries.CaseFilter(state=case_queries.OPEN, region=code), PAGE_SIZE)
    return page("grid_cell.html", **found, week=week, open_cases=open_cases["cases"], more=bool(open_cases["next_cursor"]))


def _number(value: str) -> str:
    if len(value) > 32 or not CODE.match(value):
        raise NotFound("not a case number")
    return value


def index_target(principal: Principal) -> str:
    """Where / sends a signed-in person: the bureau to the overview, a grid user to its cases."""
    if principal.role is Role.GRID:
        return "dashboard.my_cases"
    return "dashboard.overview" if principal.role is Role.BUREAU else "dashboard.inspections"
