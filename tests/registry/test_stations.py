"""Station endpoints: status per vehicle, scan-event batches (idempotent, scoped), revocations."""

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle, counts, event, post_events, refused

OK = "156-4101-1001"
OVERDUE = "156-4101-1002"
OLD = "156-4101-1003"


def _taxi(world: World) -> None:
    today = world.clock().date()
    add_vehicle(
        world,
        "豫A12345",
        [
            {"cylinder_id": OK, "tag_uid": "04A1B2C3D4E5F6"},
            {"cylinder_id": OVERDUE, "next_due": today - timedelta(days=1)},
            {"cylinder_id": OLD, "end_of_life": today, "next_due": today + timedelta(days=10)},
        ],
    )


def test_status_by_plate_reports_each_cylinder(client: FlaskClient, world: World) -> None:
    _taxi(world)
    r = client.post("/api/v1/status", json={"plate": "豫A12345"}, headers=world.auth("station"))
    assert r.status_code == 200, r.json
    by_id = {c["cylinder_id"]: c for c in r.get_json()["cylinders"]}
    assert by_id[OK]["decision"] == "allow" and by_id[OK]["reasons"] == []
    assert by_id[OVERDUE]["decision"] == "refuse" and by_id[OVERDUE]["reasons"] == ["inspection_overdue"]
    assert by_id[OLD]["decision"] == "allow_with_warning" and by_id[OLD]["reasons"] == ["due_soon"]  # its last day


def test_status_by_id_and_uid_detects_unregistered_and_mismatch(client: FlaskClient, world: World) -> None:
    _taxi(world)
    r = client.post(
        "/api/v1/status",
        headers=world.auth("station"),
        json={
            "cylinders": [
                {"cylinder_id": OK, "tag_uid": "04FFFFFFFFFFFF"},
                {"tag_uid": "04A1B2C3D4E5F6"},
                {"cylinder_id": "156-4101-999"},
            ]
        },
    )
    assert r.status_code == 200
    first, second, third = r.get_json()["cylinders"]
    assert first["reasons"] == ["registration_mismatch"]
    assert second["cylinder_id"] == OK and second["decision"] == "allow"
    assert third == {
        "cylinder_id": "156-4101-999",
        "tag_uid": None,
        "registered": False,
        "decision": "refuse",
        "reasons": ["unregistered"],
    }


def test_status_due_soon_is_a_warning(client: FlaskClient, world: World) -> None:
    add_vehicle(world, "豫A55555", [{"cylinder_id": OK, "next_due": world.clock().date() + timedelta(days=5)}])
    r = client.post("/api/v1/status", json={"cylinders": [{"cylinder_id": OK}]}, headers=world.auth("station"))
    assert r.get_json()["cylinders"][0]["decision"] == "allow_with_warning"
    assert r.get_json()["cylinders"][0]["reasons"] == ["due_soon"]


def test_status_rejects_bad_input_with_reason(client: FlaskClient, world: World) -> None:
    for body in [
        {},
        {"cylinders": "x"},
        {"cylinders": [{}]},
        {"cylinders": [{"cylinder_id": "DROP TABLE"}]},
        {"plate": 5},
        {"cylinders": [{"cylinder_id": OK}] * 9},
        {"unexpected": 1},
    ]:
        r = client.post("/api/v1/status", json=body, headers=world.auth("station"))
        assert r.status_code == 422, body
        assert r.content_type == "application/problem+json" and r.get_json()["detail"]
    r = client.post("/api/v1/status", data="{", content_type="application/json", headers=world.auth("station"))
    assert r.status_code == 422
    r = client.post("/api/v1/status", data="plate=x", headers=world.auth("station"))
    assert r.status_code == 415


def test_scan_events_are_idempotent_by_uuid(client: FlaskClient, world: World, engine: Engine) -> None:
    now = world.clock()
    batch = [event(now - timedelta(minutes=i), cylinder_id=OK) for i in range(5)]
    first = post_events(client, world, "ST-JS-01", batch)
    assert first.status_code == 200, first.json
    assert counts(first) == {"received": 5, "accepted": 5, "duplicates": 0}
    retry = post_events(client, world, "ST-JS-01", [*batch, batch[0], event(now)])
    assert counts(retry) == {"received": 7, "accepted": 1, "duplicates": 6}
    from sqlalchemy import func, select

    from registry_service.models import ScanEvent

    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(ScanEvent)) == 6


