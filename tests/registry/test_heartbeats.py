"""Heartbeats (schemas/station-heartbeat.md): the latest per pump and a thinned history, strictly
checked, alone or riding on an upload; opening hours; the silent-station sweep and its alarm.
Runs on SQLite and PostgreSQL; time is the registry's injected clock (no test waits)."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from registry_service.config import from_env
from registry_service.csv_import import import_csv
from registry_service.errors import ConfigError
from registry_service.health_sweeper import SilentSweeper
from registry_service.models import HeartbeatHistory, PumpHeartbeat, Station, StationAlarm
from registry_service.services import station_alarms
from registry_service.services.places import station_by_code
from registry_service.services.station_health import (
    OpeningHoursError,
    canonical_opening_hours,
    open_since,
    parse_opening_hours,
    sweep_silent,
)
from tests.registry.conftest import Clock, World

URL = "/api/v1/stations/ST-JS-01/heartbeats"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEN_MINUTES = timedelta(minutes=10)


def heartbeat(world: World, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": 1,
        "pump": 2,
        "sent_at": world.clock().isoformat(),
        "agent_version": "0.1.0",
        "policy": {"mode": "enforce", "sequence": None, "sha256": "ab" * 32},
        "trust_list_sequence": 7,
        "status_list_sequences": {"0": 12},
        "clock_offset_ms": -250,
        "reader": "ok",
        "interlock": "ok",
        "pump_enabled": False,
        "outbox_backlog": 0,
        "last_fill_at": None,
        "totaliser": {"value": 1234.5, "unit": "kg"},
        "faults": [],
    }
    body.update(fields)
    return body


def post(client: FlaskClient, world: World, body: Any, who: str = "station", url: str = URL) -> TestResponse:
    return client.post(url, json=body, headers=world.auth(who))


def detail(answer: TestResponse) -> str:
    return str(answer.get_json()["detail"])


def history(engine: Engine) -> list[HeartbeatHistory]:
    with Session(engine) as session:
        return list(session.scalars(select(HeartbeatHistory).order_by(HeartbeatHistory.id)))


def latest(engine: Engine) -> list[PumpHeartbeat]:
    with Session(engine) as session:
        return list(session.scalars(select(PumpHeartbeat).order_by(PumpHeartbeat.pump)))


def alarms(engine: Engine) -> list[StationAlarm]:
    with Session(engine) as session:
        return list(session.scalars(select(StationAlarm).order_by(StationAlarm.id)))


def set_hours(world: World, code: str, hours: str | None) -> None:
    def work(s: Session) -> None:
        station_by_code(s, code).opening_hours = canonical_opening_hours(hours)

    world.registry.transaction(work)


def sweep(world: World, silent_after: timedelta = TEN_MINUTES) -> list[StationAlarm]:
    return world.registry.transaction(lambda s: sweep_silent(s, world.clock(), silent_after, zone=SHANGHAI))


def test_latest_per_pump_and_history_only_when_something_changed_or_hourly(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    answer = post(client, world, heartbeat(world))
    assert answer.status_code == 200, answer.json
    assert answer.json == {"registry_time": "2026-11-22T02:00:00.000Z"}
    # Only the send time, backlog, clock offset and what every fill changes (the pump's state, the
    # last fill, the totaliser) change: no history row.
    for minute in range(1, 4):
        clock.advance(minutes=1)
        fill = {
            "pump_enabled": minute % 2 == 1,
            "last_fill_at": world.clock().isoformat(),
            "totaliser": {"value": 1234.5 + minute, "unit": "kg"},
        }
        assert post(client, world, heartbeat(world, outbox_backlog=minute, clock_offset_ms=minute, **fill)).status_code == 200
    assert len(history(engine)) == 1
    clock.advance(minutes=1)
    assert post(client, world, heartbeat(world, reader="lost", faults=["reader_lost"])).status_code == 200
    assert [h.reader for h in history(engine)] == ["ok", "lost"]
    clock.advance(minutes=61)  # nothing new, but an hour since the last history row
    assert post(client, world, heartbeat(world, reader="lost", faults=["reader_lost"], pump=1)).status_code == 200
    assert post(client, world, heartbeat(world, reader="lost", faults=["reader_lost"])).status_code == 200
    assert [(h.pump, h.reader) for h in history(engine)] == [(2, "ok"), (2, "lost"), (1, "lost"), (2, "lost")]
    rows = latest(engine)
    assert [(r.pump, r.received_at, r.faults, r.totaliser, r.totaliser_unit) for r in rows] == [
        (1, clock.now, ["reader_lost"], 1234.5, "kg"),
        (2, clock.now, ["reader_lost"], 1234.5, "kg"),
    ]
    assert rows[1].status_list_sequences == {"0": 12} and rows[1].clock_offset_ms == -250


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"surprise": 1}, "surprise"),
    ({"schema": 2}, "schema"),
    ({"pump": 0}, "pump"),
    ({"policy": {"mode": "enforce", "sequence": 3, "sha256": "XY" * 32}}, "policy.sha256"),
    ({"policy": {"mode": "relaxed", "sequence": 3, "sha256": "ab" * 32}}, "policy.mode"),
    ({"reader": "maybe"}, "reader"),
    ({"pump_enabled": "yes"}, "pump_enabled"),
    ({"outbox_backlog": -1}, "outbox_backlog"),
    ({"totaliser": {"value": -1, "unit": "kg"}}, "totaliser.value"),
    ({"totaliser": {"value": 10**400, "unit": "kg"}}, "totaliser.value"),
    ({"totaliser": {"value": 1, "unit": "l"}}, "totaliser.unit"),
    ({"status_list_sequences": {"national": 1}}, "status_list_sequences"),
    ({"faults": ["reader lost"]}, "faults"),
    ({"sent_at": "yesterday"}, "sent_at"),
    ({"last_fill_at": "2026-11-22T09:00:00"}, "last_fill_at"),
]


def test_a_heartbeat_is_checked_field_by_field(client: FlaskClient, world: World, engine: Engine) -> None:
    for change, named in BAD_FIELDS:
        answer = post(client, world, heartbeat(world, **change))
        assert answer.status_code == 422 and answer.content_type == "application/problem+json", change
        assert named in detail(answer), (change, answer.json)
    missing = heartbeat(world)
    del missing["totaliser"]  # every member is sent, null where there is nothing to say
    assert "totaliser is required" in detail(post(client, world, missing))
    assert latest(engine) == []


def test_only_the_stations_own_credential_may_send_its_heartbeat(client: FlaskClient, world: World, engine: Engine) -> None:
    assert post(client, world, heartbeat(world), who="station2").status_code == 403
    assert post(client, world, heartbeat(world), who="bureau").status_code == 403
    assert client.post(URL, json=heartbeat(world)).status_code == 401
    assert post(client, world, heartbeat(world), url="/api/v1/stations/NOPE/heartbeats").status_code in (403, 404)
    assert latest(engine) == []


def _event(world: World) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": world.clock().isoformat(),
        "decision": "allow",
        "outcome": "allowed",
        "pump": 2,
    }


def test_a_heartbeat_rides_on_an_upload_and_a_bad_one_refuses_the_request(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    url = "/api/v1/stations/ST-JS-01/scan-events"
    bad = client.post(
        url, json={"events": [_event(world)], "heartbeat": heartbeat(world, reader="?")}, headers=world.auth("station")
    )
    assert bad.status_code == 422 and "heartbeat: reader" in detail(bad)
    good = client.post(url, json={"events": [_event(world)], "heartbeat": heartbeat(world)}, headers=world.auth("station"))
    assert good.status_code == 200 and good.get_json()["accepted"] == 1
    assert [r.pump for r in latest(engine)] == [2]


def test_opening_hours_parse_to_windows_or_a_typed_error() -> None:
    assert parse_opening_hours(None) is None and parse_opening_hours(" ") is None
    assert parse_opening_hours("06:00-22:00") == ((360, 1320),)
    assert canonical_opening_hours(" 06:00-12:00 , 14:00-24:00") == "06:00-12:00,14:00-24:00"
    assert parse_opening_hours("22:00-06:00") == ((1320, 360),)
    for bad in ("6-22", "06:00-06:00", "24:00-06:00", "06:00-24:30", "06:60-22:00", "0600-2200", ",".join(["01:00-02:00"] * 7)):
        with pytest.raises(OpeningHoursError):
            parse_opening_hours(bad)


def test_open_since_follows_windows_across_midnight() -> None:
    def at(local: str) -> datetime:
        return datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)

    day = parse_opening_hours("06:00-22:00")
    assert open_since(day, at("2026-11-22 10:00"), SHANGHAI) == at("2026-11-22 06:00")
    assert open_since(day, at("2026-11-22 22:00"), SHANGHAI) is None
    assert open_since(day, at("2026-11-22 05:59"), SHANGHAI) is None
    night = parse_opening_hours("22:00-06:00")
    assert open_since(night, at("2026-11-22 03:00"), SHANGHAI) == at("2026-11-21 22:00")
    assert open_since(night, at("2026-11-22 12:00"), SHANGHAI) is None
    always = parse_opening_hours("00:00-24:00")
    since = open_since(always, at("2026-11-22 00:05"), SHANGHAI)
    assert since is not None and since <= at("2026-11-21 00:00")  # one period, not one a day
    assert open_since(None, at("2026-11-22 00:05"), SHANGHAI) == datetime.min.replace(tzinfo=UTC)


def test_a_station_silent_while_open_is_alarmed_once_and_a_heartbeat_clears_it(
    client: FlaskClient, world: World, engine: Engine, clock: Clock
) -> None:
    # NOW is 10:00 in Shanghai. ST-EQ-01 never sent a heartbeat (not rolled out): never alarmed.
    set_hours(world, "ST-JS-01", "06:00-22:00")
    assert post(client, world, heartbeat(world)).status_code == 200
    last = clock.now
    clock.advance(minutes=9)
    assert sweep(world) == []
    clock.advance(minutes=11)
    opened = sweep(world)
    assert [(a.kind, a.source, a.pump, a.silent_since, a.opened_at) for a in opened] == [
        ("silent", "registry", None, last, clock.now)
    ]
    clock.advance(minutes=5)
    assert sweep(world) == []  # already alarmed: no second alarm for the same silence
    assert post(client, world, heartbeat(world)).status_code == 200
    assert [(a.kind, a.cleared_at) for a in alarms(engine)] == [("silent", clock.now)]


def test_silence_counts_only_while_the_station_is_open(client: FlaskClient, world: World, engine: Engine, clock: Clock) -> None:
    set_hours(world, "ST-JS-01", "11:00-22:00")  # 10:00 now: closed
    assert post(client, world, heartbeat(world)).status_code == 200
    clock.advance(minutes=50)  # 10:50: closed, silent 50 minutes
    assert sweep(world) == []
    clock.advance(minutes=15)  # 11:05: open for 5 minutes only
    assert sweep(world) == []
    clock.advance(minutes=6)  # 11:11: open for 11 minutes and silent throughout
    assert [a.silent_since for a in sweep(world)] == [clock.now - timedelta(minutes=71)]


def test_the_sweeper_uses_the_registry_clock_and_config(client: FlaskClient, world: World, engine: Engine, clock: Clock) -> None:
    assert post(client, world, heartbeat(world)).status_code == 200
    sweeper = SilentSweeper(world.registry)
    assert sweeper.silent_after == timedelta(seconds=600) and sweeper.interval_s == 60
    clock.advance(minutes=10, seconds=1)
    assert [a.kind for a in sweeper.run_once()] == ["silent"]  # no opening hours: open around the clock


def test_alarms_from_station_reports_are_idempotent(world: World, engine: Engine, clock: Clock) -> None:
    report = uuid.uuid4()

    def work(s: Session) -> list[int]:
        station = station_by_code(s, "ST-JS-01")
        ids = [
            station_alarms.open_alarm(
                s,
                station_id=station.id,
                pump=1,
                kind=station_alarms.UNEXPLAINED_QUANTITY,
                source=station_alarms.SOURCE_AGENT,
                opened_at=clock.now,
                quantity=4.2,
                unit="kg",
                report_uuid=report,
            ).id
            for _ in range(2)
        ]
        assert station_alarms.clear_alarms(s, station.id, station_alarms.UNEXPLAINED_QUANTITY, clock.now) == 1
        assert station_alarms.open_alarms(s, station.id, station_alarms.UNEXPLAINED_QUANTITY) == []
        return ids

    first, second = world.registry.transaction(work)
    assert first == second
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StationAlarm)) == 1


def test_stations_import_their_opening_hours(engine: Engine, world: World, tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "name", "region", "opening_hours"])
        writer.writerow(["ST-NEW-1", "新一站", "4101", "06:00-22:00"])
        writer.writerow(["ST-NEW-2", "新二站", "4101", ""])
        writer.writerow(["ST-NEW-3", "新三站", "4101", "6 to 10"])
    report = import_csv(sessionmaker(engine), "stations", path, world.clock(), "test", progress=False)
    assert report.imported == 2 and len(report.errors) == 1 and "opening_hours" in report.errors[0][1]
    with Session(engine) as session:
        hours = dict(session.execute(select(Station.code, Station.opening_hours).where(Station.code.like("ST-NEW-%"))).all())
    assert hours == {"ST-NEW-1": "06:00-22:00", "ST-NEW-2": None}


def test_silent_after_comes_from_the_environment() -> None:
    assert from_env({}).silent_after_s == 600
    assert from_env({"REGISTRY_SILENT_AFTER_S": "900"}).silent_after_s == 900
    with pytest.raises(ConfigError):
        from_env({"REGISTRY_SILENT_AFTER_S": "5"})
