"""The dashboard blueprint's plumbing: language, the signed-in user (a server-side session checked
on every request), CSRF on every POST, role checks, sign-in and sign-out, HTML error pages and the
values every template gets. The report views live in views.py."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from registry_service.auth import Principal
from registry_service.dashboard import i18n, server_sessions
from registry_service.dashboard.charts import daily_chart, stacked_bar
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
    return reg().transaction(work)


def throttle() -> ThrottlePolicy:
    """The log-in throttle's policy (shared with the API's log-in; its state is in the database)."""
    return current_app.extensions.get(POLICY_EXTENSION, DEFAULT_POLICY)  # type: ignore[no-any-return]


def lang() -> i18n.Lang:
    return g.get("lang", i18n.DEFAULT_LANG)  # type: ignore[no-any-return]


def user() -> Principal:
    principal: Principal | None = g.get("dashboard_user")
    if principal is None:
        abort(401)
    return principal


@blueprint.before_request
def _before() -> Response | None:
    g.lang = i18n.pick_lang(request.args.get("lang"), request.cookies.get(i18n.LANG_COOKIE))
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = new_csrf_token()
    if request.method == "POST" and not csrf_ok(session.get(CSRF_FIELD), request.form.get(CSRF_FIELD)):
        abort(400, "missing or wrong CSRF token")
    if SESSION_ID in session:
        # The server's record decides, not the cookie: a signed-out, idle or expired session is
        # refused even when its (validly signed) cookie is replayed.
        g.dashboard_user = read(lambda s: server_sessions.principal(s, session.get(SESSION_ID), now()))
        if g.dashboard_user is None:
            session.pop(SESSION_ID, None)
    return None


@blueprint.after_request
def _after(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'",
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


def switch_lang_url() -> str:
    args = request.args.to_dict()
    args["lang"] = "en" if lang() == "zh" else "zh"
    return f"{request.path}?{urlencode(args)}"


@blueprint.app_template_global("t")
def _t(key: str, **values: object) -> str:
    return i18n.translate(key, lang(), **values)


@blueprint.context_processor
def _common() -> dict[str, Any]:
    current_lang = lang()
    hours = offset_hours()
    return {
        "lang": current_lang,
        "html_lang": "zh-CN" if current_lang == "zh" else "en",
        "user": g.get("dashboard_user"),
        "csrf_token": session.get(CSRF_FIELD, ""),
        "fmt_int": lambda v: i18n.format_int(v, current_lang),
        "fmt_pct": lambda v: i18n.format_percent(v, current_lang),
        "fmt_date": lambda v: i18n.format_date(v, current_lang),
        "fmt_dt": lambda v: i18n.format_datetime(_as_datetime(v), current_lang, hours),
        "reason_label": lambda code: i18n.reason_label(code, current_lang),
        "clone_detail": lambda detail: i18n.clone_detail(detail, current_lang),
        "fault_label": lambda code: i18n.fault_label(code, current_lang),
        "fmt_offset": lambda ms: i18n.format_offset(ms, current_lang),
        "bar": stacked_bar,
        "daily_chart": daily_chart,
        "link": link,
        "switch_lang_url": switch_lang_url,
        "offset_hours": hours,
        "Role": Role,
    }


def _as_datetime(value: datetime | str | None) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@blueprint.errorhandler(RegistryError)
def _registry_error(error: RegistryError) -> tuple[str, int]:
    key = {NotFound: "not_found", Forbidden: "forbidden", InvalidInput: "bad_request"}.get(type(error), "bad_request")
    return page("error.html", error.status, message_key=key, detail=error.detail)


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> tuple[str, int]:
    log.exception("dashboard page failed")
    return page("error.html", 500, message_key="internal_error", detail="")


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    key = {400: "bad_request", 403: "forbidden", 404: "not_found"}.get(status, "bad_request")
    return page("error.html", status, message_key=key, detail=error.description or "")


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
        error = i18n.translate(refused.key, lang(), **refused.values)
        return page("sign_in.html", status, error=error, username=username, next=target)
    log.info("dashboard sign-in: %s (%s) from %s", principal.username, principal.role.value, request.remote_addr)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user: no fixation
    session.update({SESSION_ID: session_id, CSRF_FIELD: new_csrf_token()})
    return redirect(target or url_for("dashboard.index"))


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    session_id = session.get(SESSION_ID)
    read(lambda s: server_sessions.end(s, session_id))
    session.clear()
    return redirect(url_for("dashboard.sign_in"))
