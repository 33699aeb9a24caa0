"""INSERT ... ON CONFLICT DO NOTHING for the session's database: how idempotent uploads and plans
skip what the registry already has. Its own module, importing nothing of the services, so any
service can use it without an import cycle (services/events.py re-exports it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from registry_service.models import Base


def insert_ignoring_duplicates(session: Session, model: type[Base]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: how idempotent uploads skip what the registry already has."""
    return dialect_insert(session.get_bind().dialect.name)(model).on_conflict_do_nothing()


def dialect_insert(dialect: str) -> Any:
    """The dialect's own insert(), the one with ON CONFLICT: for statements built once per dialect
    (services/station_health.py, station_faults.py) rather than per session."""
    if dialect == "postgresql":
        return pg_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise NotImplementedError(f"idempotent uploads support PostgreSQL and SQLite, not {dialect}")
