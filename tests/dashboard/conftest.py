"""Fixtures: one seeded SQLite registry per test session (the dashboard only reads), a fresh app
and clock per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.dashboard.world import Clock, build_database, make_app


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'registry.sqlite3'}"
    engine = build_database(url)
    yield engine, url
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(seeded: tuple[Engine, str], clock: Clock) -> Flask:
    return make_app(seeded[0], seeded[1], clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
