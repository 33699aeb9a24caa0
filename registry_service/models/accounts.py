"""People and machines that call the registry, their credentials, and the audit log.

Tokens are stored as SHA-256 of a 256-bit random secret: a leaked table cannot be replayed, and
lookup stays one indexed equality (no KDF needed for high-entropy secrets). Passwords use Argon2id
(tag_tools.passwords).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry_service.models.base import Base, UTCDateTime, str_enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    BUREAU = "bureau"
    CENTRE = "centre"
    STATION = "station"
    GRID = "grid"  # a grid officer or lead: sees the cases of its regions' subtrees (models/grid.py)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    # Scope: a station user acts for exactly one station, a centre user for one centre.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_centres.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Append-only (PostgreSQL enforces it with a trigger): who changed what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_ref: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(Text, default="{}")