def test_scan_events_store_every_field_as_sent(client: FlaskClient, world: World, engine: Engine) -> None:
    """Every column as the station sent it, the cylinder resolved to its key (or none when unknown):
    PostgreSQL unpacks the batch itself (services/events.py), SQLite goes through SQLAlchemy."""
    from sqlalchemy import select

    from registry_service.models import Cylinder, ScanEvent
    from registry_service.services.reasons import mask_of

    _taxi(world)
    now = world.clock()
    full = refused(
        now - timedelta(seconds=90),
        ["inspection_overdue", "past_service_life"],
        outcome="overridden",
        cylinder_id=OVERDUE,
        tag_uid="04A1B2C3D4E5F6",
        read_counter=77,
        record_sequence=3,
        plate="豫A12345",
        decided_offline=True,
        session_id="S-9",
        pump=3,
    )
    bare = event(now - timedelta(seconds=30), cylinder_id="156-4101-424242")
    r = post_events(client, world, "ST-JS-01", [full, bare])
    assert counts(r) == {"received": 2, "accepted": 2, "duplicates": 0}
    with engine.connect() as c:
        overdue_pk = c.scalar(select(Cylinder.id).where(Cylinder.cylinder_id == OVERDUE))
        rows = {str(row.event_uuid): row for row in c.execute(select(ScanEvent))}
    stored = rows[full["event_id"]]
    assert stored.occurred_at == now - timedelta(seconds=90) and stored.received_at == now
    assert (stored.cylinder_pk, stored.cylinder_id, stored.tag_uid, stored.read_counter) == (
        overdue_pk,
        OVERDUE,
        "04A1B2C3D4E5F6",
        77,
    )
    assert (stored.record_sequence, stored.plate, stored.pump_number, stored.session_id) == (3, "豫A12345", 3, "S-9")
    assert (stored.decision, stored.outcome.value, stored.decided_offline) == ("refuse", "overridden", True)
    assert stored.reasons == "inspection_overdue,past_service_life"
    assert stored.reason_mask == mask_of(["inspection_overdue", "past_service_life"])
    assert (stored.attendant, stored.supervisor, stored.override_reason) == ("A-007", "S-01", "paper certificate seen")
    unknown = rows[bare["event_id"]]
    assert (unknown.cylinder_pk, unknown.cylinder_id, unknown.plate, unknown.supervisor) == (None, "156-4101-424242", None, None)
    assert (unknown.reasons, unknown.reason_mask, unknown.decided_offline) == ("", 0, False)


def test_scan_events_resolve_cylinder_and_store_reasons(client: FlaskClient, world: World) -> None:
    _taxi(world)
    now = world.clock()
    r = post_events(client, world, "ST-JS-01", [refused(now, ["inspection_overdue"], cylinder_id=OVERDUE, plate="豫A12345")])
    assert r.status_code == 200
    r = client.get("/api/v1/bureau/refuel-attempts", headers=world.auth("bureau"), query_string={"reason": "inspection_overdue"})
    assert [a["cylinder_id"] for a in r.get_json()["attempts"]] == [OVERDUE]


def test_station_cannot_post_for_another_station(client: FlaskClient, world: World) -> None:
    r = post_events(client, world, "ST-EQ-01", [event(world.clock())])
    assert r.status_code == 403
    assert r.get_json()["type"].endswith("/forbidden")


def test_scan_event_validation(client: FlaskClient, world: World) -> None:
    now = world.clock()
    bad = [
        event(now, event_id="not-a-uuid"),
        event(now) | {"occurred_at": "2026-11-22T02:00:00"},  # no offset
        event(now, clock_offset_ms=1.5),
        event(now, clock_offset_ms=2**53),
        event(now) | {"occurred_at": "yesterday"},
        event(now, decision="refuse", outcome="allowed"),
        refused(now, ["inspection_overdue"], outcome="overridden") | {"attendant": None},
        refused(now, ["inspection_overdue"], outcome="overridden") | {"supervisor": None},
        refused(now, ["inspection_overdue"], outcome="overridden") | {"override_reason": "   "},
        refused(now, ["inspection_overdue"]) | {"supervisor": "S-01"},
        refused(now, ["inspection_overdue"]) | {"override_reason": "no supervisor, no override"},
        event(now, supervisor="S-01", override_reason="allowed anyway"),
        refused(now, ["inspection_overdue"], outcome="overridden") | {"supervisor": "S" * 65},
        refused(now, ["inspection_overdue"], outcome="overridden") | {"override_reason": "r" * 201},
        event(now, session_id="s" * 65),
        event(now, session_id=7),
        event(now, decided_offline="yes"),
        event(now, decided_offline=None),
        event(now, reasons=["Bad Reason"]),
        event(now, outcome="maybe"),
        event(now, read_counter=2**24),
        event(now, tag_uid="zz"),
    ]
    for body in bad:
        r = post_events(client, world, "ST-JS-01", [body])
        assert r.status_code == 422, (body, r.json)
    assert post_events(client, world, "ST-JS-01", []).status_code == 422
    assert post_events(client, world, "ST-JS-01", [event(now)] * 1001).status_code == 422
    assert post_events(client, world, "NOPE", [event(now)]).status_code in (403, 404)


