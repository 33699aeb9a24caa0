"""Cases (docs/grid.md): every transition allowed and refused, permissions per role and scope,
repeats, one open case per subject, escalation by an injected clock, closing by inspection and
scrapping, and the hooks that open cases from uploads, overrides, clone suspects and alarms.

SQLite (this module's own database); the PostgreSQL differences (the partial unique index under
concurrent openers, the ingest's JSON path) have their own tests at the end.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry_service import case_rules, migrate
from registry_service.app import create_app
from registry_service.case_sweeper import CaseSweeper
from registry_service.config import RegistryConfig
from registry_service.db import make_engine, make_session_factory, run_in_transaction
from registry_service.errors import NotFound
from registry_service.models import Case, CaseStep, Cylinder, RevocationKind, Role, Station
from registry_service.principal import Principal
from registry_service.services import cases, cylinders, station_alarms
from tests.registry.conftest import NOW, Clock, World
from tests.registry.helpers import add_vehicle, event, post_events, refused
from tests.registry.module_database import sqlite_module_database
from tests.registry.pg_cluster import scratch_database
from tests.testkit import TestPki

UID = bytes.fromhex("04A2C4D2E15A80")
CYL = "156-4101-1"


# SQLite only for this module (conftest's runs every test on both databases).
database_url, migrated_engine = sqlite_module_database("cases")


@pytest.fixture
def config(database_url: str, pki: TestPki, tmp_path: Path) -> RegistryConfig:
    return RegistryConfig(
        database_url=database_url, bureau_root_pem=pki.root_certificate_pem, token_cache_s=0, data_dir=str(tmp_path / "data")
    )


@pytest.fixture
def grid(world: World) -> World:
    """Besides the cell officer "grid" (410105-01): an officer of another cell and the district's lead."""
    world.tokens["grid2"] = world.add_grid_person("grid2", "410103-01")
    world.tokens["lead"] = world.add_grid_person("lead", "410105", duty="lead")
    world.tokens["officer2"] = world.add_grid_person("officer2", "410105-01")
    return world


def _refuse(client: FlaskClient, world: World, reasons: list[str], cylinder: str = CYL, **fields: Any) -> None:
    response = post_events(client, world, "ST-JS-01", [refused(world.clock(), reasons, cylinder_id=cylinder, **fields)])
    assert response.status_code == 200, response.json


def _only_case(world: World) -> Case:
    def work(s: Session) -> Case:
        rows = list(s.scalars(select(Case)))
        assert len(rows) == 1, [(c.kind, c.subject_key) for c in rows]
        s.expunge(rows[0])
        return rows[0]

    return world.registry.transaction(work)


def _act(client: FlaskClient, world: World, who: str, number: str, action: str, note: str = "", **more: str) -> Any:
    return client.post(f"/api/v1/cases/{number}/actions", json={"action": action, "note": note, **more}, headers=world.auth(who))


def _steps(world: World, number: str) -> list[tuple[str, str]]:
    def work(s: Session) -> list[tuple[str, str]]:
        query = select(CaseStep.action, CaseStep.actor).join(Case).where(Case.number == number).order_by(CaseStep.id)
        return [(a, b) for a, b in s.execute(query)]

    return world.registry.transaction(work)


# The workflow ------------------------------------------------------------------------------------


