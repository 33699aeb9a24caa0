"""Cases (docs/grid.md): the list, one case with its timeline, workflow actions, the grid's people;
and the same cases read-only as Open311 GeoReport v2 service requests.

The bureau sees every case, a grid user those its regions must act on; a case outside a grid
user's scope answers 404 as an unknown one does, so case numbers cannot be probed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from registry_service import case_photos
from registry_service.api import parse
from registry_service.api.common import now, report_tx, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import case_queries, cases, grid_people, open311
from registry_service.services.cases import StoredPhoto

blueprint = Blueprint("cases", __name__)
CASE_NUMBER = parse.CODE
LIST_FILTERS = {"kind", "state", "region", "overdue", "since", "until", "mine", "limit", "cursor"}
ACTION_FIELDS = {"action", "note", "assignee"}


@blueprint.get("/cases")
@roles(Role.BUREAU, Role.GRID)
def list_cases() -> Response:
    """Cases newest opened first, keyset-paged (next_cursor)."""
    args = parse.filled(parse.query_args(LIST_FILTERS))
    flt = case_queries.CaseFilter(
        kind=args.get("kind"),
        state=args.get("state"),
        region=_code(args, "region"),
        overdue=_flag(args, "overdue"),
        since=parse.optional_timestamp(args, "since"),
        until=parse.optional_timestamp(args, "until"),
        mine=bool(_flag(args, "mine")),
    )
    limit = parse.query_int(args, "limit", 100, 1, registry().config.max_page_size)
    cursor = args.get("cursor")
    if cursor is not None and len(cursor) > 200:
        raise InvalidInput("cursor is not one this registry issued")
    principal = current()
    return jsonify(report_tx(lambda s: case_queries.list_cases(s, principal, flt, now(), limit, cursor)))


@blueprint.get("/cases/<number>")
@roles(Role.BUREAU, Role.GRID)
def get_case(number: str) -> Response:
    parse.query_args(())
    principal = current()
    return jsonify(tx(lambda s: case_queries.case_detail(s, principal, _number(number), now())))


@blueprint.post("/cases/<number>/actions")
@roles(Role.BUREAU, Role.GRID)
def act(number: str) -> Response:
    """A workflow step or a note: JSON {action, note, assignee}, or multipart/form-data with the
    same fields and an optional `photo` file (JPEG, PNG or WebP)."""
    parse.query_args(())
    number = _number(number)
    fields, content = _action_input()
    parse.only_fields(fields, ACTION_FIELDS)
    action = parse.required_text(fields, "action", max_len=16)
    note = parse.text(fields, "note", required=False, max_len=cases.MAX_NOTE) or ""
    assignee = parse.text(fields, "assignee", required=False, max_len=80)
    principal = current()
    at = now()
    photo: StoredPhoto | None = None
    if content is not None:
        # Only for a case the caller may see: no one fills the disk through unknown numbers.
        tx(lambda s: cases.case_by_number(s, principal, number).id)
        photo = case_photos.store(registry().config.data_dir, content)

    def work(session: Session) -> dict[str, Any]:
        case = cases.case_by_number(session, principal, number, for_update=True)
        cases.transition(session, case, action, principal, at, note, photo, assignee=assignee)
        return case_queries.case_detail(session, principal, number, at)

    return jsonify(tx(work))


@blueprint.get("/grid/people")
@roles(Role.ADMIN, Role.BUREAU, Role.GRID)
def list_grid_people() -> Response:
    """The grid's people by region: all for the bureau and the administrator, a grid user's own subtrees."""
    args = parse.query_args({"region"})
    region = _code(args, "region")
    principal = current()
    people = report_tx(lambda s: grid_people.people(s, principal, region))
    return jsonify({"people": [vars(person) for person in people]})


# Open311 GeoReport v2 (read-only) -------------------------------------------------------------


@blueprint.get("/open311/v2/services.json")
@roles(Role.BUREAU, Role.GRID)
def open311_services() -> Response:
    _code(parse.query_args({"jurisdiction_id"}), "jurisdiction_id")  # accepted, one registry is one jurisdiction
    return jsonify(open311.services())


@blueprint.get("/open311/v2/requests.json")
@roles(Role.BUREAU, Role.GRID)
def open311_requests() -> Response:
    args = parse.query_args({"jurisdiction_id", "status", "service_code", "start_date", "end_date"})
    _code(args, "jurisdiction_id")
    statuses = _list(args, "status")
    codes = _list(args, "service_code")
    start, end = parse.optional_timestamp(args, "start_date"), parse.optional_timestamp(args, "end_date")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end_date must be after start_date")
    principal = current()
    at = now()
    return jsonify(
        report_tx(lambda s: open311.requests(s, principal, at, statuses=statuses, service_codes=codes, start=start, end=end))
    )


@blueprint.get("/open311/v2/requests/<service_request_id>.json")
@roles(Role.BUREAU, Role.GRID)
def open311_request(service_request_id: str) -> Response:
    _code(parse.query_args({"jurisdiction_id"}), "jurisdiction_id")
    principal = current()
    return jsonify(report_tx(lambda s: open311.request(s, principal, _number(service_request_id))))


def _action_input() -> tuple[dict[str, Any], bytes | None]:
    """The action's fields, and the photo's bytes when one was sent."""
    if request.mimetype == "multipart/form-data":
        fields: dict[str, Any] = {}
        for key in request.form:
            values = request.form.getlist(key)
            if len(values) > 1:
                raise InvalidInput(f"field {key} given more than once")
            fields[key] = values[0]
        files = request.files.getlist("photo")
        unknown = sorted(set(request.files) - {"photo"})
        if unknown or len(files) > 1:
            raise InvalidInput("send at most one file, named photo")
        return fields, files[0].read(case_photos.MAX_PHOTO_BYTES + 1) if files else None
    return parse.json_body(), None


def _number(value: str) -> str:
    if len(value) > 32 or not CASE_NUMBER.match(value):
        raise InvalidInput("not a case number")
    return value


def _code(args: dict[str, str], key: str) -> str | None:
    value = args.get(key)
    if value is not None and not parse.CODE.match(value):
        raise InvalidInput(f"{key} is not a code")
    return value


def _flag(args: dict[str, str], key: str) -> bool | None:
    value = args.get(key)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise InvalidInput(f"{key} must be true or false")
    return value == "true"


def _list(args: dict[str, str], key: str) -> list[str]:
    """A comma-separated Open311 filter."""
    if key not in args:
        return []
    values = [part.strip() for part in args[key].split(",")]
    if not all(values) or len(values) > 10:
        raise InvalidInput(f"{key} is a comma-separated list of 1 to 10 values")
    return values
