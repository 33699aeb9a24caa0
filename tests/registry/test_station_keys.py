"""The station is part of every key a station's rows are told apart by (migration 0019; the Citus
plan in docs/scaling.md distributes them by station_id): a retry, which always comes from the same
authenticated station, is a duplicate; the same UUID sent by another station is that station's own
event, report or alarm. Suspects are joined to their scan by the scan's whole key. SQLite and
PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from registry_service.models import Role, ScanDayTotal, ScanEvent, Station, StationAlarm, StationFault
from registry_service.services import events
from tests.registry.conftest import World
from tests.registry.helpers import counts, event, post_events
from tests.registry.test_meters import event as station_event
from tests.registry.test_meters import kg
from tests.registry.test_station_faults import post, report

STATIONS = (("ST-JS-01", "station"), ("ST-EQ-01", "station2"))
ONE_NEW = {"received": 1, "accepted": 1, "duplicates": 0}
ONE_DUPLICATE = {"received": 1, "accepted": 0, "duplicates": 1}


def _events_of(engine: Engine, event_id: str) -> set[tuple[str, datetime]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Station.code, ScanEvent.occurred_at)
            .join(Station, Station.id == ScanEvent.station_id)
            .where(ScanEvent.event_uuid == uuid.UUID(event_id))
        ).all()
    return {(code, at) for code, at in rows}


def test_an_event_uuid_is_each_stations_own_and_a_retry_is_a_duplicate(client: FlaskClient, world: World, engine: Engine) -> None:
    at = world.clock() - timedelta(minutes=2)
    sent = event(at, cylinder_id="156-4101-7300")
    for station, who in STATIONS:
        assert counts(post_events(client, world, station, [sent], who=who)) == ONE_NEW
    world.clock.advance(seconds=30)
    for station, who in STATIONS:
        assert counts(post_events(client, world, station, [sent], who=who)) == ONE_DUPLICATE
    assert _events_of(engine, sent["event_id"]) == {("ST-JS-01", at), ("ST-EQ-01", at)}
    with engine.connect() as connection:
        assert connection.scalar(select(func.sum(ScanDayTotal.scans))) == 2  # each station's counted once


def test_an_event_dated_by_receipt_is_deduplicated_per_station(client: FlaskClient, world: World, engine: Engine) -> None:
    """No usable clock: occurred_at is the receipt time, the same for both stations' first uploads
    and another on every retry, so only the station and the UUID recognise the retry."""
    booted = event(datetime(1970, 1, 1, 0, 4, 10, tzinfo=UTC))
    received = world.clock()
    for station, who in STATIONS:
        assert counts(post_events(client, world, station, [booted], who=who)) == ONE_NEW
    for _ in range(2):
        world.clock.advance(minutes=1)
        for station, who in STATIONS:
            assert counts(post_events(client, world, station, [booted], who=who)) == ONE_DUPLICATE
    assert _events_of(engine, booted["event_id"]) == {("ST-JS-01", received), ("ST-EQ-01", received)}


def test_a_riding_event_is_deduplicated_per_station(client: FlaskClient, world: World, engine: Engine) -> None:
    """Events riding on status checks go through the same ingestion."""
    rider = event(world.clock() - timedelta(seconds=20))
    body = {"plate": "豫A8M2K7", "cylinders": [{"cylinder_id": "156-4101-7301"}], "events": [rider]}
    for _ in range(2):
        answers = [client.post("/api/v1/status", json=body, headers=world.auth(who)) for _, who in STATIONS]
        assert [a.status_code for a in answers] == [200, 200], [a.json for a in answers]
        world.clock.advance(seconds=5)
    assert [a.get_json()["events"]["duplicates"] for a in answers] == [1, 1]
    assert {code for code, _ in _events_of(engine, rider["event_id"])} == {"ST-JS-01", "ST-EQ-01"}


def test_a_report_id_is_each_stations_own(client: FlaskClient, world: World, engine: Engine) -> None:
    sent = report(world)
    for station, who in STATIONS:
        url = f"/api/v1/stations/{station}/faults"
        assert post(client, world, [sent], who=who, url=url).get_json() == ONE_NEW
        assert post(client, world, [sent], who=who, url=url).get_json() == ONE_DUPLICATE
    with engine.connect() as connection:
        rows = connection.execute(select(StationFault.station_id, StationFault.id, StationFault.report_uuid)).all()
    assert len({station_id for station_id, _, _ in rows}) == 2 and len({ident for _, ident, _ in rows}) == 2
    assert {report_uuid for _, _, report_uuid in rows} == {uuid.UUID(sent["report_id"])}


def test_an_agents_alarm_is_each_stations_own(client: FlaskClient, world: World, engine: Engine) -> None:
    """An alarm raised by a report is keyed by it: the same report id at another station raises
    that station's own alarm, and a retry at either raises none."""
    started = station_event(world, "agent_started", 0, **kg(2000.0))
    bypass = station_event(world, "unexplained_quantity", 30, quantity=7.25, **kg(2007.25))
    for station, who in STATIONS:
        url = f"/api/v1/stations/{station}/faults"
        assert post(client, world, [{**started, "report_id": str(uuid.uuid4())}], who=who, url=url).status_code == 200
        for _ in range(2):
            assert post(client, world, [bypass], who=who, url=url).status_code == 200
    with engine.connect() as connection:
        alarms = connection.execute(
            select(Station.code, StationAlarm.report_uuid, StationAlarm.quantity)
            .join(Station, Station.id == StationAlarm.station_id)
            .where(StationAlarm.kind == "unexplained_quantity")
        ).all()
    assert sorted(alarms) == sorted((code, uuid.UUID(bypass["report_id"]), 7.25) for code, _ in STATIONS)


