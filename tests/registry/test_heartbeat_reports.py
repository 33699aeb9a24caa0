"""Fault reports riding on a heartbeat sent alone (schemas/station-heartbeat.md, "reports"): read and
stored exactly as by POST /faults (a bad report is stored as malformed, never refused), in the
heartbeat's own transaction; only a bad envelope or a bad heartbeat refuses the whole request.
Runs on SQLite and PostgreSQL (few tests: each database costs a fixture)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta, timezone

from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from registry_service.models import PumpMeter, Station
from tests.registry.conftest import World
from tests.registry.test_heartbeats import alarms, heartbeat, latest, post
from tests.registry.test_station_faults import report, stored


def test_reports_ride_on_a_heartbeat_and_are_stored_once(client: FlaskClient, world: World, engine: Engine) -> None:
    tamper = report(
        world, kind="station_event", code="unexplained_quantity", subject_id=None, quantity=3.5, unit="kg", totaliser=1240.0
    )
    reports = [report(world), tamper]
    answer = post(client, world, {**heartbeat(world), "reports": reports})
    assert answer.status_code == 200, answer.json
    assert answer.json is not None and answer.json["reports"] == {"received": 2, "accepted": 2, "duplicates": 0}
    assert "registry_time" in answer.json and len(latest(engine)) == 1
    again = post(client, world, {**heartbeat(world), "reports": [*reports, report(world)]})  # a retry, and one new
    assert again.json is not None and again.json["reports"] == {"received": 3, "accepted": 1, "duplicates": 2}
    rows = stored(engine)
    assert len(rows) == 3 and not any(row.malformed for row in rows)
    assert {str(row.report_uuid) for row in rows} >= {r["report_id"] for r in reports}
    # the same path as /faults, meters and alarms included: the tamper report opened its alarm, once
    found = [(a.kind, a.source, a.quantity, str(a.report_uuid)) for a in alarms(engine)]
    assert found == [("unexplained_quantity", "agent", 3.5, tamper["report_id"])]
    alone = post(client, world, heartbeat(world))  # without the member: no count in the answer
    assert alone.status_code == 200 and alone.json is not None and "reports" not in alone.json


def test_only_a_bad_envelope_or_heartbeat_refuses_and_a_bad_report_is_stored_as_malformed(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    envelopes: list[object] = [[], {"a": 1}, None, "x", [{}] * 201]
    for envelope in envelopes:
        answer = post(client, world, {**heartbeat(world), "reports": envelope})
        assert answer.status_code == 422 and "reports" in str(answer.json), envelope
    refused = post(client, world, {**heartbeat(world, reader="gone"), "reports": [report(world)]})
    assert refused.status_code == 422 and "reader" in str(refused.json)
    riding = client.post(  # a heartbeat riding on an upload carries no reports: it stays strict
        "/api/v1/stations/ST-JS-01/scan-events",
        json={"events": [], "heartbeat": {**heartbeat(world), "reports": [report(world)]}},
        headers=world.auth("station"),
    )
    assert riding.status_code == 422
    assert latest(engine) == [] and stored(engine) == []  # nothing of a refused request
    answer = post(client, world, {**heartbeat(world, pump=3), "reports": [report(world, kind=7, pump="two"), "junk"]})
    assert answer.status_code == 200, answer.json
    assert answer.json is not None and answer.json["reports"] == {"received": 2, "accepted": 2, "duplicates": 0}
    assert [row.malformed for row in stored(engine)] == [True, True]
    assert [beat.pump for beat in latest(engine)] == [3]


def test_only_the_new_reports_of_a_heartbeat_are_stored_in_the_order_sent_every_column_as_read(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    # Metered readings of one pump: the meter ends at the last new one sent (not the highest, not
    # the last stored before), which it does only when the new reports are applied in their order.
    readings = [150.0, 110.0, 130.0, 120.0, 100.0]
    reports = [
        report(world, kind="station_event", code="fill_ended", subject_id=None, totaliser=reading, unit="kg")
        for reading in readings
    ]
    payload = b"\x00\xff\x10 not utf-8 \xc3\x28"  # bytes JSON has no form for
    # A sub-minute offset (RFC 3339 allows it), text JSON escapes, a float that is not a short decimal.
    odd_zone = timezone(timedelta(hours=5, minutes=30, seconds=15, microseconds=123456))
    local = (world.clock() - timedelta(minutes=3)).astimezone(odd_zone).replace(microsecond=0)
    occurred_at = local.isoformat()  # within the 40 characters a timestamp may have
    reports[2].update(
        {
            "occurred_at": occurred_at,
            "cleared_at": world.clock().isoformat(),
            "detail": 'quote " backslash \\ newline \n tab \t control \x01 é 金 🙂',
            "pump": 2,
            "subject_id": "sess-金水",
            "payload_b64": base64.b64encode(payload).decode(),
            "quantity": 0.1 + 0.2,
        }
    )
    reports[4]["surprise"] = "é🙂\x01"  # malformed: kept with its own JSON
    before = post(client, world, {**heartbeat(world), "reports": [reports[1], reports[3]]})
    assert before.json is not None and before.json["reports"] == {"received": 2, "accepted": 2, "duplicates": 0}
    world.clock.advance(seconds=30)
    answer = post(client, world, {**heartbeat(world), "reports": reports})
    assert answer.status_code == 200, answer.json
    assert answer.json is not None and answer.json["reports"] == {"received": 5, "accepted": 3, "duplicates": 2}
    rows = stored(engine)
    assert [str(row.report_uuid) for row in rows] == [reports[i]["report_id"] for i in (1, 3, 0, 2, 4)]
    with engine.connect() as connection:
        station_id = connection.scalar(select(Station.id).where(Station.code == "ST-JS-01"))
        meters = connection.execute(select(PumpMeter.pump, PumpMeter.value, PumpMeter.unit)).all()
    # reports[4] is malformed: it moves no meter, reports[2] (the last new well-formed one) does.
    assert [tuple(meter) for meter in meters] == [(2, readings[2], "kg")]
    sent = reports[2]
    full = rows[3]
    assert {column: getattr(full, column) for column in EVERY_COLUMN} == {
        "station_id": station_id,
        "received_at": world.clock(),
        "pump": 2,
        "schema_version": 1,
        "kind": "station_event",
        "code": "fill_ended",
        "occurred_at": local,
        "cleared_at": world.clock() - timedelta(seconds=30),
        "detail": sent["detail"],
        "subject_id": "sess-金水",
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "payload": payload,
        "raw": None,
        "malformed": False,
        "quantity": 0.1 + 0.2,
        "unit": "kg",
        "totaliser": readings[2],
    }
    broken = rows[4]
    assert broken.malformed and broken.raw == json.dumps(reports[4], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert broken.payload is None and broken.quantity is None and broken.totaliser == readings[4]


EVERY_COLUMN = (
    "station_id",
    "received_at",
    "pump",
    "schema_version",
    "kind",
    "code",
    "occurred_at",
    "cleared_at",
    "detail",
    "subject_id",
    "payload_sha256",
    "payload",
    "raw",
    "malformed",
    "quantity",
    "unit",
    "totaliser",
)
