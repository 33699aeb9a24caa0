"""Run the registry's Alembic migrations from code (CLI `upgrade`, tests, the app's own setup).

Partitions of scan_events are created by migrations and by `cylinder-registry partitions`, not by
the models, so schema comparison ignores tables named scan_events_pYYYYMMDD / scan_events_default.
"""

from __future__ import annotations

import re
from importlib import resources

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

PARTITION_NAME = re.compile(r"^scan_events_(p\d{8}|default)$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "table" and name is not None:
        return not PARTITION_NAME.match(name) and name != "alembic_version"
    return True


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("registry_service") / "migrations"))
    config.attributes["engine"] = engine
    return config


def _run(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_differences(engine: Engine) -> list[object]:
    """What autogenerate would change to make the database match the models (empty = in sync)."""
    from registry_service.models import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name, "compare_type": True})
        return list(compare_metadata(context, Base.metadata))