def _suspects(client: FlaskClient, world: World, **query: Any) -> list[tuple[str, str]]:
    since = (world.clock() - timedelta(days=1)).isoformat()
    answer = client.get("/api/v1/bureau/suspected-clones", query_string={"since": since, **query}, headers=world.auth("bureau"))
    assert answer.status_code == 200, answer.json
    return [(s["kind"], s["station"]) for s in answer.get_json()["suspects"]]


def test_a_suspect_is_joined_to_its_own_stations_scan(client: FlaskClient, world: World) -> None:
    """A filter on what only the scan carries (here the plate) reads the suspect's scan: that is the
    scan of the suspect's station, not another station's with the same UUID and time."""
    world.tokens["far"] = world.add_user("far", Role.STATION, station="ST-FAR")
    now = world.clock()
    uid, first, last = "04AABBCCDD0042", now - timedelta(hours=3), now - timedelta(hours=2, minutes=48)
    assert post_events(client, world, "ST-JS-01", [event(first, tag_uid=uid, plate="豫A11111")]).status_code == 200
    trip = event(last, tag_uid=uid, plate="豫A11111")  # Zhengzhou to Luoyang in twelve minutes
    assert post_events(client, world, "ST-FAR", [trip], who="far").status_code == 200
    namesake = {**event(last, plate="豫B22222"), "event_id": trip["event_id"]}
    assert counts(post_events(client, world, "ST-EQ-01", [namesake], who="station2"))["accepted"] == 1
    world.watch_clones()
    assert _suspects(client, world, plate="豫A11111") == [("impossible_travel", "ST-FAR")]
    assert _suspects(client, world, plate="豫B22222") == []
    assert _suspects(client, world) == [("impossible_travel", "ST-FAR")]


def test_the_upload_statement_goes_to_psycopg_as_it_is() -> None:
    """It is sent with $n placeholders through RawCursor, which converts nothing: psycopg would
    rewrite %(name)s placeholders afresh on every upload once the statement outgrew its cache (4 KB).
    A retry dated by its receipt is found by the station's own UUIDs."""
    statement = events._PG_INSERT
    assert "%(" not in statement.sql
    station = f"${statement.names.index('station_id') + 1}"
    assert f"s.station_id = {station} AND s.event_uuid = e.event_uuid" in statement.sql
