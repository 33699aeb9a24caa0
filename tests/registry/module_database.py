"""A test module's own SQLite database, instead of conftest's session-wide one on both databases:
for modules whose subject is the same on either (the PostgreSQL differences are tested elsewhere).

    database_url, migrated_engine = sqlite_module_database("cases")

binds the two fixtures under those names in the module (pytest finds them by attribute)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from registry_service import migrate
from registry_service.config import RegistryConfig
from registry_service.db import make_engine


def sqlite_module_database(label: str) -> tuple[Any, Any]:
    """The module-scoped `database_url` and `migrated_engine` fixtures; `label` names the folder."""

    @pytest.fixture(scope="module", name="database_url")
    def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
        return f"sqlite:///{tmp_path_factory.mktemp(label) / 'registry.sqlite3'}"

    @pytest.fixture(scope="module", name="migrated_engine")
    def migrated_engine(database_url: str) -> Iterator[Engine]:
        yield from migrated(database_url)

    return database_url, migrated_engine


def migrated(database_url: str) -> Iterator[Engine]:
    """An engine on the database, migrated to the head, disposed of when the fixture ends."""
    engine = make_engine(RegistryConfig(database_url=database_url, pool_size=4, max_overflow=4))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
