"""The status endpoint's fast path (api/status.py) and its two ways of reading (services/status_reads.py):
only the WSGI fast path answers while the route stays in the URL map, and on PostgreSQL the
libpq reads return exactly the rows SQLAlchemy Core returns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry_service.config import RegistryConfig
from registry_service.services.status_reads import CoreStatusReads, StatusRow, ThreadLocalPg
from tests.registry.conftest import Clock, World
from tests.registry.helpers import add_vehicle
from tests.testkit import TestPki

# PgStatusReads is the PostgreSQL reader: these tests take only the PostgreSQL database.
ON_POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

OK = "156-4101-2001"
OVERDUE = "156-4101-2002"
LOOSE = "156-4101-2003"  # registered, fitted to no vehicle


def _fleet(world: World) -> None:
    today = world.clock().date()
    add_vehicle(
        world,
        "豫A00001",
        [
            {"cylinder_id": OK, "tag_uid": "04A1B2C3D4E5F6"},
            {"cylinder_id": OVERDUE, "next_due": today - timedelta(days=1), "last_result": "fail"},
        ],
    )
    add_vehicle(world, "豫A00002", [])
    add_vehicle(world, "豫A00003", [{"cylinder_id": LOOSE}])

    def unfit(s: Session) -> None:
        from sqlalchemy import update

        from registry_service.models import Cylinder

        s.execute(update(Cylinder).where(Cylinder.cylinder_id == LOOSE).values(vehicle_id=None))

    world.registry.transaction(unfit)


REQUESTS = [
    ("station", {"plate": "豫A00001"}, "application/json"),
    ("bureau", {"plate": "豫A00002"}, "application/json"),
    ("station", {"plate": "豫Z99999"}, "application/json"),
    (
        "station",
        {"plate": "豫A00001", "cylinders": [{"cylinder_id": OK, "tag_uid": "04FFFFFFFFFFFF"}, {"tag_uid": "04A1B2C3D4E5F6"}]},
        "application/json",
    ),
    ("station", {"cylinders": [{"cylinder_id": LOOSE}, {"cylinder_id": "156-4101-9"}]}, "application/json"),
    ("station", {"cylinders": "x"}, "application/json"),
    ("station", {"plate": "豫A00001"}, "text/plain"),
    ("centre", {"plate": "豫A00001"}, "application/json"),
    (None, {"plate": "豫A00001"}, "application/json"),
]


@pytest.mark.parametrize(("caller", "body", "content_type"), REQUESTS)
def test_only_the_fast_path_answers(app: Flask, world: World, caller: str | None, body: object, content_type: str) -> None:
    """Through the test client (the app's whole WSGI stack, as in production) Flask never starts a
    request for the status endpoint: every answer, problems included, is the fast path's."""
    _fleet(world)
    import json

    from flask import request_started

    headers = {**(world.auth(caller) if caller else {}), "Content-Type": content_type}
    data = json.dumps(body, ensure_ascii=False).encode()
    flask_requests: list[str] = []

    def started(sender: Flask, **extra: object) -> None:
        flask_requests.append("started")

    with request_started.connected_to(started, app):
        answer = app.test_client().post("/api/v1/status", data=data, headers=headers)
        assert app.test_client().get("/api/v1/trust-list").status_code  # the spy does see Flask requests
    assert flask_requests == ["started"]
    assert answer.status_code < 500
    assert answer.headers["Content-Type"].startswith(("application/json", "application/problem+json"))
    assert int(answer.headers["Content-Length"]) == len(answer.data)


def test_the_route_table_lists_status_but_its_view_never_answers(app: Flask) -> None:
    """The endpoint is in the URL map with its roles (OpenAPI, schemathesis and the authorisation
    matrix read it there), and its view is not a second way to answer: it refuses to run."""
    from registry_service.api.status import STATUS_ROLES

    (rule,) = [r for r in app.url_map.iter_rules() if r.rule == "/api/v1/status"]
    assert rule.methods is not None and "POST" in rule.methods
    view = app.view_functions[rule.endpoint]
    assert getattr(view, "allowed_roles", None) == STATUS_ROLES
    with pytest.raises(RuntimeError, match="fast path"):
        view()
    assert type(app.wsgi_app).__name__ == "StatusFastPath"


def test_fast_path_statuses_and_problems(client: FlaskClient, world: World) -> None:
    _fleet(world)
    r = client.post("/api/v1/status", json={"plate": "豫A00001"}, headers=world.auth("station"))
    assert r.status_code == 200 and r.content_type == "application/json"
    assert [c["decision"] for c in r.get_json()["cylinders"]] == ["allow", "refuse"]
    assert r.get_json()["cylinders"][1]["reasons"] == ["inspection_failed", "inspection_overdue"]
    r = client.post("/api/v1/status", json={"plate": "豫A00001"})
    assert r.status_code == 401 and r.content_type == "application/problem+json"
    assert r.get_json()["instance"] == "/api/v1/status"
    r = client.post("/api/v1/status", json={"plate": "豫A00001"}, headers=world.auth("admin"))
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    r = client.get("/api/v1/status", headers=world.auth("station"))  # other methods still go to Flask
    assert r.status_code == 405 and r.content_type == "application/problem+json"
    r = client.post("/api/v1/status", data=b"\xff\xfe", content_type="application/json", headers=world.auth("station"))
    assert r.status_code == 422


def test_oversized_status_body_is_413(engine: Engine, pki: TestPki, clock: Clock, world: World) -> None:
    from registry_service.app import create_app

    small = create_app(
        RegistryConfig(
            database_url=str(engine.url), bureau_root_pem=pki.root_certificate_pem, token_cache_s=0, max_body_bytes=64
        ),
        engine=engine,
        clock=clock,
    )
    r = small.test_client().post(
        "/api/v1/status", json={"plate": "豫A00001", "cylinders": [{"cylinder_id": OK}] * 5}, headers=world.auth("station")
    )
    assert r.status_code == 413 and r.content_type == "application/problem+json"


def _sorted_rows(found: tuple[list[StatusRow], int | None]) -> tuple[list[StatusRow], int | None]:
    rows, vehicle_id = found
    return sorted(rows), vehicle_id


@ON_POSTGRESQL_ONLY
def test_pg_reads_return_what_core_reads_return(engine: Engine, world: World) -> None:
    _fleet(world)
    pg = ThreadLocalPg(engine)
    with engine.connect() as connection:
        core = CoreStatusReads(connection)
        for read in (
            lambda r: r.by_plate("豫A00001"),
            lambda r: r.by_plate("豫A00002"),
            lambda r: r.by_plate("豫Z99999"),
            lambda r: sorted(r.by_cylinder_ids([OK, LOOSE, "156-4101-9"])),
            lambda r: r.by_tag_uids(["04A1B2C3D4E5F6", "04000000000000"]),
            lambda r: r.by_cylinder_ids(['a"b\\c', "{x,y}"]),  # quoted in the array literal, never parsed as syntax
            lambda r: r.vehicle_id("豫A00002"),
            lambda r: r.vehicle_id("豫Z99999"),
            lambda r: _sorted_rows(r.by_cylinder_ids_for_plate([OK, OVERDUE, LOOSE], "豫A00001")),
            lambda r: _sorted_rows(r.by_cylinder_ids_for_plate([OK], "豫Z99999")),
            lambda r: _sorted_rows(r.by_cylinder_ids_for_plate(["156-4101-9"], "豫A00002")),
            lambda r: _sorted_rows(r.by_cylinder_ids_for_plate(["156-4101-9"], "豫Z99999")),
        ):
            assert pg.run(read) == read(core)
    loose = pg.run(lambda r: r.by_cylinder_ids([LOOSE]))[0]
    assert loose.vehicle_id is None and loose.plate is None and loose.tag_uid is None


@ON_POSTGRESQL_ONLY
def test_pg_reads_are_planned_once_per_connection(engine: Engine, world: World) -> None:
    """With PostgreSQL's default plan_cache_mode the `= ANY($1)` reads were planned afresh on every
    execution (custom plans), which cost more than the lookups; the status connection uses the
    generic plan from the first execution on."""
    _fleet(world)
    pg = ThreadLocalPg(engine)
    for _ in range(8):  # past the five custom plans after which "auto" may settle on the generic one
        pg.run(lambda r: r.by_cylinder_ids_for_plate([OK, OVERDUE], "豫A00001"))
        pg.run(lambda r: r.by_tag_uids(["04A1B2C3D4E5F6"]))
    plans = pg.run(
        lambda r: r.execute(
            b"test_plans",
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'cg_status%' ORDER BY name",
        )
    )
    counts = [tuple(plans.get_value(row, column).decode() for column in range(3)) for row in range(plans.ntuples)]
    assert counts == [("cg_status_by_ids_for_plate", "8", "0"), ("cg_status_by_uids", "8", "0")]


@ON_POSTGRESQL_ONLY
def test_pg_reads_reconnect_after_the_connection_dies(engine: Engine, world: World) -> None:
    _fleet(world)
    pg = ThreadLocalPg(engine, backoff_s=0.01)
    first_pid = pg.run(lambda r: r.pgconn.backend_pid)
    with engine.connect() as connection:
        from sqlalchemy import text

        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
    rows = pg.run(lambda r: r.by_plate("豫A00001"))
    assert [row.cylinder_id for row in rows] == [OK, OVERDUE]
    assert pg.run(lambda r: r.pgconn.backend_pid) != first_pid


@ON_POSTGRESQL_ONLY
def test_pg_reads_give_up_with_503_when_the_database_is_gone(engine: Engine) -> None:
    from sqlalchemy import create_engine

    from registry_service.errors import ServiceUnavailable

    nowhere = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(ServiceUnavailable):
        ThreadLocalPg(nowhere, attempts=2, backoff_s=0.01).run(lambda r: r.by_plate("豫A00001"))
