"""Every registry entry point takes identifiers in canonical form (tag_tools.identifiers): a plate
with a full-width letter, a space or a middle dot is the same vehicle, in an event batch, a status
request, a bureau filter and a CSV import, instead of a second vehicle or a refused batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from registry_service.csv_import import import_csv
from registry_service.models import Cylinder, ScanEvent, Vehicle
from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle, event, post_events

CYLINDER = "156-4101-8801"


def _taxi(world: World) -> None:
    add_vehicle(world, "豫A12345", [{"cylinder_id": CYLINDER, "tag_uid": "04A1B2C3D4E5F6"}])


def test_an_event_batch_with_a_full_width_plate_is_taken_in_canonical_form(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    _taxi(world)
    now = world.clock()
    batch = [
        event(now - timedelta(minutes=3), plate="豫Ａ12345", cylinder_id="１５６－４１０１－８８０１"),
        event(now - timedelta(minutes=2), plate="豫a·12345", tag_uid="04:a1:b2:c3:d4:e5:f6"),
        event(now - timedelta(minutes=1), plate="豫A12345"),
    ]
    response = post_events(client, world, "ST-JS-01", batch)
    assert response.status_code == 200, response.json
    assert response.get_json()["accepted"] == 3
    with engine.connect() as c:
        rows = c.execute(
            select(ScanEvent.plate, ScanEvent.cylinder_id, ScanEvent.tag_uid, ScanEvent.cylinder_pk).order_by(
                ScanEvent.occurred_at
            )
        ).all()
    assert [r.plate for r in rows] == ["豫A12345"] * 3
    assert rows[0].cylinder_id == CYLINDER and rows[0].cylinder_pk is not None  # resolved to the cylinder
    assert rows[1].tag_uid == "04A1B2C3D4E5F6"
    found = client.get("/api/v1/bureau/refuel-attempts", query_string={"plate": "豫Ａ１２３４５"}, headers=world.auth("bureau"))
    assert found.status_code == 200 and len(found.get_json()["attempts"]) == 3


def test_a_status_lookup_with_a_full_width_plate_finds_the_vehicle(client: FlaskClient, world: World) -> None:
    _taxi(world)
    for typed in ("豫Ａ１２３４５", " 豫a 12345 ", "豫A·12345"):
        response = client.post(
            "/api/v1/status",
            json={"plate": typed, "cylinders": [{"cylinder_id": f" {CYLINDER} "}]},
            headers=world.auth("station"),
        )
        assert response.status_code == 200, response.json
        assert response.get_json()["plate"] == "豫A12345" and response.get_json()["vehicle_registered"] is True
        [cylinder] = response.get_json()["cylinders"]
        assert cylinder["cylinder_id"] == CYLINDER and cylinder["decision"] == "allow", cylinder


def test_a_bad_identifier_is_refused_naming_the_field(client: FlaskClient, world: World) -> None:
    # Shapes the old "letters, digits and CJK" pattern let through: no Chinese plate has an I.
    response = client.post("/api/v1/status", json={"plate": "豫I12345"}, headers=world.auth("station"))
    assert response.status_code == 422 and response.get_json()["detail"].startswith("plate ")
    bad = event(world.clock(), plate="豫A1")
    response = post_events(client, world, "ST-JS-01", [bad])
    assert response.status_code == 422 and "events[0]: plate" in response.get_json()["detail"]


def test_csv_rows_spelling_one_plate_two_ways_make_one_vehicle(engine: Engine, tmp_path: Path) -> None:
    vehicles = tmp_path / "vehicles.csv"
    vehicles.write_text("plate,vin,use,region\n粤b 12345,lsvau2180n2183744,taxi,\n粤Ｂ１２３４５,,taxi,\n", encoding="utf-8")
    cylinders = tmp_path / "cylinders.csv"
    cylinders.write_text(
        "cylinder_id,serial,manufactured_on,end_of_life,tag_uid,plate\n"
        "156 - 4101 - 8802,S-1,2019-06-01,2034-05-31,04:a1:b2:c3:d4:e5:f7,粤B·12345\n",
        encoding="utf-8",
    )
    sessions = sessionmaker(engine)
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert import_csv(sessions, "vehicles", vehicles, now, "test", progress=False).errors == []
    assert import_csv(sessions, "cylinders", cylinders, now, "test", progress=False).errors == []
    with engine.connect() as c:
        assert c.execute(select(Vehicle.plate, Vehicle.vin)).all() == [("粤B12345", "LSVAU2180N2183744")]
        assert c.execute(select(Cylinder.cylinder_id, Cylinder.tag_uid)).all() == [("156-4101-8802", "04A1B2C3D4E5F7")]
        assert c.scalar(select(func.count()).select_from(Vehicle)) == 1
