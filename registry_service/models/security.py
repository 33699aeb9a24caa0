"""Log-in throttle and dashboard sessions: the state every node must share.

Both live in the database, not in a node's memory, so a lockout holds on every node and after a
restart, and signing out ends a session everywhere. Neither table stores a secret or a name an
attacker typed: throttle rows are keyed by a SHA-256 of "scope:subject", sessions by a SHA-256 of
the session id the browser holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class LoginThrottleEntry(Base):
    """Failed log-ins of one user name or one client address (every log-in path counts here)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256("user:<name>" / "client:<addr>")
    scope: Mapped[str] = mapped_column(String(8))  # "user" or "client"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rows not touched for a day are deleted (services/login_throttle.py): growth stays bounded.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DashboardSession(Base):
    """A signed-in dashboard session; deleted on sign-out, refused when idle or too old."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie's session id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
