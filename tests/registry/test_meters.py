"""Metered station reports at the registry: the quantity fields are stored (an out-of-range one keeps
the report, as malformed), every reading moves the pump's last meter reading, gas dispensed while
an agent was stopped is found by comparing readings across its restart, and an agent's own
unexplained_quantity is an alarm. Alarms are idempotent by report id. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from werkzeug.test import TestResponse

from registry_service.config import from_env
from registry_service.errors import ConfigError
from registry_service.models import PumpMeter, StationAlarm, StationFault
from tests.registry.conftest import World
from tests.registry.test_station_faults import post


def event(world: World, code: str, minutes: float, *, pump: int = 2, **fields: Any) -> dict[str, Any]:
    """A station_event report `minutes` after the world's clock (the station's clock)."""
    return {
        "schema": 1,
        "report_id": str(uuid.uuid4()),
        "kind": "station_event",
        "code": code,
        "pump": pump,
        "occurred_at": (world.clock() + timedelta(minutes=minutes)).isoformat(),
        "cleared_at": None,
        "detail": code,
        "subject_id": None,
        "payload_sha256": None,
        "payload_b64": None,
        **fields,
    }


def body(response: TestResponse) -> dict[str, Any]:
    document = response.json
    assert isinstance(document, dict), response.data
    return document


def kg(value: float, **fields: Any) -> dict[str, Any]:
    return {"totaliser": value, "unit": "kg", **fields}


def alarms(engine: Engine) -> list[tuple[str, int | None, float | None, str | None, uuid.UUID | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(StationAlarm.source, StationAlarm.pump, StationAlarm.quantity, StationAlarm.unit, StationAlarm.report_uuid)
            .where(StationAlarm.kind == "unexplained_quantity")
            .order_by(StationAlarm.id)
        ).all()
    return [(r[0], r[1], None if r[2] is None else round(r[2], 3), r[3], r[4]) for r in rows]


def meter(engine: Engine, pump: int = 2) -> tuple[float, str]:
    with engine.connect() as connection:
        row = connection.execute(select(PumpMeter.value, PumpMeter.unit).where(PumpMeter.pump == pump)).one()
    return round(row[0], 3), row[1]


def test_gas_dispensed_while_the_agent_was_stopped_is_an_alarm(client: FlaskClient, world: World, engine: Engine) -> None:
    session = str(uuid.uuid4())
    first_life = [
        event(world, "agent_started", 0, **kg(1000.0)),
        event(world, "pump_enabled", 1, subject_id=session, **kg(1000.0)),
        event(world, "fill_ended", 3, subject_id=session, quantity=20.0, **kg(1020.0)),
        event(world, "agent_stopped", 10, **kg(1020.0)),
    ]
    assert body(post(client, world, first_life))["accepted"] == 4
    assert meter(engine) == (1020.0, "kg") and alarms(engine) == []

    restart = event(world, "agent_started", 60, **kg(1032.5))  # 12.5 kg while nobody watched
    assert body(post(client, world, [restart]))["accepted"] == 1
    (alarm,) = alarms(engine)
    assert alarm == ("registry", 2, 12.5, "kg", uuid.UUID(restart["report_id"]))
    assert meter(engine) == (1032.5, "kg")
    with engine.connect() as connection:
        detail = connection.scalar(select(StationAlarm.detail))
    assert detail is not None and "1020" in detail and "1032.5" in detail

    assert body(post(client, world, [restart]))["duplicates"] == 1  # re-sent: the same alarm, no second
    assert len(alarms(engine)) == 1
    quiet = [event(world, "agent_stopped", 70, **kg(1032.5)), event(world, "agent_started", 80, **kg(1032.54))]
    post(client, world, quiet)  # within the tolerance (0.05 kg): the meter's noise
    assert len(alarms(engine)) == 1 and meter(engine) == (1032.54, "kg")


def test_readings_are_kept_per_pump_and_a_new_unit_or_a_lower_total_is_a_new_baseline(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    post(client, world, [event(world, "agent_started", 0, pump=1, **kg(50.0)), event(world, "agent_started", 0, **kg(900.0))])
    post(client, world, [event(world, "agent_started", 5, pump=1, **kg(850.0))])  # pump 1 is not pump 2
    assert (meter(engine, 1), meter(engine, 2)) == ((850.0, "kg"), (900.0, "kg"))
    assert [a[:3] for a in alarms(engine)] == [("registry", 1, 800.0)]
    post(client, world, [event(world, "agent_started", 10, totaliser=950.0, unit="Nm3")])  # reconfigured meter
    post(client, world, [event(world, "agent_started", 20, **kg(12.0))])  # a replaced dispenser
    assert len(alarms(engine)) == 1 and meter(engine) == (12.0, "kg")


def test_readings_in_one_request_are_each_compared_with_the_one_before_it(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    # services/meters.py reads each pump's meter once per request: the second restart is compared
    # with the first one's reading, not with the meter as the request found it.
    post(client, world, [event(world, "agent_started", 0, **kg(100.0)), event(world, "agent_started", 0, pump=1, **kg(5.0))])
    first, second = event(world, "agent_started", 10, **kg(103.0)), event(world, "agent_started", 20, **kg(110.0))
    post(client, world, [first, event(world, "agent_started", 15, pump=1, **kg(9.0)), second])
    assert [a[:3] for a in alarms(engine)] == [("registry", 2, 3.0), ("registry", 1, 4.0), ("registry", 2, 7.0)]
    assert (meter(engine, 1), meter(engine, 2)) == ((9.0, "kg"), (110.0, "kg"))


def test_an_agent_unexplained_quantity_is_an_agent_alarm_once(client: FlaskClient, world: World, engine: Engine) -> None:
    post(client, world, [event(world, "agent_started", 0, **kg(2000.0))])
    bypass = event(world, "unexplained_quantity", 30, quantity=7.25, **kg(2007.25))
    post(client, world, [bypass, bypass])
    post(client, world, [bypass])
    assert alarms(engine) == [("agent", 2, 7.25, "kg", uuid.UUID(bypass["report_id"]))]
    assert meter(engine) == (2007.25, "kg")
    post(client, world, [event(world, "agent_started", 60, **kg(2007.25))])  # the agent told it already
    assert len(alarms(engine)) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": -1.0, "unit": "kg"},
        {"totaliser": "12", "unit": "kg"},
        {"totaliser": True, "unit": "kg"},
        {"quantity": 3.0, "unit": "litre"},
        {"quantity": 3.0},  # no unit
        {"unit": "kg"},  # a unit of nothing
    ],
)
def test_out_of_range_metered_fields_keep_the_report_as_malformed(
    client: FlaskClient, world: World, engine: Engine, bad: dict[str, Any]
) -> None:
    report = event(world, "unexplained_quantity", 0, **bad)
    assert body(post(client, world, [report]))["accepted"] == 1
    with engine.connect() as connection:
        row = connection.execute(select(StationFault.malformed, StationFault.raw, StationFault.code)).one()
    assert row[0] and row[1] is not None and row[2] == "unexplained_quantity"
    assert alarms(engine) == []  # a report the registry cannot fully read opens nothing
    with engine.connect() as connection:
        assert connection.scalar(select(PumpMeter.id)) is None


def test_metered_fields_are_stored_and_listed(client: FlaskClient, world: World, engine: Engine) -> None:
    session = str(uuid.uuid4())
    ended = event(world, "fill_ended", 0, subject_id=session, quantity=14.2, totaliser=3014.2, unit="Nm3")
    post(client, world, [ended, event(world, "clock_jump", 1)])
    listed = body(client.get("/api/v1/bureau/station-faults?kind=station_event", headers=world.auth("bureau")))
    by_code = {f["code"]: f for f in listed["faults"]}
    assert (by_code["fill_ended"]["quantity"], by_code["fill_ended"]["unit"], by_code["fill_ended"]["totaliser"]) == (
        14.2,
        "Nm3",
        3014.2,
    )
    assert by_code["fill_ended"]["subject_id"] == session and not by_code["fill_ended"]["malformed"]
    assert (by_code["clock_jump"]["quantity"], by_code["clock_jump"]["unit"]) == (None, None)


def test_the_tolerance_is_configured() -> None:
    assert from_env({}).meter_tolerance == 0.05
    assert from_env({"REGISTRY_METER_TOLERANCE": "0.5"}).meter_tolerance == 0.5
    for bad in ("-1", "nan", "lots"):
        with pytest.raises(ConfigError, match="REGISTRY_METER_TOLERANCE"):
            from_env({"REGISTRY_METER_TOLERANCE": bad})
