"""Patrols against the fixed checklist: recording, the grid scope, failed items opening cases, and a
repeated failure attaching to the open case (services/patrols.py, api/grades.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service import grading_rules
from registry_service.errors import InvalidInput
from registry_service.models import Case, GridPerson, Patrol, Role
from registry_service.services import accounts, patrols, places
from tests.registry.conftest import World

CHECKLIST = grading_rules.DEFAULT_CHECKLIST
# Plain request checks: PostgreSQL adds nothing but a second table reset (tests/registry/conftest.py).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def add_grid_user(world: World, name: str, region_code: str) -> str:
    """A grid officer of the region (and its subtree); returns its API token."""

    def work(s: Session) -> str:
        user = accounts.create_user(s, "test", world.clock(), username=name, role=Role.GRID)
        region = places.region_by_code(s, region_code)
        s.add(GridPerson(region_id=region.id, user_id=user.id, name=name, duty="officer"))
        return accounts.issue_token(s, "test", world.clock(), username=name).token

    world.tokens[name] = world.registry.transaction(work)
    return world.tokens[name]


def answers(failed: tuple[str, ...] = (), checklist: tuple[str, ...] = CHECKLIST) -> dict[str, str]:
    return {item: "fail" if item in failed else "pass" for item in checklist}


def post_patrol(client: FlaskClient, world: World, who: str, station: str, results: dict[str, str], **extra: Any) -> Any:
    return client.post("/api/v1/patrols", json={"station": station, "results": results, **extra}, headers=world.auth(who))


def json_of(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict), body
    return body


def open_cases(world: World) -> list[Case]:
    return world.registry.transaction(lambda s: list(s.scalars(select(Case).order_by(Case.id)).all()))


@pytest.fixture
def officers(world: World) -> World:
    add_grid_user(world, "grid-js", "410105-01")  # the cell of ST-JS-01
    add_grid_user(world, "grid-eq", "410103-01")  # the cell of ST-EQ-01
    add_grid_user(world, "lead-js", "410105")  # the district above ST-JS-01's cell
    return world


@SQLITE_ONLY
def test_a_grid_officer_records_a_clean_patrol_of_its_station(client: FlaskClient, officers: World) -> None:
    response = post_patrol(client, officers, "grid-js", "ST-JS-01", answers(), notes={"meter_matches": " all four pumps "})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["passed"] is True and body["failed"] == [] and body["cases"] == []
    assert body["officer"] == "grid-js" and body["at"] == officers.clock().isoformat()
    assert body["notes"] == {"meter_matches": "all four pumps"}
    stored = officers.registry.transaction(lambda s: s.scalars(select(Patrol)).one())
    assert stored.results == answers() and stored.passed and stored.failed == 0
    assert open_cases(officers) == []


def test_scope_a_grid_officer_patrols_and_reads_only_its_cells(client: FlaskClient, officers: World) -> None:
    assert post_patrol(client, officers, "grid-eq", "ST-JS-01", answers()).status_code == 403
    assert post_patrol(client, officers, "grid-js", "ST-JS-01", answers()).status_code == 201
    assert post_patrol(client, officers, "grid-eq", "ST-EQ-01", answers()).status_code == 201
    assert post_patrol(client, officers, "lead-js", "ST-JS-01", answers()).status_code == 201  # a lead: its subtree
    assert post_patrol(client, officers, "bureau", "ST-FAR", answers()).status_code == 201  # the bureau: anywhere

    def stations(who: str, query: str = "") -> list[str]:
        response = client.get(f"/api/v1/patrols{query}", headers=officers.auth(who))
        assert response.status_code == 200, response.json
        return [p["station"] for p in json_of(response)["patrols"]]

    assert stations("grid-js") == ["ST-JS-01", "ST-JS-01"]
    assert stations("grid-eq") == ["ST-EQ-01"]
    assert stations("grid-eq", "?station=ST-JS-01") == []
    assert sorted(stations("bureau")) == ["ST-EQ-01", "ST-FAR", "ST-JS-01", "ST-JS-01"]
    assert stations("bureau", "?region=410103") == ["ST-EQ-01"]
    for who in ("station", "centre", "admin"):
        assert post_patrol(client, officers, who, "ST-JS-01", answers()).status_code == 403
        assert client.get("/api/v1/patrols", headers=officers.auth(who)).status_code == 403


def test_failed_items_open_cases_on_the_station_in_its_cell(client: FlaskClient, officers: World) -> None:
    response = post_patrol(
        client,
        officers,
        "grid-js",
        "ST-JS-01",
        answers(("no_bypass", "overrides_logged")),
        notes={"no_bypass": "switch under pump 2"},
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["passed"] is False and body["failed"] == ["no_bypass", "overrides_logged"] and len(body["cases"]) == 2
    found = open_cases(officers)
    assert [c.kind for c in found] == ["patrol_failure", "patrol_failure"]
    assert [c.subject_key for c in found] == ["patrol:ST-JS-01:no_bypass", "patrol:ST-JS-01:overrides_logged"]
    assert [c.number for c in found] == body["cases"]
    station, cell = officers.registry.transaction(
        lambda s: (places.station_by_code(s, "ST-JS-01").id, places.region_by_code(s, "410105-01").id)
    )
    assert all(c.station_id == station and c.region_id == cell and c.state == "reported" for c in found)
    assert "switch under pump 2" in found[0].detail and found[0].reason == "no_bypass"
    failed_only = json_of(client.get("/api/v1/patrols?failed=true", headers=officers.auth("grid-js")))["patrols"]
    assert [p["id"] for p in failed_only] == [body["id"]]


def test_a_repeated_failure_attaches_to_the_open_case(client: FlaskClient, officers: World) -> None:
    first = post_patrol(client, officers, "grid-js", "ST-JS-01", answers(("no_bypass",))).json
    officers.clock.advance(days=7)
    second = post_patrol(client, officers, "lead-js", "ST-JS-01", answers(("no_bypass", "clock_correct"))).json
    assert second["cases"][0] == first["cases"][0]  # the same open case for the same item
    assert second["cases"][1] != first["cases"][0]
    by_key = {c.subject_key: c for c in open_cases(officers)}
    assert len(by_key) == 2
    assert by_key["patrol:ST-JS-01:no_bypass"].repeats == 1
    assert by_key["patrol:ST-JS-01:clock_correct"].repeats == 0
    # Another station's same item is another subject.
    third = post_patrol(client, officers, "bureau", "ST-EQ-01", answers(("no_bypass",))).json
    assert third["cases"][0] not in (first["cases"][0], second["cases"][1])


@SQLITE_ONLY
def test_a_patrol_must_answer_the_whole_checklist_in_a_good_body(client: FlaskClient, officers: World) -> None:
    missing, unknown, bad = answers(), answers(), answers()
    missing.pop("no_bypass")
    unknown["coffee_hot"] = "pass"
    bad["no_bypass"] = "maybe"
    for results, words in [
        (missing, "missing: no_bypass"),
        (unknown, "not on the checklist: coffee_hot"),
        (bad, "results must be one of"),
        (["pass"], "results must be an object"),
    ]:
        response = post_patrol(client, officers, "grid-js", "ST-JS-01", results)  # type: ignore[arg-type]
        assert response.status_code == 422 and words in response.json["detail"], response.json
    for body in [
        {"station": "ST-JS-01", "results": answers(), "notes": {"no_bypass": "bad\x00byte"}},
        {"station": "ST-JS-01", "results": answers(), "notes": {"no_bypass": "x" * 501}},
        {"station": "ST-JS-01", "results": answers(), "notes": ["x"]},
        {"station": "ST-JS-01", "results": answers(), "officer": "someone else"},
        {"results": answers()},
    ]:
        response = client.post("/api/v1/patrols", json=body, headers=officers.auth("grid-js"))
        assert response.status_code == 422, (body, response.json)
        assert response.content_type == "application/problem+json"
    assert post_patrol(client, officers, "bureau", "ST-NONE", answers()).status_code == 404
    assert officers.registry.transaction(lambda s: s.scalars(select(Patrol)).all()) == []


def test_the_checklist_comes_from_the_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"checklist": ["gate_locked", "hose_intact"]}))
    rules = grading_rules.load(path)
    assert rules.checklist == ("gate_locked", "hose_intact")
    assert patrols.checked_results(rules, {"gate_locked": "pass", "hose_intact": "na"}, None) == (
        {"gate_locked": "pass", "hose_intact": "na"},
        {},
    )
    with pytest.raises(InvalidInput, match=r"not on the checklist: .*reader_works"):
        patrols.checked_results(rules, answers(), None)
