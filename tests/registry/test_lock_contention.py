"""A registry whose database is locked by another writer answers a station at once: 503 problem+json
with a Retry-After of a second or two, not an upload held for SQLite's 30 s busy timeout (three
times, as it was). Once the lock is gone the station's retry is stored, exactly once.

The lock is real: BEGIN EXCLUSIVE on the SQLite file from another connection, or ACCESS EXCLUSIVE
table locks on PostgreSQL, held by the test while the registry serves the request.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle, counts, event, post_events

# Generous: a decision within the lock wait (0.25 s) plus test-client overhead; the old behaviour took 90 s.
DECISION_S = 5.0


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's write lock (PostgreSQL: every table a station request touches)."""
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as pg_holder:
        pg_holder.execute("LOCK TABLE scan_events, station_faults, cylinders IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg_holder.rollback()


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_busy(response: Any, elapsed: float) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("/busy")
    assert response.headers["Retry-After"] in ("1", "2")
    assert elapsed < DECISION_S, f"the 503 took {elapsed:.2f} s"


def test_upload_under_lock_is_refused_quickly_and_the_retry_is_stored_once(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    batch = [event(world.clock()) for _ in range(3)]
    with write_lock(engine):
        response, elapsed = timed(lambda: post_events(client, world, "ST-JS-01", batch))
        assert_busy(response, elapsed)
    retry = post_events(client, world, "ST-JS-01", batch)
    assert retry.status_code == 200 and counts(retry) == {"received": 3, "accepted": 3, "duplicates": 0}
    assert post_events(client, world, "ST-JS-01", batch).get_json()["duplicates"] == 3


def test_fault_reports_under_lock_are_refused_quickly_too(client: FlaskClient, world: World, engine: Engine) -> None:
    report = {"schema": 1, "kind": "station_fault", "code": "reader_lost", "occurred_at": world.clock().isoformat()}
    with write_lock(engine):
        response, elapsed = timed(
            lambda: client.post("/api/v1/stations/ST-JS-01/faults", json={"reports": [report]}, headers=world.auth("station"))
        )
        assert_busy(response, elapsed)
    again = client.post("/api/v1/stations/ST-JS-01/faults", json={"reports": [report]}, headers=world.auth("station"))
    assert again.json == {"received": 1, "accepted": 1, "duplicates": 0}


def test_status_checks_under_a_write_lock(client: FlaskClient, world: World, engine: Engine) -> None:
    """SQLite (WAL): readers never wait for a writer, so status checks go on. PostgreSQL: an
    ACCESS EXCLUSIVE lock blocks reads too, and the status path gives up after lock_timeout."""
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": "156-4101-1"}])

    def check() -> TestResponse:
        return client.post("/api/v1/status", json={"plate": "豫A8M2K7"}, headers=world.auth("station"))

    with write_lock(engine):
        response, elapsed = timed(check)
        if engine.dialect.name == "sqlite":
            assert response.status_code == 200 and response.json["cylinders"][0]["decision"] == "allow"
        else:
            assert_busy(response, elapsed)
    assert check().status_code == 200
