"""Time (issue 11): events from stations with a wrong clock are stored, corrected and flagged,
never refused for their time; every station answer carries the registry's clock; status is
evaluated in the station's zone and a registry that lags a centre's upload answers "unknown"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text, update

from registry_service import partitions
from registry_service.models import Cylinder, ScanEvent
from registry_service.models.cylinders import RevocationKind
from registry_service.services import cylinders
from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle, counts, event, post_events, refused

OK = "156-4101-3001"
FAST = timedelta(minutes=11)
SLOW = -timedelta(days=2)


def _ms(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))


def _stored(engine: Engine) -> dict[str, Any]:
    with engine.connect() as c:
        return {str(row.event_uuid): row for row in c.execute(select(ScanEvent))}


def _attempts(client: FlaskClient, world: World, **query: str) -> dict[str, dict[str, Any]]:
    r = client.get("/api/v1/bureau/refuel-attempts", headers=world.auth("bureau"), query_string=query)
    assert r.status_code == 200, r.json
    return {a["event_id"]: a for a in r.get_json()["attempts"]}


def test_fast_and_slow_stations_lose_no_event_and_the_bureau_sees_the_offset(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    now = world.clock()
    happened = now - timedelta(minutes=3)
    fast = refused(happened + FAST, ["inspection_overdue"], clock_offset_ms=_ms(FAST))
    slow = event(happened + SLOW, clock_offset_ms=_ms(SLOW))
    on_time = event(happened + timedelta(seconds=2), clock_offset_ms=2000)
    assert counts(post_events(client, world, "ST-JS-01", [fast])) == {"received": 1, "accepted": 1, "duplicates": 0}
    assert counts(post_events(client, world, "ST-EQ-01", [slow], who="station2"))["accepted"] == 1
    assert counts(post_events(client, world, "ST-JS-01", [on_time, fast]))["duplicates"] == 1  # a retry stays one row
    rows = _stored(engine)
    for sent, offset, skewed in ((fast, FAST, True), (slow, SLOW, True), (on_time, timedelta(seconds=2), False)):
        row = rows[sent["event_id"]]
        assert row.occurred_at == happened and row.received_at == now
        assert row.station_time == happened + offset and row.clock_offset_ms == _ms(offset)
        assert row.clock_skewed is skewed
    seen = _attempts(client, world)
    assert seen[fast["event_id"]]["clock_offset_ms"] == 660_000 and seen[fast["event_id"]]["clock_skewed"] is True
    assert seen[slow["event_id"]]["clock_offset_ms"] == -172_800_000
    assert seen[slow["event_id"]]["station_time"] == (happened + SLOW).isoformat()
    assert set(_attempts(client, world, clock_skewed="true")) == {fast["event_id"], slow["event_id"]}
    assert set(_attempts(client, world, clock_skewed="false")) == {on_time["event_id"]}
    r = client.get("/api/v1/bureau/refuel-attempts", headers=world.auth("bureau"), query_string={"clock_skewed": "yes"})
    assert r.status_code == 422
    csv_text = client.get(
        "/api/v1/bureau/refuel-attempts",
        headers=world.auth("bureau"),
        query_string={"format": "csv", "clock_skewed": "true", "outcome": "refused"},
    ).get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").splitlines()[1].endswith(",660000,True")


def test_a_1970_clock_is_accepted_flagged_and_dated_by_receipt_once(client: FlaskClient, world: World, engine: Engine) -> None:
    now = world.clock()
    booted = datetime(1970, 1, 1, 0, 4, 10, tzinfo=UTC)
    unknown = event(booted)  # no offset yet: the registry dates it by receipt
    measured = event(booted, clock_offset_ms=_ms(booted - (now - timedelta(seconds=30))))
    future = event(now + timedelta(days=3))
    assert counts(post_events(client, world, "ST-JS-01", [unknown, measured, future]))["accepted"] == 3
    world.clock.advance(minutes=5)
    retry = post_events(client, world, "ST-JS-01", [unknown, measured, future])  # dated by receipt again: a new key
    assert counts(retry) == {"received": 3, "accepted": 0, "duplicates": 3}
    rows = _stored(engine)
    assert len(rows) == 3 and all(row.clock_skewed for row in rows.values())
    assert rows[unknown["event_id"]].occurred_at == now and rows[unknown["event_id"]].station_time == booted
    assert rows[unknown["event_id"]].clock_offset_ms is None
    assert rows[measured["event_id"]].occurred_at == now - timedelta(seconds=30)
    assert rows[future["event_id"]].occurred_at == now and rows[future["event_id"]].station_time == now + timedelta(days=3)
    assert set(_attempts(client, world, clock_skewed="true")) == {unknown["event_id"], measured["event_id"], future["event_id"]}


def test_an_offset_that_corrects_into_nonsense_falls_back_to_receipt(client: FlaskClient, world: World, engine: Engine) -> None:
    now = world.clock()
    wrong = event(now, clock_offset_ms=_ms(timedelta(days=900)))  # the station's estimate is itself wrong
    absurd = event(now) | {"occurred_at": "0001-01-01T00:00:00+01:00", "clock_offset_ms": -(2**53 - 1)}
    assert counts(post_events(client, world, "ST-JS-01", [wrong, absurd]))["accepted"] == 2
    rows = _stored(engine)
    assert rows[wrong["event_id"]].occurred_at == now and rows[wrong["event_id"]].clock_skewed
    assert rows[absurd["event_id"]].occurred_at == now and rows[absurd["event_id"]].station_time == datetime.min.replace(
        tzinfo=UTC
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_corrected_events_land_in_the_days_partition_on_postgresql(client: FlaskClient, world: World, engine: Engine) -> None:
    now = world.clock()
    with engine.begin() as c:
        partitions.ensure_daily_partitions(c, now.date(), days_ahead=1, days_back=1)
    skewed = [
        event(datetime(1970, 1, 1, tzinfo=UTC)),
        event(now + FAST, clock_offset_ms=_ms(FAST)),
        event(now + SLOW, clock_offset_ms=_ms(SLOW)),
    ]
    assert counts(post_events(client, world, "ST-JS-01", skewed))["accepted"] == 3
    with engine.connect() as c:
        assert c.scalar(text(f"SELECT count(*) FROM {partitions.partition_name(now.date())}")) == 3
        assert c.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 0


def test_every_station_answer_carries_the_registry_clock(client: FlaskClient, world: World) -> None:
    add_vehicle(world, "豫A30001", [{"cylinder_id": OK}])
    world.clock.now = datetime(2026, 11, 22, 2, 0, 0, 123456, tzinfo=UTC)
    r = client.post("/api/v1/status", json={"plate": "豫A30001"}, headers=world.auth("station"))
    assert r.get_json()["registry_time"] == "2026-11-22T02:00:00.123Z"
    r = post_events(client, world, "ST-JS-01", [event(world.clock())])
    assert r.get_json()["registry_time"] == "2026-11-22T02:00:00.123Z"


def _sequence(world: World, cylinder_id: str, sequence: int) -> None:
    world.registry.transaction(
        lambda s: s.execute(update(Cylinder).where(Cylinder.cylinder_id == cylinder_id).values(record_sequence=sequence))
    )


def test_a_lagging_registry_answers_unknown_for_a_newer_record(client: FlaskClient, world: World) -> None:
    add_vehicle(
        world,
        "豫A30002",
        [{"cylinder_id": OK, "tag_uid": "04A1B2C3D4E5F6", "next_due": world.clock().date() - timedelta(days=3)}],
    )
    _sequence(world, OK, 4)

    def ask(sequence: int) -> dict[str, Any]:
        body = {"plate": "豫A30002", "cylinders": [{"cylinder_id": OK, "tag_uid": "04A1B2C3D4E5F6", "record_sequence": sequence}]}
        r = client.post("/api/v1/status", json=body, headers=world.auth("station"))
        assert r.status_code == 200, r.json
        answer: dict[str, Any] = r.get_json()["cylinders"][0]
        return answer

    assert ask(5) == {
        "cylinder_id": OK,
        "tag_uid": "04A1B2C3D4E5F6",
        "registered": True,
        "decision": "unknown",
        "reasons": ["record_newer_than_registry"],
        "record_sequence": 4,
    }
    for sequence in (4, 3, 0):  # the registry knows this record or a newer one: its answer stands
        answer = ask(sequence)
        assert answer["decision"] == "refuse" and answer["reasons"] == ["inspection_overdue"] and answer["record_sequence"] == 4
    for bad in (-1, "5", 1.5, True):
        body = {"cylinders": [{"cylinder_id": OK, "record_sequence": bad}]}
        assert client.post("/api/v1/status", json=body, headers=world.auth("station")).status_code == 422
    world.registry.transaction(lambda s: cylinders.revoke(s, "test", world.clock(), OK, RevocationKind.SCRAPPED, "test"))
    scrapped = ask(5)  # no record, however new, undoes a condemnation: the refusal stands
    assert scrapped["decision"] == "refuse" and "cylinder_revoked" in scrapped["reasons"]


def test_the_stations_zone_decides_today_at_the_day_boundary(client: FlaskClient, world: World) -> None:
    world.clock.now = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 07:30 on 23 November in Zhengzhou
    add_vehicle(world, "豫A30003", [{"cylinder_id": OK, "next_due": datetime(2026, 11, 22).date()}])

    def ask(**zone: str) -> dict[str, Any]:
        r = client.post("/api/v1/status", json={"cylinders": [{"cylinder_id": OK}], **zone}, headers=world.auth("station"))
        assert r.status_code == 200, r.json
        answer: dict[str, Any] = r.get_json()["cylinders"][0]
        return answer

    assert ask(timezone="UTC")["reasons"] == ["due_soon"]  # still the 22nd, its last valid day
    assert ask(timezone="Asia/Shanghai")["reasons"] == ["inspection_overdue"]  # already the 23rd
    assert ask()["reasons"] == ["inspection_overdue"]  # the registry's default zone: Asia/Shanghai
    assert ask(timezone="America/Los_Angeles")["reasons"] == ["due_soon"]
    for bad in ("Mars/Olympus", "../../etc/passwd", "", 8):
        r = client.post(
            "/api/v1/status", json={"cylinders": [{"cylinder_id": OK}], "timezone": bad}, headers=world.auth("station")
        )
        assert r.status_code == 422 and "timezone" in r.get_json()["detail"], bad