def test_revocations_delta_sync_paginates(client: FlaskClient, world: World) -> None:
    _taxi(world)
    for cylinder in (OK, OVERDUE, OLD):  # imported, never inspected: no centre holds a record, the bureau condemns
        r = client.post(f"/api/v1/cylinders/{cylinder}/condemnation", json={"reason": "crack"}, headers=world.auth("bureau"))
        assert r.status_code == 201, r.json
    page = client.get("/api/v1/revocations?since=0&limit=2", headers=world.auth("station")).get_json()
    assert [r["cylinder_id"] for r in page["revocations"]] == [OK, OVERDUE] and page["has_more"]
    rest = client.get(f"/api/v1/revocations?since={page['next_cursor']}&limit=2", headers=world.auth("station")).get_json()
    assert [r["cylinder_id"] for r in rest["revocations"]] == [OLD] and not rest["has_more"]
    assert rest["revocations"][0]["kind"] == "condemned"
    empty = client.get(f"/api/v1/revocations?since={rest['next_cursor']}", headers=world.auth("station")).get_json()
    assert empty["revocations"] == [] and empty["next_cursor"] == rest["next_cursor"]
    status = client.post("/api/v1/status", json={"plate": "豫A12345"}, headers=world.auth("station")).get_json()
    assert all("cylinder_revoked" in c["reasons"] for c in status["cylinders"])
    again = client.post(f"/api/v1/cylinders/{OK}/condemnation", json={"reason": "x"}, headers=world.auth("bureau"))
    assert again.status_code == 409


def test_bureau_reports_stolen(client: FlaskClient, world: World) -> None:
    _taxi(world)
    r = client.post(
        f"/api/v1/cylinders/{OK}/revocations",
        json={"kind": "reported_stolen", "reason": "police report 77"},
        headers=world.auth("bureau"),
    )
    assert r.status_code == 201 and r.get_json()["kind"] == "reported_stolen"
    r = client.post(
        f"/api/v1/cylinders/{OK}/revocations", json={"kind": "superseded", "reason": "x"}, headers=world.auth("bureau")
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/cylinders/156-4101-424242/revocations", json={"kind": "scrapped", "reason": "x"}, headers=world.auth("bureau")
    )
    assert r.status_code == 404


def test_override_fields_round_trip(client: FlaskClient, world: World) -> None:
    """Attendant and supervisor arrive as separate fields; online/offline and the session are kept."""
    _taxi(world)
    now = world.clock()
    overridden = refused(now - timedelta(minutes=2), ["inspection_overdue"], outcome="overridden", cylinder_id=OVERDUE) | {
        "attendant": "A-009",
        "supervisor": "S-01",
        "override_reason": "  巡检报告已出示, paper certificate seen  ",
        "session_id": "3f1c-session",
        "decided_offline": True,
    }
    online = event(now - timedelta(minutes=1), cylinder_id=OK, session_id="4a2d-session")
    legacy = event(now - timedelta(minutes=3), cylinder_id=OK)  # the new fields are optional
    r = post_events(client, world, "ST-JS-01", [overridden, online, legacy])
    assert r.status_code == 200, r.json
    assert r.get_json()["accepted"] == 3

    def attempts(**query: str) -> dict[str, dict[str, Any]]:
        r = client.get("/api/v1/bureau/refuel-attempts", headers=world.auth("bureau"), query_string=query)
        assert r.status_code == 200, r.json
        return {a["event_id"]: a for a in r.get_json()["attempts"]}

    everything = attempts()
    got = everything[overridden["event_id"]]
    assert got["attendant"] == "A-009" and got["supervisor"] == "S-01"
    assert got["override_reason"] == "巡检报告已出示, paper certificate seen"
    assert got["session_id"] == "3f1c-session" and got["decided_offline"] is True
    plain = everything[online["event_id"]]
    assert plain["decided_offline"] is False and plain["supervisor"] is None and plain["override_reason"] is None
    assert plain["session_id"] == "4a2d-session" and everything[legacy["event_id"]]["session_id"] is None

    assert set(attempts(decided_offline="true")) == {overridden["event_id"]}
    assert set(attempts(decided_offline="false")) == {online["event_id"], legacy["event_id"]}
    bad = client.get("/api/v1/bureau/refuel-attempts", headers=world.auth("bureau"), query_string={"decided_offline": "1"})
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"

    csv_text = client.get(
        "/api/v1/bureau/refuel-attempts", headers=world.auth("bureau"), query_string={"format": "csv", "outcome": "overridden"}
    ).get_data(as_text=True)
    header, row = csv_text.lstrip("\ufeff").splitlines()[:2]
    assert header.endswith(
        ",attendant,supervisor,override_reason,decided_offline,session_id,station_time,clock_offset_ms,clock_skewed"
    )
    assert 'A-009,S-01,"巡检报告已出示, paper certificate seen",True,3f1c-session' in row


def test_override_validation_is_a_problem_document(client: FlaskClient, world: World) -> None:
    now = world.clock()
    r = post_events(
        client, world, "ST-JS-01", [refused(now, ["inspection_overdue"], outcome="overridden") | {"supervisor": None}]
    )
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert "events[0]" in r.get_json()["detail"] and "supervisor" in r.get_json()["detail"]
    r = post_events(client, world, "ST-JS-01", [event(now, supervisor="S-01")])
    assert r.status_code == 422 and "overridden events only" in r.get_json()["detail"]
