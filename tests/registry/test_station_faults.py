"""Station fault reports: always stored (malformed ones too), idempotent by report id (derived
from the bytes when the report has none), scoped to the station's own credential, listed for the
bureau. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, Row, select
from werkzeug.test import TestResponse

from registry_service.models import StationFault
from tests.registry.conftest import World

URL = "/api/v1/stations/ST-JS-01/faults"


def report(world: World, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": 1,
        "report_id": str(uuid.uuid4()),
        "kind": "rejected_event",
        "code": "registry_rejected",
        "pump": 2,
        "occurred_at": (world.clock() - timedelta(minutes=5)).isoformat(),
        "cleared_at": None,
        "detail": "registry answered 422: decision must be one of allow, refuse",
        "subject_id": str(uuid.uuid4()),
        "payload_sha256": None,
        "payload_b64": None,
    }
    body.update(fields)
    return body


def post(client: FlaskClient, world: World, reports: Any, who: str = "station", url: str = URL) -> TestResponse:
    # Escaped JSON: a lone surrogate (\ud800) must reach the registry as the JSON escape a station sends.
    body = json.dumps({"reports": reports}, ensure_ascii=True)
    return client.post(url, data=body, content_type="application/json", headers=world.auth(who))


def stored(engine: Engine) -> list[Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(select(StationFault).order_by(StationFault.id)).all())


def test_reports_are_stored_once_with_their_payload(client: FlaskClient, world: World, engine: Engine) -> None:
    payload = b'{"event_id": "not-a-uuid", "\xff broken'
    good = report(world, payload_b64=base64.b64encode(payload).decode())
    fault = report(
        world,
        kind="station_fault",
        code="interlock_fault",
        subject_id=None,
        pump=None,
        cleared_at=world.clock().isoformat(),
        detail="relay module did not answer",
    )
    r = post(client, world, [good, fault])
    assert r.status_code == 200, r.json
    assert r.json == {"received": 2, "accepted": 2, "duplicates": 0}
    assert post(client, world, [good, fault, good]).json == {"received": 3, "accepted": 0, "duplicates": 3}
    rows = stored(engine)
    assert len(rows) == 2 and not any(row.malformed for row in rows)
    first = rows[0]
    assert str(first.report_uuid) == good["report_id"] and first.kind == "rejected_event" and first.pump == 2
    assert first.payload == payload and first.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert first.raw is None and first.schema_version == 1 and first.received_at == world.clock()
    assert rows[1].cleared_at == world.clock() and rows[1].code == "interlock_fault"


@pytest.mark.parametrize(
    ("broken", "problem_field"),
    [
        ({"report_id": "not-a-uuid"}, "report_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"pump": "two"}, "pump"),
        ({"kind": 7}, "kind"),
        ({"code": "x" * 65}, "code"),
        ({"payload_b64": "***"}, "payload_b64"),
        ({"payload_sha256": "00" * 32, "payload_b64": "aGVsbG8="}, "payload_sha256"),
        ({"surprise": True}, "surprise"),
        ({"detail": "nul \x00 and lone \ud800 surrogate"}, None),  # stored cleaned, not malformed
    ],
)
def test_a_report_that_does_not_validate_is_stored_as_malformed(
    client: FlaskClient, world: World, engine: Engine, broken: dict[str, object], problem_field: str | None
) -> None:
    sent = report(world, **broken)
    r = post(client, world, [sent])
    assert r.status_code == 200 and r.get_json()["accepted"] == 1, r.get_json()
    (row,) = stored(engine)
    assert row.malformed is (problem_field is not None)
    if problem_field is not None:
        assert row.raw is not None and problem_field in row.raw
        assert row.kind in (None, "rejected_event") and row.detail == sent["detail"]
    else:
        assert "\x00" not in row.detail and row.detail.startswith("nul ")
    # A retry of the same bytes is a duplicate, also when the report_id was unusable.
    assert post(client, world, [sent]).json == {"received": 1, "accepted": 0, "duplicates": 1}


def test_anything_in_the_list_is_stored(client: FlaskClient, world: World, engine: Engine) -> None:
    oddities = ["just a string", 42, None, [1, 2], {}, {"schema": 2, "report_id": str(uuid.uuid4()), "shape": "future"}]
    r = post(client, world, oddities)
    assert r.json == {"received": 6, "accepted": 6, "duplicates": 0}
    rows = stored(engine)
    assert sum(row.malformed for row in rows) == 6 and all(row.raw for row in rows)
    assert post(client, world, oddities).get_json()["duplicates"] == 6
    future = next(row for row in rows if row.schema_version == 2)
    assert '"shape":"future"' in (future.raw or "")


def test_unknown_schema_version_is_kept_with_its_json_and_long_fields_are_cut(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    big = bytes(range(256)) * 80  # 20 KiB: only the hash is kept
    sent = report(world, schema=2, kind="new_kind", detail="d" * 5000, payload_b64=base64.b64encode(big).decode())
    assert post(client, world, [sent]).get_json()["accepted"] == 1
    (row,) = stored(engine)
    assert row.schema_version == 2 and row.kind == "new_kind" and not row.malformed
    assert len(row.detail) == 1000 and row.payload is None and row.payload_sha256 == hashlib.sha256(big).hexdigest()
    assert row.raw is not None and len(row.raw.encode()) <= 16 * 1024


def test_derived_ids_differ_between_stations(client: FlaskClient, world: World, engine: Engine) -> None:
    same = {"schema": 1, "kind": "station_fault", "code": "reader_lost"}
    assert post(client, world, [same]).get_json()["accepted"] == 1
    assert post(client, world, [same], who="station2", url="/api/v1/stations/ST-EQ-01/faults").get_json()["accepted"] == 1
    assert len({row.report_uuid for row in stored(engine)}) == 2


@pytest.mark.parametrize(
    "body",
    [{}, {"reports": []}, {"reports": "x"}, {"reports": [{}] * 201}, ["not", "an", "object"]],
)
def test_only_the_envelope_is_refused(client: FlaskClient, world: World, engine: Engine, body: Any) -> None:
    r = client.post(URL, json=body, headers=world.auth("station"))
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert stored(engine) == []


def test_a_station_posts_only_for_itself(client: FlaskClient, world: World, engine: Engine) -> None:
    assert post(client, world, [report(world)], who="station2").status_code == 403
    assert post(client, world, [report(world)], who="bureau").status_code == 403
    assert client.post(URL, json={"reports": [report(world)]}).status_code == 401
    assert post(client, world, [report(world)], url="/api/v1/stations/NOPE/faults").status_code in (403, 404)
    assert stored(engine) == []


def test_bureau_lists_and_filters_fault_reports(client: FlaskClient, world: World) -> None:
    for index in range(5):
        post(client, world, [report(world, detail=f"r{index}")])
        world.clock.advance(minutes=1)
    post(
        client,
        world,
        [report(world, kind="station_fault", code="clock_skew")],
        who="station2",
        url="/api/v1/stations/ST-EQ-01/faults",
    )
    auth = world.auth("bureau")
    everything = client.get("/api/v1/bureau/station-faults", headers=auth).get_json()
    assert len(everything["faults"]) == 6 and everything["faults"][0]["station"] == "ST-EQ-01"
    assert everything["faults"][0]["station_name"] == "二七一站" and everything["next_cursor"] is None
    only_kind = client.get("/api/v1/bureau/station-faults?kind=station_fault", headers=auth).get_json()["faults"]
    assert [f["code"] for f in only_kind] == ["clock_skew"]
    pages, cursor = [], ""
    while True:
        page = client.get(f"/api/v1/bureau/station-faults?station=ST-JS-01&limit=2{cursor}", headers=auth).get_json()
        pages.append([f["detail"] for f in page["faults"]])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert pages == [["r4", "r3"], ["r2", "r1"], ["r0"]]
    since = (world.clock() - timedelta(minutes=2, seconds=30)).isoformat().replace("+00:00", "Z")
    recent = client.get(f"/api/v1/bureau/station-faults?station=ST-JS-01&since={since}", headers=auth).get_json()["faults"]
    assert [f["detail"] for f in recent] == ["r4", "r3"]
    assert client.get("/api/v1/bureau/station-faults", headers=world.auth("station")).status_code == 403
    assert client.get("/api/v1/bureau/station-faults?cursor=bm9wZQ", headers=auth).status_code == 422
    assert client.get("/api/v1/bureau/station-faults?station=NOPE", headers=auth).get_json()["faults"] == []


def test_paging_lists_each_stations_report_once_when_they_share_an_id_and_instant(client: FlaskClient, world: World) -> None:
    """A report id is unique per station only (migration 0019), and received_at is the registry's
    clock, here frozen: two stations' reports with one id at one instant must both be listed, once,
    whatever the page size (the list orders and pages by station too)."""
    shared = str(uuid.uuid4())
    for who, code in (("station", "ST-JS-01"), ("station2", "ST-EQ-01")):
        sent = [report(world, report_id=shared, detail=f"shared {code}"), report(world, detail=f"own {code}")]
        assert post(client, world, sent, who=who, url=f"/api/v1/stations/{code}/faults").get_json()["accepted"] == 2
    auth = world.auth("bureau")
    expected = sorted(f"{kind} {code}" for kind in ("shared", "own") for code in ("ST-JS-01", "ST-EQ-01"))
    for limit in (1, 2, 3):
        listed, cursor = [], ""
        while True:
            page = client.get(f"/api/v1/bureau/station-faults?limit={limit}{cursor}", headers=auth).get_json()
            listed += [f["detail"] for f in page["faults"]]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert sorted(listed) == expected, (limit, listed)
