"""What a signed-in officer does from the handheld page, under /dashboard/handheld/: who is signed
in (and the CSRF token the page sends back), and the upload of a check, optionally opening a case.

Under the dashboard's prefix on purpose: the dashboard's cookie session (signed cookie, server-side
session, 30 minutes idle, 8 hours at most; dashboard/server_sessions.py) is opened only there, and
its sign-in page may send the officer back only there (signin.safe_next); GET /dashboard/handheld/
sends them on to the page. A POST needs the session's CSRF token, in the X-CSRF-Token header (the
page's fetch) or a csrf_token form field (as dashboard forms send it). Answers are problem+json.

Only grid people and the bureau record checks (a centre's user may sign in to the dashboard but
not here: 403); anonymous callers get 401.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

from flask import Blueprint, Response, g, jsonify, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from registry_service.api import parse
from registry_service.api.common import now, tx
from registry_service.auth import Principal
from registry_service.dashboard import server_sessions
from registry_service.dashboard.signin import CSRF_FIELD, SESSION_ID, csrf_ok, new_csrf_token
from registry_service.errors import Forbidden, InvalidInput, NotAuthenticated, RegistryError
from registry_service.handheld.paths import URL_PREFIX as PAGE
from registry_service.models import Role
from registry_service.services import handheld_checks
from registry_service.services.handheld_checks import SOURCES, CheckIn
from tag_tools import identifiers
from tag_tools.reason_catalogue import catalogue

P = ParamSpec("P")
R = TypeVar("R")
URL_PREFIX: Final = "/dashboard/handheld"
CSRF_HEADER: Final = "X-CSRF-Token"
OFFICERS: Final = frozenset({Role.GRID, Role.BUREAU})
CHECK_FIELDS: Final = frozenset(
    {"id", "checked_at", "source", "cylinder_id", "tag_uid", "decision", "reasons", "status_checked", "place", "open_case"}
)

blueprint = Blueprint("handheld_officer", __name__)


class CsrfRefused(RegistryError):
    """A POST without the session's CSRF token (400, as the dashboard answers it)."""

    type_slug = "csrf"
    title = "Missing or wrong CSRF token"


@blueprint.before_request
def _session() -> None:
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = new_csrf_token()
    if request.method == "POST":
        given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
        if not csrf_ok(session.get(CSRF_FIELD), given):
            raise CsrfRefused("send the token from GET /dashboard/handheld/me in the X-CSRF-Token header")
    g.handheld_officer = None
    if SESSION_ID in session:
        g.handheld_officer = tx(lambda s: server_sessions.principal(s, session.get(SESSION_ID), now()))


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def officer_only(view: Callable[P, R]) -> Callable[P, R]:
    """401 for nobody signed in, 403 for a role that records no checks."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        principal: Principal | None = g.get("handheld_officer")
        if principal is None:
            raise NotAuthenticated("sign in to the dashboard as a grid officer first")
        if principal.role not in OFFICERS:
            raise Forbidden(f"role {principal.role.value} does not record handheld checks")
        return view(*args, **kwargs)

    wrapper.allowed_roles = OFFICERS  # type: ignore[attr-defined]  # as auth.roles records it, for tests
    return wrapper


@blueprint.get("/")
def back_to_page() -> BaseResponse:
    """Where the dashboard's sign-in sends an officer who came from the page."""
    return redirect(f"{PAGE}/")


@blueprint.get("/me")
def me() -> Response:
    principal: Principal | None = g.get("handheld_officer")
    return jsonify(
        {
            "signed_in": principal is not None,
            "username": principal.username if principal else None,
            "role": principal.role.value if principal else None,
            "may_record": principal is not None and principal.role in OFFICERS,
            "csrf_token": session.get(CSRF_FIELD),
        }
    )


@blueprint.post("/checks")
@officer_only
def record_check() -> tuple[Response, int]:
    check = parse_check(parse.json_body())
    principal: Principal = g.handheld_officer
    recorded = tx(lambda s: handheld_checks.record_check(s, principal, now(), check))
    body = {
        "id": str(recorded.check.check_uuid),
        "received_at": recorded.check.received_at.isoformat(),
        "case": recorded.case_number,
        "duplicate": not recorded.created,
    }
    return jsonify(body), 201 if recorded.created else 200


def parse_check(body: dict[str, object]) -> CheckIn:
    """The upload's JSON, every field checked (422 naming the field)."""
    parse.only_fields(body, CHECK_FIELDS)
    source = parse.required_text(body, "source", max_len=8)
    if source not in SOURCES:
        raise InvalidInput(f"source must be one of: {', '.join(SOURCES)}")
    decision = parse.required_text(body, "decision", max_len=24)
    if decision not in handheld_checks.DECISIONS:
        raise InvalidInput(f"decision must be one of: {', '.join(handheld_checks.DECISIONS)}")
    reasons = body.get("reasons", [])
    known = set(catalogue().codes)
    if (
        not isinstance(reasons, list)
        or len(reasons) > handheld_checks.MAX_REASONS
        or not all(isinstance(r, str) and r in known for r in reasons)
    ):
        raise InvalidInput(f"reasons must be a list of at most {handheld_checks.MAX_REASONS} known reason codes")
    cylinder_id = parse.optional_identifier(body, "cylinder_id", identifiers.cylinder_id, nullable=True)
    tag_uid = parse.optional_identifier(body, "tag_uid", identifiers.tag_uid, nullable=True)
    if cylinder_id is None and tag_uid is None:
        raise InvalidInput("a check needs cylinder_id or tag_uid")
    return CheckIn(
        check_uuid=parse.event_uuid(body.get("id"), "id"),
        checked_at=parse.timestamp(body.get("checked_at"), "checked_at"),
        source=source,
        cylinder_id=cylinder_id,
        tag_uid=tag_uid,
        decision=decision,
        reasons=tuple(str(r) for r in reasons),
        status_checked=parse.boolean(body, "status_checked", False),
        place=parse.text(body, "place", required=False, max_len=handheld_checks.PLACE_MAX) or "",
        open_case=parse.boolean(body, "open_case", False),
    )
