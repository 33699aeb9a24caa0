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
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(model).on_conflict_do_nothing()
    raise NotImplementedError(f"idempotent uploads support PostgreSQL and SQLite, not {dialect}")