def test_the_whole_workflow_by_the_cell_officer_and_the_bureau(client: FlaskClient, grid: World) -> None:
    add_vehicle(grid, "豫A12345", [{"cylinder_id": CYL}])
    _refuse(client, grid, ["inspection_overdue"], plate="豫A12345")
    number = _only_case(grid).number
    assert number.startswith("410105-20261122-")
    r = client.get(f"/api/v1/cases/{number}", headers=grid.auth("grid"))
    assert r.status_code == 200, r.json
    body = r.get_json()
    assert (body["kind"], body["state"], body["region"], body["reason"], body["cylinder_id"], body["plate"]) == (
        "refused_cylinder",
        "reported",
        "410105-01",
        "overdue",
        CYL,
        "豫A12345",
    )
    assert body["due_at"] == (NOW + timedelta(hours=24)).isoformat()

    grid.clock.advance(hours=1)
    assert _act(client, grid, "grid", number, "accepted", "已受理").status_code == 200
    dispatched = _act(client, grid, "lead", number, "dispatched", assignee="officer2")
    assert dispatched.status_code == 200 and dispatched.get_json()["assignee"] == "officer2"
    r = _act(client, grid, "grid", number, "handled", "车主已送检")
    assert r.status_code == 403, "dispatched to officer2, not to grid"
    assert _act(client, grid, "officer2", number, "handled", "").status_code == 422  # handled needs a note
    assert _act(client, grid, "officer2", number, "handled", "车主已送检").status_code == 200
    assert _act(client, grid, "officer2", number, "verified").status_code == 403  # four eyes
    assert _act(client, grid, "grid", number, "verified", "已核实").status_code == 200
    grid.clock.advance(hours=1)
    closed = _act(client, grid, "bureau", number, "closed")
    assert closed.status_code == 200
    body = closed.get_json()
    assert body["state"] == "closed" and body["closed_at"] == grid.clock().isoformat() and body["due_at"] is None
    assert body["accepted_at"] == (NOW + timedelta(hours=1)).isoformat() and body["overdue"] is False
    # The owner has no consented contact: the notice step says so (services/notices.py).
    assert [s["action"] for s in body["steps"]] == [
        "reported",
        "notice",
        "accepted",
        "dispatched",
        "handled",
        "verified",
        "closed",
    ]
    assert [s["actor"] for s in body["steps"]] == ["system", "system", "grid", "lead", "officer2", "grid", "bureau"]
    assert _act(client, grid, "grid", number, "note", "again").status_code == 409  # closed is final


STATES = ["reported", "accepted", "dispatched", "handled", "verified", "closed"]


@pytest.mark.parametrize("start", STATES)
def test_each_action_only_from_its_own_state(grid: World, start: str) -> None:
    bureau = Principal(0, "inspector", Role.BUREAU, None, None)

    def work(s: Session) -> dict[str, str]:
        region = s.scalar(select(Station.region_id).where(Station.code == "ST-JS-01"))
        assert region is not None
        answers = {}
        for action in cases.ACTIONS:
            case = cases.open_or_attach(s, kind="override", subject_key=f"t:{start}:{action}", region_id=region, now=NOW)
            case.state = start
            try:
                with s.begin_nested():
                    cases.transition(s, case, action, bureau, NOW, note="n")
                answers[action] = case.state
            except cases.CaseConflict:
                answers[action] = "409"
        return answers

    answers = grid.registry.transaction(work)
    expected = {action: ("409" if start != begin else end.value) for action, (begin, end) in cases.TRANSITIONS.items()}
    expected["note"] = "409" if start == "closed" else start
    assert answers == expected


def test_bad_actions_notes_and_assignees_are_422(client: FlaskClient, grid: World) -> None:
    _refuse(client, grid, ["inspection_failed"])
    number = _only_case(grid).number
    assert _act(client, grid, "grid", number, "reopened").status_code == 422
    assert _act(client, grid, "grid", number, "note", "x" * 2001).status_code == 422
    assert _act(client, grid, "grid", number, "accepted", assignee="officer2").status_code == 422
    assert _act(client, grid, "grid", number, "accepted").status_code == 200
    assert _act(client, grid, "grid", number, "dispatched", assignee="grid2").status_code == 422  # outside grid2's cell
    assert _act(client, grid, "grid", number, "dispatched", assignee="bureau").status_code == 422  # not a grid user
    r = client.post(f"/api/v1/cases/{number}/actions", json={"action": "note", "x": 1}, headers=grid.auth("grid"))
    assert r.status_code == 422


# Who sees what ---------------------------------------------------------------------------------


def test_scope_an_officer_of_another_cell_neither_sees_nor_acts(client: FlaskClient, grid: World) -> None:
    _refuse(client, grid, ["inspection_overdue"])
    number = _only_case(grid).number
    for who in ("grid", "lead", "bureau", "officer2"):
        assert client.get(f"/api/v1/cases/{number}", headers=grid.auth(who)).status_code == 200, who
        assert [c["number"] for c in client.get("/api/v1/cases", headers=grid.auth(who)).get_json()["cases"]] == [number]
    other = client.get(f"/api/v1/cases/{number}", headers=grid.auth("grid2"))
    unknown = client.get("/api/v1/cases/410105-20261122-9999", headers=grid.auth("grid2"))
    assert other.status_code == unknown.status_code == 404
    assert other.get_json()["detail"] == unknown.get_json()["detail"].replace("9999", number[-4:]), "same answer: no probing"
    assert client.get("/api/v1/cases", headers=grid.auth("grid2")).get_json()["cases"] == []
    assert _act(client, grid, "grid2", number, "accepted").status_code == 404
    for who in ("station", "centre", "admin"):
        assert client.get(f"/api/v1/cases/{number}", headers=grid.auth(who)).status_code == 403
        assert _act(client, grid, who, number, "accepted").status_code == 403
    assert _steps(grid, number) == [("reported", "system")]


