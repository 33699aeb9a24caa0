"""Who may use the dashboard, and how: password check against the registry's own users,
lockout after repeated failures, the signed session cookie and its CSRF token.

Passwords are checked with registry_service.security.verify_password against users.password_hash:
there is one user store. The session is Flask's signed cookie holding the user id, the sign-in
time and a CSRF token; every request re-reads the user, so a disabled account or changed role
takes effect at once. Time is always a parameter so tests can move it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.auth import Principal, principal_for_user
from registry_service.models import Role, User
from registry_service.security import hash_password, verify_password

DASHBOARD_ROLES = frozenset({Role.BUREAU, Role.CENTRE})
SESSION_LIFETIME = timedelta(hours=8)
CSRF_FIELD = "csrf_token"
# A hash to check against when the user does not exist, so a wrong name costs the same scrypt
# time as a wrong password and user names cannot be probed by timing.
_DUMMY_HASH = hash_password("not-a-real-password-" + secrets.token_hex(8))


class SignInRefused(Exception):
    """Why a sign-in did not succeed; `key` is a message key of i18n.MESSAGES."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass
class _Failures:
    count: int = 0
    locked_until: datetime | None = None


@dataclass
class LoginThrottle:
    """Per-user-name failure counter: `max_failures` in a row locks the name for `lockout`.

    Kept in the node's memory (a restart forgets it); with several nodes behind a balancer each
    counts on its own, so the effective limit is max_failures per node.
    """

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    _entries: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked_for(self, username: str, now: datetime) -> timedelta | None:
        with self._lock:
            entry = self._entries.get(_key(username))
            if entry is None or entry.locked_until is None:
                return None
            if entry.locked_until <= now:
                del self._entries[_key(username)]
                return None
            return entry.locked_until - now

    def failed(self, username: str, now: datetime) -> None:
        with self._lock:
            if len(self._entries) > 100_000:  # bounded memory under a spraying attack
                self._entries.clear()
            entry = self._entries.setdefault(_key(username), _Failures())
            entry.count += 1
            if entry.count >= self.max_failures:
                entry.locked_until = now + self.lockout
                entry.count = 0

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._entries.pop(_key(username), None)


def _key(username: str) -> str:
    return username.strip().casefold()


def check_password(session: Session, username: str, password: str) -> User | None:
    """The user whose password this is, or None (unknown name, wrong password, disabled)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.password_hash:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, user.password_hash) or not user.active:
        return None
    return user


def sign_in(session: Session, throttle: LoginThrottle, username: str, password: str, now: datetime) -> Principal:
    """Check a sign-in; raises SignInRefused with the message to show."""
    locked = throttle.locked_for(username, now)
    if locked is not None:
        raise SignInRefused("locked_out", minutes=max(1, -(-int(locked.total_seconds()) // 60)))
    user = check_password(session, username, password)
    if user is None:
        throttle.failed(username, now)
        raise SignInRefused("bad_credentials")
    throttle.succeeded(username)
    if user.role not in DASHBOARD_ROLES:
        raise SignInRefused("role_refused")
    return principal_for_user(user)


def principal_from_session(session: Session, user_id: object, signed_in_at: object, now: datetime) -> Principal | None:
    """The session's user if the session is fresh and the user may still use the dashboard."""
    if not isinstance(user_id, int) or not isinstance(signed_in_at, str):
        return None
    try:
        started = datetime.fromisoformat(signed_in_at)
    except ValueError:
        return None
    if started.tzinfo is None or not started <= now < started + SESSION_LIFETIME:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or user.role not in DASHBOARD_ROLES:
        return None
    return principal_for_user(user)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: object, given: str | None) -> bool:
    return isinstance(expected, str) and bool(given) and hmac.compare_digest(expected, given or "")
