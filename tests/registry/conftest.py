"""Fixtures: every test that uses `engine` runs on SQLite and on PostgreSQL.

PostgreSQL: a database with a unique name is created on 127.0.0.1:5432 (or REGISTRY_TEST_PG_URL)
for the session and dropped afterwards (tests/registry/pg_cluster.py); when the server is
unreachable the tests skip, or fail under CI=true (tests/peers.py). Between tests every table is
emptied.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from registry_service.app import create_app
from registry_service.clone_watch import CloneWatch
from registry_service.config import RegistryConfig
from registry_service.metrics import RegistryMetrics
from registry_service.models import Base, Role
from registry_service.node import Registry
from registry_service.services import accounts, grid_people, places
from tests.registry.module_database import migrated
from tests.registry.pg_cluster import create_database, drop_database, scratch_database
from tests.testkit import TestPki

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def scan_event_row(station_id: int, at: datetime, ident: uuid.UUID | None = None) -> dict[str, Any]:
    """The fewest columns of a scan_events row, for migration tests that insert below the models."""
    return {
        "event_uuid": ident or uuid.uuid4(),
        "occurred_at": at,
        "received_at": at,
        "station_id": station_id,
        "decision": "allow",
        "outcome": "allowed",
        "reasons": "",
        "reason_mask": 0,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database with no schema at all, for the migration tests."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
        yield engine
        engine.dispose()
        return
    url = create_database("registry_migration")
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_database(url)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('registry') / 'registry.sqlite3'}"
        return
    with scratch_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    yield from migrated(database_url)


def empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Superuser only: lets the test reset the append-only audit log.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    empty_all_tables(migrated_engine)
    yield migrated_engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pki(clock: Clock) -> TestPki:
    return TestPki.create(clock.now)


@pytest.fixture
def config(database_url: str, pki: TestPki) -> RegistryConfig:
    return RegistryConfig(database_url=database_url, bureau_root_pem=pki.root_certificate_pem, token_cache_s=0)


@pytest.fixture
def app(engine: Engine, config: RegistryConfig, clock: Clock) -> Flask:
    return create_app(config, engine=engine, clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class World:
    """A small registry: one city, two districts with cells, two stations, one centre, users."""

    def __init__(self, app: Flask, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        self.registry: Registry = app.extensions["registry"]
        self.tokens: dict[str, str] = {}

    def build(self) -> World:
        def work(s: Session) -> None:
            city = places.ensure_region(s, "4101", "郑州市")
            jinshui = places.ensure_region(s, "410105", "金水区", city)
            erqi = places.ensure_region(s, "410103", "二七区", city)
            places.ensure_region(s, "410105-01", "经八路街道", jinshui)
            places.ensure_region(s, "410103-01", "淮河路街道", erqi)
            places.create_station(
                s,
                "test",
                self.clock(),
                code="ST-JS-01",
                name="金水一站",
                region_code="410105-01",
                latitude=34.77,
                longitude=113.68,
            )
            places.create_station(
                s,
                "test",
                self.clock(),
                code="ST-EQ-01",
                name="二七一站",
                region_code="410103-01",
                latitude=34.73,
                longitude=113.64,
            )
            places.create_station(
                s, "test", self.clock(), code="ST-FAR", name="洛阳站", region_code="4101", latitude=34.62, longitude=112.45
            )
            places.create_centre(s, "test", self.clock(), code="ZZTJ01", name="郑州特检中心", region_code="410105")
            places.create_centre(s, "test", self.clock(), code="ZZTJ02", name="郑州特检二中心")

        self.registry.transaction(work)
        for name, role, station, centre in [
            ("admin", Role.ADMIN, None, None),
            ("bureau", Role.BUREAU, None, None),
            ("station", Role.STATION, "ST-JS-01", None),
            ("station2", Role.STATION, "ST-EQ-01", None),
            ("centre", Role.CENTRE, None, "ZZTJ01"),
            ("centre2", Role.CENTRE, None, "ZZTJ02"),
        ]:
            self.tokens[name] = self.add_user(name, role, station, centre)
        self.tokens["grid"] = self.add_grid_person("grid", "410105-01")  # the officer of ST-JS-01's cell
        return self

    def watch_clones(
        self, batch: int | None = None, distributed: bool | None = None, metrics: RegistryMetrics | None = None
    ) -> int:
        """What the clone watch `serve` runs would do now (clone_watch.py): judge every queued
        upload, `batch` of them per round, the scans read in Citus's form if `distributed`, the
        round told to `metrics`; returns how many."""
        watch = CloneWatch(self.registry, metrics)
        watch.batch = batch or watch.batch
        watch.distributed = distributed
        return watch.run_once()

    def add_grid_person(self, name: str, region: str, duty: str | None = None) -> str:
        """A grid user who is a grid person of `region`; returns its token."""

        def work(s: Session) -> str:
            grid_people.add_person(s, "test", self.clock(), region_code=region, name=name, username=name, duty=duty)
            return accounts.issue_token(s, "test", self.clock(), username=name).token

        return self.registry.transaction(work)

    def add_user(
        self, name: str, role: Role, station: str | None = None, centre: str | None = None, password: str | None = None
    ) -> str:
        def work(s: Session) -> str:
            accounts.create_user(
                s, "test", self.clock(), username=name, role=role, password=password, station_code=station, centre_code=centre
            )
            return accounts.issue_token(s, "test", self.clock(), username=name).token

        return self.registry.transaction(work)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    return World(app, clock).build()


DATA = Path(__file__).parent.parent / "data" / "registry"
