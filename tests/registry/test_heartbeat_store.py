"""How a heartbeat is stored (services/station_health.record_heartbeat, Core statements): the
"nothing new" rule decided by the database exactly as before (equal timestamps, JSON key order,
nulls, the hourly boundary) and the silent alarm cleared only where one is open. The token cache's
lifetime from the environment. Runs on SQLite and PostgreSQL; the registry's clock is injected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from registry_service.api.heartbeats import read_heartbeat
from registry_service.config import from_env
from registry_service.errors import ConfigError
from registry_service.services import meters, station_alarms, station_health
from registry_service.services.places import station_by_code
from tests.registry.conftest import Clock, World
from tests.registry.test_heartbeats import alarms, heartbeat, history, latest, post


def test_the_same_heartbeat_twice_in_one_instant_adds_no_history_row_but_a_change_does(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    # history_at equals received_at after the first: the rule, not the timestamps, must decide.
    assert post(client, world, heartbeat(world)).status_code == 200
    assert post(client, world, heartbeat(world, outbox_backlog=3)).status_code == 200
    assert len(history(engine)) == 1
    assert post(client, world, heartbeat(world, reader="lost")).status_code == 200
    assert [h.reader for h in history(engine)] == ["ok", "lost"]
    assert [(r.reader, r.outbox_backlog) for r in latest(engine)] == [("lost", 0)]


def test_the_status_lists_key_order_is_no_change_but_a_sequence_is(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    assert post(client, world, heartbeat(world, status_list_sequences={"7": 3, "0": 12})).status_code == 200
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world, status_list_sequences={"0": 12, "7": 3})).status_code == 200
    assert len(history(engine)) == 1
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world, status_list_sequences={"0": 12, "7": 4})).status_code == 200
    assert [h.status_list_sequences for h in history(engine)] == [{"0": 12, "7": 3}, {"0": 12, "7": 4}]
    assert latest(engine)[0].status_list_sequences == {"0": 12, "7": 4}


def test_null_equals_null_and_a_value_after_null_is_a_change(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    assert post(client, world, heartbeat(world, trust_list_sequence=None, totaliser=None)).status_code == 200
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world, trust_list_sequence=None, totaliser=None)).status_code == 200
    assert len(history(engine)) == 1
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world, trust_list_sequence=8, totaliser=None)).status_code == 200
    clock.advance(minutes=1)  # the totaliser's unit is not volatile: null to "kg" is a change too
    assert post(client, world, heartbeat(world, trust_list_sequence=8)).status_code == 200
    assert [(h.trust_list_sequence, h.totaliser_unit) for h in history(engine)] == [(None, None), (8, None), (8, "kg")]


def test_a_history_row_at_least_hourly_to_the_second(client: FlaskClient, world: World, engine: Engine, clock: Clock) -> None:
    assert post(client, world, heartbeat(world)).status_code == 200
    clock.advance(minutes=59, seconds=59)
    assert post(client, world, heartbeat(world)).status_code == 200
    assert len(history(engine)) == 1
    clock.advance(seconds=1)  # an hour since the history row, not since the last heartbeat
    assert post(client, world, heartbeat(world)).status_code == 200
    assert [h.received_at for h in history(engine)] == [clock.now - timedelta(hours=1), clock.now]
    assert latest(engine)[0].history_at == clock.now


def test_a_quiet_heartbeat_clears_only_its_stations_silent_alarm(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    assert post(client, world, heartbeat(world)).status_code == 200

    def open_alarms(session):  # type: ignore[no-untyped-def]
        for code, kind in (("ST-JS-01", station_alarms.SILENT), ("ST-JS-01", "unexplained_quantity"), ("ST-EQ-01", "silent")):
            station_alarms.open_alarm(
                session,
                station_id=station_by_code(session, code).id,
                pump=None,
                kind=kind,
                source=station_alarms.SOURCE_REGISTRY,
                opened_at=clock.now,
            )

    world.registry.transaction(open_alarms)
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world)).status_code == 200  # nothing new: the quiet path
    assert len(history(engine)) == 1
    assert [(a.kind, a.cleared_at) for a in alarms(engine)] == [
        ("silent", clock.now),
        ("unexplained_quantity", None),
        ("silent", None),
    ]
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world, reader="lost")).status_code == 200  # none open: nothing to clear
    assert alarms(engine)[0].cleared_at == clock.now - timedelta(minutes=1)


def test_the_token_cache_lifetime_comes_from_the_environment() -> None:
    assert from_env({}).token_cache_s == 10
    assert from_env({"REGISTRY_TOKEN_CACHE_S": "60"}).token_cache_s == 60
    assert from_env({"REGISTRY_TOKEN_CACHE_S": "0"}).token_cache_s == 0
    for bad in ("-1", "3601", "ten", "1.5"):
        with pytest.raises(ConfigError, match="REGISTRY_TOKEN_CACHE_S"):
            from_env({"REGISTRY_TOKEN_CACHE_S": bad})
    # While the node hears revocations as they commit (registry_service/token_watch.py).
    assert from_env({}).token_cache_listening_s == 600
    assert from_env({"REGISTRY_TOKEN_CACHE_LISTENING_S": "3600"}).token_cache_listening_s == 3600
    for bad in ("-1", "3601", "ten"):
        with pytest.raises(ConfigError, match="REGISTRY_TOKEN_CACHE_LISTENING_S"):
            from_env({"REGISTRY_TOKEN_CACHE_LISTENING_S": bad})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_heartbeats_and_meter_readings_update_their_rows_in_place(world: World, engine: Engine, clock: Clock) -> None:
    """Migration 0021: no index on a column every heartbeat changes, and room on the page, so each
    update of a pump's latest row is a heap-only tuple (HOT): no new index entries per heartbeat."""
    beat = read_heartbeat(heartbeat(world))
    with Session(engine) as session, session.begin():
        station = station_by_code(session, "ST-JS-01")
        for _ in range(3):
            clock.advance(minutes=1)
            station_health.record_heartbeat(session, station.id, beat, clock.now)
        meter = {"station_id": station.id, "pump": 2, "value": 1.0, "unit": "kg", "read_at": clock.now, "received_at": clock.now}
        session.execute(meters._INSERT, [meter])
        for value in (2.0, 3.0):
            session.execute(meters._UPDATE, [{**meter, "meter_station": station.id, "meter_pump": 2, "value": value}])
        hot = {
            table: session.scalar(text(f"SELECT pg_stat_get_xact_tuples_hot_updated('{table}'::regclass)"))
            for table in ("pump_heartbeats", "pump_meters")
        }
        rows = session.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE relname IN ('pump_heartbeats', 'pump_meters')")
        )
        options: dict[str, list[str]] = {name: settings for name, settings in rows}
    assert hot == {"pump_heartbeats": 2, "pump_meters": 2}, "the first heartbeat inserts, the next two update in place"
    assert options == {"pump_heartbeats": ["fillfactor=50"], "pump_meters": ["fillfactor=50"]}
