"""Fault reports riding on a heartbeat sent alone (schemas/station-heartbeat.md, "reports"): read and
stored exactly as by POST /faults (a bad report is stored as malformed, never refused), in the
heartbeat's own transaction; only a bad envelope or a bad heartbeat refuses the whole request.
Runs on SQLite and PostgreSQL (two tests: each database costs a fixture)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import Engine

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
