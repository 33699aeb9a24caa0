"""Scan events riding on POST /status (issue 11: a busy station needs no upload request of its own):
stored exactly as an upload stores them, idempotent, and never at the cost of the status answer."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.registry.conftest import Clock, World
from tests.registry.helpers import add_vehicle, event, post_events

CYLINDER = "156-4101-19012345"


def _status(client: FlaskClient, world: World, events: Any, who: str = "station") -> TestResponse:
    body = {"plate": "豫A8M2K7", "cylinders": [{"cylinder_id": CYLINDER}], "events": events}
    return client.post("/api/v1/status", json=body, headers=world.auth(who))


def _vehicle(world: World, clock: Clock) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER, "tag_uid": "04A2C4D2E15A80"}])


def test_riding_events_are_stored_once(client: FlaskClient, world: World, clock: Clock) -> None:
    _vehicle(world, clock)
    riders = [event(clock.now) for _ in range(3)]
    first = _status(client, world, riders)
    assert first.status_code == 200 and first.get_json()["cylinders"][0]["decision"] == "allow"
    assert first.get_json()["events"] == {"received": 3, "accepted": 3, "duplicates": 0}
    again = _status(client, world, riders)  # the answer was lost: the station sends them again
    assert again.get_json()["events"] == {"received": 3, "accepted": 0, "duplicates": 3}
    assert post_events(client, world, "ST-JS-01", riders).get_json()["duplicates"] == 3  # the same events as an upload


def test_a_bad_rider_never_costs_the_status_answer(client: FlaskClient, world: World, clock: Clock) -> None:
    _vehicle(world, clock)
    answer = _status(client, world, [event(clock.now), {"event_id": "not-a-uuid"}])
    assert answer.status_code == 200 and answer.get_json()["cylinders"][0]["decision"] == "allow"
    assert "events[1]" in answer.get_json()["events"]["error"]
    assert _status(client, world, "not a list").get_json()["events"]["error"].startswith("events must be a list")


def test_only_a_station_credential_sends_events(client: FlaskClient, world: World, clock: Clock) -> None:
    _vehicle(world, clock)
    answer = _status(client, world, [event(clock.now)], who="bureau")
    assert answer.status_code == 200 and "station" in answer.get_json()["events"]["error"]
