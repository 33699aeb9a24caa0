"""Dashboard sessions kept on the server (`dashboard_sessions`), so signing out ends them.

The signed cookie carries only a random session id (256 bits); the table keeps its SHA-256, never
the id itself, so a copy of the table cannot be replayed as a cookie. Every dashboard request looks
the id up: a session deleted by sign-out, idle for IDLE_TIMEOUT or older than SESSION_LIFETIME is
refused, so a cookie copied before sign-out is worthless after it. Time is a parameter.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from registry_service.auth import Principal
from registry_service.models import DashboardSession, Role, User
from registry_service.principal import loaded_principal
from registry_service.security import token_hash

SESSION_LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(minutes=30)
# last_seen_at is written at most this often: a page view is a read, not a write per request.
TOUCH_EVERY = timedelta(minutes=1)
DASHBOARD_ROLES = frozenset({Role.BUREAU, Role.CENTRE, Role.GRID})


def start(session: Session, user_id: int, now: datetime) -> str:
    """A new session for the user; returns the id for the cookie (shown once, stored hashed)."""
    sweep(session, now)
    session_id = secrets.token_urlsafe(32)
    session.add(DashboardSession(id_hash=token_hash(session_id), user_id=user_id, created_at=now, last_seen_at=now))
    session.flush()
    return session_id


def principal(session: Session, session_id: object, now: datetime) -> Principal | None:
    """The session's user, if the session is live and the user may still use the dashboard."""
    if not isinstance(session_id, str) or not session_id:
        return None
    row = session.scalar(select(DashboardSession).where(DashboardSession.id_hash == token_hash(session_id)))
    if row is None or not _live(row, now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.role not in DASHBOARD_ROLES:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return loaded_principal(session, user)


def end(session: Session, session_id: object) -> None:
    """Sign-out: the session stops existing, whoever holds a copy of its cookie."""
    if isinstance(session_id, str) and session_id:
        session.execute(delete(DashboardSession).where(DashboardSession.id_hash == token_hash(session_id)))


def sweep(session: Session, now: datetime) -> None:
    """Delete sessions that can no longer be used (idle or too old): the table stays small."""
    session.execute(
        delete(DashboardSession).where(
            or_(DashboardSession.last_seen_at <= now - IDLE_TIMEOUT, DashboardSession.created_at <= now - SESSION_LIFETIME)
        )
    )


def _live(row: DashboardSession, now: datetime) -> bool:
    return row.created_at <= now < row.created_at + SESSION_LIFETIME and now < row.last_seen_at + IDLE_TIMEOUT
