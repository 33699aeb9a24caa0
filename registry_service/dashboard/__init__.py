"""The bureau's dashboard: server-rendered pages over the registry's read queries.

`register_dashboard(app)` mounts it under /dashboard on an app made by create_app; calling it
again on the same app only changes the key, cookie flags and log-in throttle policy. The session
cookie is signed with `secret_key` (or the app's SECRET_KEY) and holds only a server-side session's
id (server_sessions.py) and the CSRF token; every node behind one address needs the same key, so a
random key is only a fallback for a single node and logs a warning.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from registry_service.services.login_throttle import POLICY_EXTENSION, ThrottlePolicy

log = logging.getLogger(__name__)
URL_PREFIX = "/dashboard"


class DashboardOnlySessions(SecureCookieSessionInterface):
    """Cookie sessions for the dashboard's pages only: the API authenticates by token, so opening
    a signed cookie session (building its serializer) on every API request is wasted work."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(URL_PREFIX):
            return None  # Flask then uses a null session, which refuses writes
        return super().open_session(app, request)


def register_dashboard(
    app: Flask, *, secret_key: str | bytes | None = None, throttle: ThrottlePolicy | None = None, secure_cookies: bool = False
) -> None:
    # Importing the view modules registers their routes.
    from registry_service.dashboard import (  # noqa: F401
        case_report_views,
        case_views,  # grid case pages (issue 16)
        find_views,
        grade_views,  # station grades and patrols (issue 16)
        health_views,
        languages,
        map_views,
        views,
    )
    from registry_service.dashboard.web import blueprint

    key = secret_key or app.config.get("SECRET_KEY")
    if not key:
        log.warning("no dashboard secret key configured: sessions end when this process restarts")
        key = secrets.token_hex(32)
    app.config.update(
        SECRET_KEY=key,
        SESSION_COOKIE_NAME="cg_dashboard",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
    )
    app.session_interface = DashboardOnlySessions()
    languages.init_app(app)
    if throttle is not None:  # else services/login_throttle.DEFAULT_POLICY (the API's log-in shares it)
        app.extensions[POLICY_EXTENSION] = throttle
    if blueprint.name not in app.blueprints:  # calling again (e.g. a test after create_app) re-keys only
        app.register_blueprint(blueprint, url_prefix=URL_PREFIX)
