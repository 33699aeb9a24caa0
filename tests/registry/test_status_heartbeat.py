"""The agent's heartbeat riding on POST /status (a busy pump sends none alone): recorded for the
credential's own station with the riding events, said so in the answer, and never at the cost of
the status answer. Runs on SQLite and PostgreSQL; time is the registry's injected clock."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from registry_service.services.places import station_by_code
from tests.registry.conftest import Clock, World
from tests.registry.helpers import add_vehicle, event
from tests.registry.test_heartbeats import alarms, heartbeat, history, latest, sweep

CYLINDER = "156-4101-19012345"


def _status(client: FlaskClient, world: World, who: str = "station", **riding: Any) -> TestResponse:
    body = {"plate": "豫A8M2K7", "cylinders": [{"cylinder_id": CYLINDER}], **riding}
    return client.post("/api/v1/status", json=body, headers=world.auth(who))


def _answered(answer: TestResponse) -> dict[str, Any]:
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    assert body["cylinders"][0]["decision"] == "allow"
    return body


def test_a_heartbeat_rides_with_the_events_and_is_recorded(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER, "tag_uid": "04A2C4D2E15A80"}])
    plain = _answered(_status(client, world))
    assert "heartbeat" not in plain and "events" not in plain  # nothing rode: nothing said
    body = _answered(_status(client, world, events=[event(clock.now)], heartbeat=heartbeat(world)))
    assert body["heartbeat"] == "recorded" and body["events"]["accepted"] == 1
    clock.advance(minutes=1)
    alone = _answered(_status(client, world, heartbeat=heartbeat(world, outbox_backlog=3)))
    assert alone["heartbeat"] == "recorded" and "events" not in alone
    (row,) = latest(engine)
    assert (row.pump, row.received_at, row.outbox_backlog) == (2, clock.now, 3)
    assert len(history(engine)) == 1  # only the backlog changed: the history rule holds on this path too


def test_a_heartbeat_on_a_status_request_clears_the_silent_alarm(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER, "tag_uid": "04A2C4D2E15A80"}])
    _answered(_status(client, world, heartbeat=heartbeat(world)))
    clock.advance(minutes=20)
    assert len(sweep(world)) == 1
    _answered(_status(client, world, heartbeat=heartbeat(world)))
    assert [a.cleared_at for a in alarms(engine)] == [clock.now]


def test_a_bad_heartbeat_still_gets_the_status_answer_and_costs_no_rider(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER, "tag_uid": "04A2C4D2E15A80"}])
    body = _answered(_status(client, world, events=[event(clock.now)], heartbeat=heartbeat(world, reader="?")))
    assert body["heartbeat"].startswith("heartbeat: reader") and body["events"]["accepted"] == 1
    assert (
        _answered(_status(client, world, heartbeat="not an object"))["heartbeat"]
        == "heartbeat: the heartbeat must be a JSON object"
    )
    # and a bad rider costs no heartbeat
    bad_rider = {**event(clock.now), "outcome": "refused"}  # a refused outcome needs decision refuse
    body = _answered(_status(client, world, events=[bad_rider], heartbeat=heartbeat(world)))
    assert "events[0]" in body["events"]["error"] and body["heartbeat"] == "recorded"
    assert [r.pump for r in latest(engine)] == [2]


def test_only_a_stations_own_credential_records_a_heartbeat(client: FlaskClient, world: World, engine: Engine) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER, "tag_uid": "04A2C4D2E15A80"}])
    body = _answered(_status(client, world, who="bureau", heartbeat=heartbeat(world)))
    assert "station" in body["heartbeat"] and latest(engine) == []
    # another station's token: the heartbeat is that station's own, never ST-JS-01's
    assert _answered(_status(client, world, who="station2", heartbeat=heartbeat(world)))["heartbeat"] == "recorded"
    (row,) = latest(engine)
    assert row.station_id == _station_id(world, "ST-EQ-01") != _station_id(world, "ST-JS-01")


def _station_id(world: World, code: str) -> int:
    return world.registry.transaction(lambda s: station_by_code(s, code).id)