def test_list_filters_and_keyset_paging(client: FlaskClient, grid: World) -> None:
    for index in range(5):
        _refuse(client, grid, ["inspection_overdue"], cylinder=f"156-4101-{index + 10}")
        grid.clock.advance(minutes=1)
    post = post_events(
        client, grid, "ST-EQ-01", [refused(grid.clock(), ["past_service_life"], cylinder_id="156-4101-99")], "station2"
    )
    assert post.status_code == 200
    bureau = grid.auth("bureau")
    seen: list[str] = []
    cursor = None
    while True:
        r = client.get("/api/v1/cases", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=bureau)
        page = r.get_json()
        seen += [c["number"] for c in page["cases"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6
    opened = [c["opened_at"] for c in client.get("/api/v1/cases", headers=bureau).get_json()["cases"]]
    assert opened == sorted(opened, reverse=True)

    def count(**query: str) -> int:
        return len(client.get("/api/v1/cases", query_string=query, headers=bureau).get_json()["cases"])

    assert count(region="410103") == 1 and count(region="410105") == 5 and count(region="4101") == 6
    assert count(kind="refused_cylinder") == 6 and count(kind="override") == 0
    assert count(state="open") == 6 and count(state="closed") == 0 and count(overdue="true") == 0
    assert count(since=(NOW + timedelta(minutes=2)).isoformat()) == 4
    assert count(until=(NOW + timedelta(minutes=2)).isoformat()) == 2
    for bad in ({"kind": "x"}, {"state": "x"}, {"overdue": "yes"}, {"cursor": "abc"}, {"region": "nowhere"}):
        assert client.get("/api/v1/cases", query_string=bad, headers=bureau).status_code in (404, 422), bad


# Repeats and one open case per subject ---------------------------------------------------------


def test_repeats_attach_and_a_closed_case_takes_none(client: FlaskClient, grid: World) -> None:
    _refuse(client, grid, ["inspection_overdue"])
    grid.clock.advance(minutes=5)
    _refuse(client, grid, ["inspection_overdue", "due_soon"])
    case = _only_case(grid)
    assert case.repeats == 1 and case.last_seen_at == grid.clock()
    assert [a for a, _ in _steps(grid, case.number)] == ["reported", "repeat"]

    def insert_second_open(s: Session) -> None:
        values = {c.name: getattr(case, c.name) for c in Case.__table__.columns if c.name != "id"}
        s.execute(insert(Case).values(values | {"number": "dup"}))

    with pytest.raises(IntegrityError):
        grid.registry.transaction(insert_second_open)  # the partial unique index: one open case per subject

    def close(s: Session) -> None:
        row = s.get(Case, case.id)
        assert row is not None
        row.state = "closed"

    grid.registry.transaction(close)
    _refuse(client, grid, ["inspection_overdue"])
    numbers = grid.registry.transaction(lambda s: list(s.scalars(select(Case.number).order_by(Case.id))))
    assert len(numbers) == 2 and numbers[0] == case.number  # the closed one kept; a new one opened


def test_a_retried_upload_makes_no_repeat(client: FlaskClient, grid: World) -> None:
    body = refused(grid.clock(), ["inspection_overdue"], cylinder_id=CYL)
    for _ in range(3):
        assert post_events(client, grid, "ST-JS-01", [body]).status_code == 200
    assert _only_case(grid).repeats == 0


# Escalation ------------------------------------------------------------------------------------


def test_a_missed_deadline_escalates_one_level_at_a_time(client: FlaskClient, grid: World, app: Flask) -> None:
    _refuse(client, grid, ["inspection_overdue"])
    number = _only_case(grid).number
    sweeper = CaseSweeper(grid.registry)
    grid.clock.advance(hours=23, minutes=59)
    assert sweeper.run_once() == []
    grid.clock.advance(minutes=2)  # the reported step's 24 hours have passed
    assert len(sweeper.run_once()) == 1
    case = _only_case(grid)
    assert (case.overdue, case.escalations, case.due_at) == (True, 1, grid.clock() + timedelta(hours=24))
    body = client.get(f"/api/v1/cases/{number}", headers=grid.auth("bureau")).get_json()
    assert (body["handling_region"], body["region"], body["overdue"]) == ("410105", "410105-01", True)
    assert body["steps"][-1] | {"at": None} == {
        "at": None,
        "action": "escalated",
        "actor": "system",
        "note": "410105-01 -> 410105",
        "photo_sha256": None,
    }
    # Now the district acts on it: the cell's officer no longer does.
    assert client.get(f"/api/v1/cases/{number}", headers=grid.auth("grid")).status_code == 404
    assert _act(client, grid, "lead", number, "accepted").status_code == 200
    grid.clock.advance(hours=25)
    sweeper.run_once()
    assert client.get(f"/api/v1/cases/{number}", headers=grid.auth("bureau")).get_json()["handling_region"] == "4101"
    grid.clock.advance(hours=25)
    sweeper.run_once()  # at the top: no one above, no deadline any more, still overdue
    case = _only_case(grid)
    assert (case.escalations, case.due_at, case.overdue) == (2, None, True)
    assert [a for a, _ in _steps(grid, number)].count("escalated") == 2
    red = client.get("/api/v1/cases", query_string={"overdue": "true"}, headers=grid.auth("bureau")).get_json()["cases"]
    assert [c["number"] for c in red] == [number]


def test_case_rules_from_a_file_and_a_bad_file(tmp_path: Path, config: RegistryConfig, engine: Engine) -> None:
    good = tmp_path / "rules.json"
    good.write_text('{"deadlines_hours": {"default": {"reported": 2}, "silent_station": {"reported": 0.5}}}')
    rules = case_rules.load(good)
    assert rules.deadline("override", "reported") == timedelta(hours=2)
    assert rules.deadline("silent_station", "reported") == timedelta(minutes=30)
    assert rules.deadline("silent_station", "dispatched") == timedelta(hours=24)  # the code's default for the kind
    assert rules.deadline("override", "closed") is None
    for text in (
        "not json",
        "[]",
        '{"deadlines_hours": {"nope": {}}}',
        '{"deadlines_hours": {"default": {"closed": 1}}}',
        '{"deadlines_hours": {"default": {"reported": -1}}}',
        '{"deadlines_hours": {"default": {"reported": true}}}',
        '{"other": 1}',
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(case_rules.CaseRulesError):
            case_rules.load(bad)
    with pytest.raises(case_rules.CaseRulesError):
        case_rules.load(tmp_path / "missing.json")
    with pytest.raises(case_rules.CaseRulesError):
        create_app(RegistryConfig(database_url=config.database_url, case_rules_path=str(bad)), engine=engine)
    create_app(RegistryConfig(database_url=config.database_url), engine=engine)  # back to the defaults for the others


# Closing by itself -----------------------------------------------------------------------------


def test_a_passing_inspection_closes_the_overdue_case_verified(client: FlaskClient, grid: World, pki: TestPki) -> None:
    assert (
        client.put(
            "/api/v1/trust-list", data=pki.trust_list_bytes, content_type="application/cose", headers=grid.auth("bureau")
        ).status_code
        == 201
    )

    def submit(sequence: int, report: str) -> None:
        message = pki.ndef_message(UID, sequence=sequence, report_number=report)
        r = client.post("/api/v1/inspections", json={"record": base64.b64encode(message).decode()}, headers=grid.auth("centre"))
        assert r.status_code == 201, r.json

    submit(3, "2026-ZZ-000001")
    cylinder = str(pki.record(UID).cylinder_id)
    _refuse(client, grid, ["inspection_overdue"], cylinder=cylinder)
    _refuse(client, grid, ["past_service_life"], cylinder="156-4101-77")  # not settled by an inspection
    grid.clock.advance(hours=2)
    submit(4, "2026-ZZ-000002")

    def states(s: Session) -> dict[str, tuple[str, str | None]]:
        rows = s.execute(select(Case.subject_key, Case.state, Case.closed_at))
        return {key: (state, closed.isoformat() if closed else None) for key, state, closed in rows}

    assert grid.registry.transaction(states) == {
        f"cylinder:{cylinder}": ("closed", grid.clock().isoformat()),
        "cylinder:156-4101-77": ("reported", None),
    }
    number = grid.registry.transaction(lambda s: s.scalars(select(Case.number).where(Case.state == "closed")).one())
    assert _steps(grid, number) == [("reported", "system"), ("notice", "system"), ("verified", "system"), ("closed", "system")]


def test_scrapping_closes_the_case(client: FlaskClient, grid: World) -> None:
    add_vehicle(grid, "豫A54321", [{"cylinder_id": CYL}])
    _refuse(client, grid, ["past_service_life"])
    grid.registry.transaction(lambda s: cylinders.revoke(s, "test", NOW, CYL, RevocationKind.SCRAPPED, "cut up"))
    case = _only_case(grid)
    assert (case.state, case.closed_at, case.accepted_at) == ("closed", NOW, NOW)


# Where cases come from -------------------------------------------------------------------------


def test_hooks_refusals_overrides_suspects_and_alarms(client: FlaskClient, grid: World) -> None:
    add_vehicle(grid, "豫A11111", [{"cylinder_id": "156-4101-2"}])
    grid.registry.transaction(lambda s: _home(s, "豫A11111", "410103-01"))
    at = grid.clock()
    events = [
        refused(at, ["inspection_failed"], cylinder_id="156-4101-2", plate="豫A11111"),  # home cell: 二七区
        refused(at, ["inspection_overdue"], outcome="overridden", cylinder_id="156-4101-3"),
        refused(at, ["unknown_signer"], cylinder_id="156-4101-4"),  # not a case's business
        refused(at, ["inspection_overdue"], outcome="would_refuse", cylinder_id="156-4101-5"),
        event(at, cylinder_id="156-4101-6"),
        event(at + timedelta(minutes=10), cylinder_id="156-4101-6"),  # two fills in an hour: a clone suspect
    ]
    assert post_events(client, grid, "ST-JS-01", events).status_code == 200
    assert grid.watch_clones() == 1  # the clone watch's round: the suspect's case

    def alarms(s: Session) -> None:
        station = s.scalar(select(Station.id).where(Station.code == "ST-JS-01"))
        assert station is not None
        station_alarms.open_alarm(s, station_id=station, pump=None, kind="silent", source="registry", opened_at=NOW)
        station_alarms.open_alarm(
            s, station_id=station, pump=2, kind="unexplained_quantity", source="agent", opened_at=NOW, quantity=3.5, unit="kg"
        )

    grid.registry.transaction(alarms)
    found = grid.registry.transaction(
        lambda s: sorted((k, subject, r) for k, subject, r in s.execute(select(Case.kind, Case.subject_key, Case.reason)))
    )
    assert found == [
        ("clone_suspect", "clone:156-4101-6", "fills_within_hour"),
        ("override", "override:ST-JS-01", "inspection_overdue"),
        ("refused_cylinder", "cylinder:156-4101-2", "failed"),
        ("refused_cylinder", "cylinder:156-4101-3", "overdue"),
        ("refused_cylinder", "cylinder:156-4101-5", "overdue"),
        ("silent_station", "silent:ST-JS-01", "silent"),
        ("unexplained_quantity", "meter:ST-JS-01:2", "unexplained_quantity"),
    ]
    home = client.get("/api/v1/cases", query_string={"region": "410103"}, headers=grid.auth("bureau")).get_json()["cases"]
    assert [(c["cylinder_id"], c["station"], c["plate"]) for c in home] == [("156-4101-2", "ST-JS-01", "豫A11111")]
    assert [c["cylinder_id"] for c in client.get("/api/v1/cases", headers=grid.auth("grid2")).get_json()["cases"]] == [
        "156-4101-2"
    ]


def _home(session: Session, plate: str, region: str) -> None:
    from registry_service.models import Region, Vehicle

    vehicle = session.scalar(select(Vehicle).where(Vehicle.plate == plate))
    assert vehicle is not None
    vehicle.region_id = session.scalar(select(Region.id).where(Region.code == region))


def test_a_photo_is_kept_by_its_sha256(client: FlaskClient, grid: World, config: RegistryConfig) -> None:
    _refuse(client, grid, ["inspection_overdue"])
    number = _only_case(grid).number
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    r = client.post(
        f"/api/v1/cases/{number}/actions",
        data={"action": "note", "note": "现场照片", "photo": (io.BytesIO(jpeg), "p.jpg")},
        content_type="multipart/form-data",
        headers=grid.auth("grid"),
    )
    assert r.status_code == 200, r.json
    digest = hashlib.sha256(jpeg).hexdigest()
    assert r.get_json()["steps"][-1]["photo_sha256"] == digest
    assert config.data_dir is not None
    assert (Path(config.data_dir) / "case-photos" / digest[:2] / f"{digest}.jpg").read_bytes() == jpeg
    not_a_photo = {"action": "note", "note": "x", "photo": (io.BytesIO(b"MZ\x90\x00"), "x.exe")}
    r = client.post(
        f"/api/v1/cases/{number}/actions", data=not_a_photo, content_type="multipart/form-data", headers=grid.auth("grid")
    )
    assert r.status_code == 422
    hidden = {"action": "note", "note": "x", "photo": (io.BytesIO(jpeg), "p.jpg")}
    r = client.post(
        f"/api/v1/cases/{number}/actions", data=hidden, content_type="multipart/form-data", headers=grid.auth("grid2")
    )
    assert r.status_code == 404


def test_grid_people_by_scope(client: FlaskClient, grid: World) -> None:
    def people(who: str, **query: str) -> list[tuple[str, str | None, str]]:
        body = client.get("/api/v1/grid/people", query_string=query, headers=grid.auth(who)).get_json()
        return [(p["region"], p["username"], p["duty"]) for p in body["people"]]

    everyone = [
        ("410103-01", "grid2", "officer"),
        ("410105", "lead", "lead"),
        ("410105-01", "grid", "officer"),
        ("410105-01", "officer2", "officer"),
    ]
    assert people("bureau") == people("admin") == everyone
    assert people("lead") == everyone[1:]
    assert people("grid") == everyone[2:]
    assert people("bureau", region="410103") == everyone[:1]
    assert client.get("/api/v1/grid/people", headers=grid.auth("station")).status_code == 403


def test_whoami_and_the_principal_carry_the_grid_scope(client: FlaskClient, grid: World) -> None:
    assert client.get("/api/v1/auth/whoami", headers=grid.auth("lead")).get_json()["role"] == "grid"
    with pytest.raises(NotFound):
        grid.registry.transaction(lambda s: cases.case_by_number(s, Principal(1, "x", Role.GRID, None, None), "nope"))
    principal = grid.registry.authenticate(grid.tokens["lead"])
    assert principal.region_paths == ("4101/410105",)


# PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, World]]:
    with scratch_database() as url:
        engine = make_engine(RegistryConfig(database_url=url, pool_size=4, max_overflow=4))
        migrate.upgrade(engine)
        pki = TestPki.create(NOW)
        clock = Clock()
        app = create_app(
            RegistryConfig(database_url=url, bureau_root_pem=pki.root_certificate_pem, token_cache_s=0),
            engine=engine,
            clock=clock,
        )
        yield app, World(app, clock).build()
        engine.dispose()


def test_postgresql_ingest_and_concurrent_openers_make_one_case(pg_world: tuple[Flask, World]) -> None:
    app, world = pg_world
    client = app.test_client()
    body = [
        refused(world.clock(), ["inspection_overdue"], cylinder_id=CYL),
        refused(world.clock(), ["inspection_overdue"], cylinder_id=CYL),
    ]
    assert post_events(client, world, "ST-JS-01", body).status_code == 200  # the JSON batch path
    sessions = make_session_factory(world.registry.engine)
    region = run_in_transaction(sessions, lambda s: s.scalars(select(Station.region_id).where(Station.code == "ST-JS-01")).one())
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def opener() -> None:
        def work(s: Session) -> None:
            barrier.wait(5)
            cases.open_or_attach(s, kind="silent_station", subject_key="silent:race", region_id=region, now=NOW)

        try:
            run_in_transaction(sessions, work)
        except BaseException as exc:  # any failure of an opener fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    rows = run_in_transaction(
        sessions, lambda s: s.execute(select(Case.subject_key, Case.repeats).order_by(Case.subject_key)).all()
    )
    assert [tuple(r) for r in rows] == [(f"cylinder:{CYL}", 1), ("silent:race", 3)]
    count = run_in_transaction(sessions, lambda s: s.scalar(select(func.count()).select_from(Cylinder)))
    assert count == 0  # unregistered: the case names the scanned ID
