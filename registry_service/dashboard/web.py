"""The dashboard blueprint's plumbing: the signed-in user (a server-side session checked on every
request), CSRF on every POST, role checks, sign-in and sign-out, HTML error pages and the values
every template gets (the words of the request's language: languages.py). The report views live in
views.py."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from registry_service.auth import Principal
from registry_service.dashboard import server_sessions
from registry_service.dashboard.charts import chart_unit, daily_chart, daily_rows, stacked_bar
from registry_service.dashboard.filters import FilterRefused, Form, today_local
from registry_service.dashboard.languages import remember, switcher, words
from registry_service.dashboard.map_tiles import image_sources
from registry_service.dashboard.periods import presets
from registry_service.dashboard.records import TAG_REASONS
from registry_service.dashboard.signin import CSRF_FIELD, SESSION_ID, SignInRefused, csrf_ok, new_csrf_token, safe_next
from registry_service.dashboard.signin import sign_in as check_sign_in
from registry_service.errors import Forbidden, InvalidInput, NotFound, RegistryError
from registry_service.models import Role
from registry_service.node import Registry, registry
from registry_service.services.login_throttle import DEFAULT_POLICY, POLICY_EXTENSION, ThrottlePolicy

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

blueprint = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


def reg() -> Registry:
    return registry()


def now() -> datetime:
    return reg().clock()


def offset_hours() -> int:
    return reg().config.report_utc_offset_hours


def read(work: Callable[[Session], T]) -> T:
    """A report's read-only work: on a fresh-enough replica when one is configured (Registry.report)."""
    return reg().report(work)


def throttle() -> ThrottlePolicy:
    """The log-in throttle's policy (shared with the API's log-in; its state is in the database)."""
    return current_app.extensions.get(POLICY_EXTENSION, DEFAULT_POLICY)  # type: ignore[no-any-return]


def user() -> Principal:
    principal: Principal | None = g.get("dashboard_user")
    if principal is None:
        abort(401)
    return principal


@blueprint.before_request
def _before() -> Response | None:
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = new_csrf_token()
    if request.method == "POST" and not csrf_ok(session.get(CSRF_FIELD), request.form.get(CSRF_FIELD)):
        abort(400, "missing or wrong CSRF token")
    if SESSION_ID in session:
        # The server's record decides, not the cookie: a signed-out, idle or expired session is
        # refused even when its (validly signed) cookie is replayed.
        g.dashboard_user = reg().transaction(lambda s: server_sessions.principal(s, session.get(SESSION_ID), now()))
        if g.dashboard_user is None:
            session.pop(SESSION_ID, None)
    return None


