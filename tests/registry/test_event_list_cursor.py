"""The bureau's event list pages in a total order. Since migration 0019 an event UUID is unique per
station only, so two stations' events may share (occurred_at, event_uuid); the list orders by
(occurred_at, event_uuid, station_id) and its cursor carries the station, so every event is listed
exactly once whatever the page size. A cursor handed out before it carried the station still
reads. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from registry_service.models import Role
from tests.registry.conftest import World
from tests.registry.helpers import counts, event, post_events

# Station code -> the user who uploads as it (station3 is added for ST-FAR below).
STATIONS = {"ST-JS-01": "station", "ST-EQ-01": "station2", "ST-FAR": "station3"}


def _attempts(client: FlaskClient, world: World, **query: str | int) -> TestResponse:
    return client.get("/api/v1/bureau/refuel-attempts", query_string=query, headers=world.auth("bureau"))


def _page(client: FlaskClient, world: World, **query: str | int) -> dict[str, Any]:
    r = _attempts(client, world, **query)
    assert r.status_code == 200, r.json
    page: dict[str, Any] = r.get_json()
    return page


def _key(attempt: dict[str, Any]) -> tuple[str, str, str]:
    return attempt["occurred_at"], attempt["event_id"], attempt["station"]


def _walk(client: FlaskClient, world: World, limit: int) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    cursor = None
    while True:
        page = _page(client, world, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert len(page["attempts"]) <= limit
        seen += [_key(a) for a in page["attempts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def _store_shared_uuids(client: FlaskClient, world: World) -> tuple[str, str]:
    """Three stations store one UUID at one instant, two another UUID at another instant, around
    them events of their own (one at the shared instant with another UUID). Returns the shared
    instant's UUID and the time it was stored at (as listed)."""
    world.tokens["station3"] = world.add_user("station3", Role.STATION, "ST-FAR")
    now = world.clock()
    at, other_at = now - timedelta(minutes=5), now - timedelta(hours=2)
    shared, other_shared = str(uuid.uuid4()), str(uuid.uuid4())
    uploads: dict[str, list[dict[str, Any]]] = {code: [] for code in STATIONS}
    for code in STATIONS:
        uploads[code].append(event(at, event_id=shared, cylinder_id="156-4101-7400"))
    for code in ("ST-JS-01", "ST-FAR"):
        uploads[code].append(event(other_at, event_id=other_shared, cylinder_id="156-4101-7401"))
    uploads["ST-EQ-01"].append(event(at, cylinder_id="156-4101-7402"))  # same instant, its own UUID
    for minutes in (1, 4, 6, 30):
        for code in STATIONS:
            uploads[code].append(event(now - timedelta(minutes=minutes, seconds=len(code)), cylinder_id="156-4101-7403"))
    for code, events in uploads.items():
        response = post_events(client, world, code, events, who=STATIONS[code])
        assert counts(response)["accepted"] == len(events), response.json
    return shared, at.isoformat()


def test_paging_lists_every_event_once_when_stations_share_a_uuid_and_instant(client: FlaskClient, world: World) -> None:
    shared, at = _store_shared_uuids(client, world)
    everything = [_key(a) for a in _page(client, world, limit=1000)["attempts"]]
    assert len(everything) == len(set(everything)) == 3 + 2 + 1 + 4 * 3
    assert sum(1 for when, ident, _ in everything if (when, ident) == (at, shared)) == 3
    assert [key[:2] for key in everything] == sorted((key[:2] for key in everything), reverse=True)  # newest first
    for limit in (1, 2, 3):
        assert _walk(client, world, limit) == everything, limit


def test_a_cursor_without_the_station_still_reads(client: FlaskClient, world: World) -> None:
    """A two-field cursor, as handed out before the station was in it, means what it meant then:
    the events after (occurred_at, event_uuid), every station's event with that pair behind it."""
    shared, at = _store_shared_uuids(client, world)
    everything = [_key(a) for a in _page(client, world, limit=1000)["attempts"]]
    old = base64.urlsafe_b64encode(f"{at}|{shared}".encode()).decode()
    listed = [_key(a) for a in _page(client, world, limit=1000, cursor=old)["attempts"]]
    assert listed == [key for key in everything if key[:2] < (at, shared)]


def test_a_cursor_with_a_bad_station_is_refused(client: FlaskClient, world: World) -> None:
    at, ident = world.clock().isoformat(), uuid.UUID(int=1)
    for station in ("x", "-1", "+1", " 1", "1_0", "١", str(2**31), "9" * 40, "1|2", ""):
        cursor = base64.urlsafe_b64encode(f"{at}|{ident}|{station}".encode()).decode()
        assert _attempts(client, world, cursor=cursor).status_code == 422, station
    good = base64.urlsafe_b64encode(f"{at}|{ident}|{2**31 - 1}".encode()).decode()
    assert _attempts(client, world, cursor=good).status_code == 200
