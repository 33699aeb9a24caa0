"""Who may use the dashboard, and how: the password check, the session it starts, CSRF tokens and
where to go after signing in.

There is one user store and one password path: accounts.password_login, shared with the API's
token log-in, so the same persistent throttle (services/login_throttle.py) locks both and an
unknown user name costs the same KDF work as a wrong password. A successful sign-in starts a
server-side session (server_sessions.py); the cookie holds only its id and the CSRF token.
Time is always a parameter so tests can move it.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy.orm import Session

from registry_service.auth import Principal
from registry_service.dashboard import server_sessions
from registry_service.dashboard.server_sessions import DASHBOARD_ROLES
from registry_service.errors import NotAuthenticated
from registry_service.services import accounts
from registry_service.services.login_throttle import Attempt, LoginLocked, ThrottlePolicy

CSRF_FIELD = "csrf_token"
SESSION_ID = "sid"  # the cookie's key for the server-side session id
__all__ = ["CSRF_FIELD", "DASHBOARD_ROLES", "SESSION_ID", "SignInRefused", "csrf_ok", "new_csrf_token", "safe_next", "sign_in"]


class SignInRefused(Exception):
    """Why a sign-in did not succeed: "bad_credentials", "role_refused" or "locked_out" (for
    `minutes`); the page words it (web.py)."""

    def __init__(self, key: str, minutes: int | None = None) -> None:
        super().__init__(key)
        self.key = key
        self.minutes = minutes


def sign_in(
    transaction: accounts.Transaction,
    username: str,
    password: str,
    client: str | None,
    now: datetime,
    policy: ThrottlePolicy,
) -> tuple[Principal, str]:
    """Check a sign-in; returns the user and the new session's id, or raises SignInRefused."""

    def start(session: Session, principal: Principal) -> str | None:
        if principal.role not in DASHBOARD_ROLES:
            return None
        return server_sessions.start(session, principal.user_id, now)

    try:
        principal, session_id = accounts.password_login(
            transaction, now, Attempt(username, client), password,
            lambda session, principal: (principal, start(session, principal)), policy,
        )  # fmt: skip
    except LoginLocked as locked:
        raise SignInRefused("locked_out", minutes=locked.minutes) from None
    except NotAuthenticated:
        raise SignInRefused("bad_credentials") from None
    if session_id is None:
        raise SignInRefused("role_refused")
    return principal, session_id


def safe_next(target: str | None, prefix: str) -> str | None:
    """Where to go after signing in: only a path on this site under `prefix` (the dashboard), as
    a relative URL. No scheme or host (an open redirect would help phishing), no control
    characters (a newline in a Location header is a 500, or a header injection), no `//` or `\\`
    (browsers read those as another host); other characters are percent-encoded."""
    if not target or len(target) > 2000:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in target):
        return None
    if "\\" in target or "//" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not (parts.path == prefix or parts.path.startswith(prefix + "/")):
        return None
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return None  # "/dashboard/../api": browsers resolve it outside the dashboard
    return quote(target, safe="/?&=%:;,+@!$'()*~-._")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: object, given: str | None) -> bool:
    # As bytes: compare_digest raises TypeError (a 500) for a str with non-ASCII characters.
    return (
        isinstance(expected, str)
        and bool(given)
        and hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), (given or "").encode("utf-8", "surrogatepass"))
    )