@blueprint.after_request
def _after(response: Response) -> Response:
    remember(response)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; img-src 'self' data:{image_sources(reg().config)}; style-src 'self'; script-src 'self'; "
        "form-action 'self'",
    )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def allow(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R | BaseResponse]]:
    """View decorator: anonymous users go to the sign-in page, other roles get a 403 page."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
            principal: Principal | None = g.get("dashboard_user")
            if principal is None:
                target = safe_next(request.full_path.rstrip("?"), url_for("dashboard.index").rstrip("/"))
                return redirect(url_for("dashboard.sign_in", next=target) if target else url_for("dashboard.sign_in"))
            if principal.role not in roles:
                raise Forbidden("role may not see this page")
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]  # as auth.roles records, for tests
        return wrapper

    return decorate


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(f"dashboard/{template}", **values), status


def link(endpoint: str, **params: Any) -> str:
    """A dashboard URL; None and empty values are dropped so links stay short."""
    return url_for(endpoint, **{k: v for k, v in params.items() if v not in (None, "")})


@blueprint.context_processor
def _common() -> dict[str, Any]:
    # t and tn are the keywords tests/dashboard/test_catalogue.py extracts message ids by.
    w = words()
    hours = offset_hours()
    today = today_local(now(), hours)
    return {
        "html_lang": w.language_tag,
        "languages": switcher,
        "user": g.get("dashboard_user"),
        "csrf_token": session.get(CSRF_FIELD, ""),
        "t": w.gettext,
        "tn": w.ngettext,
        "label": w.label,
        "fmt_int": w.integer,
        "fmt_pct": w.percent,
        "fmt_date": w.day,
        "fmt_dt": lambda v: w.timestamp(_as_datetime(v), hours),
        "reason_label": w.reason,
        "clone_detail": w.clone_detail,
        "fault_label": lambda code: w.label("fault", code),
        "fmt_offset": w.offset,
        "field_error": lambda problem: w.label("field_error", problem.kind, **problem.values),
        "tag_reasons": TAG_REASONS,
        "bar": stacked_bar,
        "daily_chart": lambda days: daily_chart(days, w, today),
        "daily_rows": lambda days: daily_rows(days, w, today),
        "chart_unit": chart_unit,
        "presets": lambda query: presets(query, today),
        "today": today,
        "link": link,
        "offset_hours": hours,
        "Role": Role,
    }


def _as_datetime(value: datetime | str | None) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _error_page(status: int, error: str, detail: str, form: Form | None = None) -> tuple[str, int]:
    """`error` is a member of the "error" message family (i18n.ERRORS). The detail is the code's
    English: it goes to the log, the page says what went wrong in the reader's language (and, for
    a refused filter without a form of its own, such as an export link, which fields are wrong)."""
    if detail:
        log.info("dashboard %s %s: %s", status, request.path, detail)
    return page("error.html", status, message=words().label("error", error), form=form)


@blueprint.errorhandler(RegistryError)
def _registry_error(error: RegistryError) -> tuple[str, int]:
    if isinstance(error, FilterRefused):
        return _error_page(error.status, "bad_request", error.detail, error.form)
    key = {NotFound: "not_found", Forbidden: "forbidden", InvalidInput: "bad_request"}.get(type(error), "bad_request")
    return _error_page(error.status, key, error.detail)


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> tuple[str, int]:
    log.exception("dashboard page failed")
    return _error_page(500, "internal_error", "")


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    key = {400: "bad_request", 403: "forbidden", 404: "not_found"}.get(status, "bad_request")
    return _error_page(status, key, error.description or "")


def _next_page(target: str | None) -> str | None:
    return safe_next(target, url_for("dashboard.index").rstrip("/"))


@blueprint.get("/sign-in")
def sign_in() -> Any:
    if g.get("dashboard_user") is not None:
        return redirect(url_for("dashboard.index"))
    return page("sign_in.html", next=_next_page(request.args.get("next")))


@blueprint.post("/sign-in")
def sign_in_submit() -> Any:
    username = request.form.get("username", "")[:80]
    password = request.form.get("password", "")  # a wrong password when unusable (security.py)
    target = _next_page(request.form.get("next"))
    try:
        principal, session_id = check_sign_in(reg().transaction, username, password, request.remote_addr, now(), throttle())
    except SignInRefused as refused:
        log.warning("dashboard sign-in refused for %r from %s: %s", username, request.remote_addr, refused.key)
        status = 403 if refused.key == "role_refused" else 429 if refused.key == "locked_out" else 401
        return page("sign_in.html", status, error=_refusal_text(refused), username=username, next=target)
    log.info("dashboard sign-in: %s (%s) from %s", principal.username, principal.role.value, request.remote_addr)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user: no fixation
    session.update({SESSION_ID: session_id, CSRF_FIELD: new_csrf_token()})
    return redirect(target or url_for("dashboard.index"))


def _refusal_text(refused: SignInRefused) -> str:
    w = words()
    if refused.minutes is not None:
        return w.ngettext("locked_out", refused.minutes, minutes=refused.minutes)
    return w.gettext("role_refused") if refused.key == "role_refused" else w.gettext("bad_credentials")


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    session_id = session.get(SESSION_ID)
    reg().transaction(lambda s: server_sessions.end(s, session_id))
    session.clear()
    return redirect(url_for("dashboard.sign_in"))
