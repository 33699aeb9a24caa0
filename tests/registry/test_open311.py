"""Cases as Open311 GeoReport v2 service requests (docs/grid.md, "Open311"): the mapping, the
filters, and the same scope as the case API (a grid token sees its own regions' cases only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from registry_service.models import Role
from registry_service.services import accounts
from tests.registry.conftest import NOW, World
from tests.registry.helpers import post_events, refused
from tests.registry.module_database import sqlite_module_database

# SQLite only: Open311 reads what the case API reads (tests/registry/test_cases.py).
database_url, migrated_engine = sqlite_module_database("open311")


@pytest.fixture
def two_cases(client: FlaskClient, world: World) -> list[str]:
    """An overdue cylinder at ST-JS-01 (金水区), then, an hour later, a past-life one at ST-EQ-01 (二七区), closed."""
    r = post_events(client, world, "ST-JS-01", [refused(world.clock(), ["inspection_overdue"], cylinder_id="156-4101-1")])
    assert r.status_code == 200
    world.clock.advance(hours=1)
    r = post_events(
        client, world, "ST-EQ-01", [refused(world.clock(), ["past_service_life"], cylinder_id="156-4101-2")], "station2"
    )
    assert r.status_code == 200
    numbers = [c["number"] for c in client.get("/api/v1/cases", headers=world.auth("bureau")).get_json()["cases"]]
    world.tokens["bureau2"] = world.add_user("bureau2", Role.BUREAU)  # verifies what "bureau" handled
    steps = (
        ("accepted", "bureau"),
        ("dispatched", "bureau"),
        ("handled", "bureau"),
        ("verified", "bureau2"),
        ("closed", "bureau"),
    )
    for action, who in steps:
        r = client.post(f"/api/v1/cases/{numbers[0]}/actions", json={"action": action, "note": "done"}, headers=world.auth(who))
        assert r.status_code == 200, r.json
    return numbers


def _get(client: FlaskClient, world: World, path: str, who: str = "bureau", **query: str) -> Any:
    r = client.get(f"/api/v1/open311/v2/{path}", query_string=query, headers=world.auth(who))
    assert r.status_code == 200, r.json
    return r.get_json()


def test_services_are_the_case_kinds(client: FlaskClient, world: World) -> None:
    services = _get(client, world, "services.json", jurisdiction_id="zhengzhou")
    assert [s["service_code"] for s in services] == [
        "refused_cylinder",
        "override",
        "clone_suspect",
        "silent_station",
        "unexplained_quantity",
        "patrol_failure",
    ]
    assert {(s["metadata"], s["type"]) for s in services} == {(False, "realtime")}


def test_a_case_as_a_service_request(client: FlaskClient, world: World, two_cases: list[str]) -> None:
    closed, open_ = two_cases
    [request] = _get(client, world, f"requests/{closed}.json")
    assert request == {
        "service_request_id": closed,
        "status": "closed",
        "status_notes": "closed",
        "service_name": "refused_cylinder",
        "service_code": "refused_cylinder",
        "description": request["description"],
        "agency_responsible": "410103-01",
        "service_notice": "",
        "requested_datetime": (NOW + timedelta(hours=1)).isoformat(),
        "updated_datetime": (NOW + timedelta(hours=1)).isoformat(),
        "expected_datetime": None,
        "address": "郑州市 二七区 淮河路街道",
        "address_id": "ST-EQ-01",
        "zipcode": None,
        "lat": 34.73,
        "long": 113.64,
        "media_url": None,
    }
    assert "156-4101-2" in request["description"] and "past_service_life" in request["description"]
    [other] = _get(client, world, f"requests/{open_}.json")
    assert (other["status"], other["status_notes"], other["agency_responsible"]) == ("open", "reported", "410105-01")
    assert other["expected_datetime"] == (NOW + timedelta(hours=24)).isoformat()


def test_filters(client: FlaskClient, world: World, two_cases: list[str]) -> None:
    closed, open_ = two_cases

    def ids(**query: str) -> list[str]:
        return [r["service_request_id"] for r in _get(client, world, "requests.json", **query)]

    assert ids() == [closed, open_]  # newest requested first
    assert ids(status="open") == [open_] and ids(status="closed") == [closed] and ids(status="open,closed") == [closed, open_]
    assert ids(service_code="refused_cylinder") == [closed, open_] and ids(service_code="override,silent_station") == []
    assert ids(start_date=(NOW + timedelta(minutes=30)).isoformat()) == [closed]
    assert ids(end_date=(NOW + timedelta(minutes=30)).isoformat()) == [open_]
    world.clock.advance(days=91)
    world.tokens["bureau"] = world.registry.transaction(
        lambda s: accounts.issue_token(s, "test", world.clock(), username="bureau").token
    )
    assert ids() == []  # by default the last 90 days
    assert ids(start_date=NOW.isoformat()) == [closed, open_]
    for bad in ({"status": "pending"}, {"service_code": "potholes"}, {"start_date": "yesterday"}, {"x": "1"}):
        assert client.get("/api/v1/open311/v2/requests.json", query_string=bad, headers=world.auth("bureau")).status_code == 422


def test_a_grid_token_reads_its_own_cells_only(client: FlaskClient, world: World, two_cases: list[str]) -> None:
    closed, open_ = two_cases
    assert [r["service_request_id"] for r in _get(client, world, "requests.json", who="grid")] == [open_]
    assert client.get(f"/api/v1/open311/v2/requests/{closed}.json", headers=world.auth("grid")).status_code == 404
    for who in ("station", "centre", "admin"):
        assert client.get("/api/v1/open311/v2/requests.json", headers=world.auth(who)).status_code == 403
    assert client.get("/api/v1/open311/v2/services.json").status_code == 401
