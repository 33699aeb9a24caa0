"""Metered reconciliation against the dispenser's totaliser (pymodbus's own server as the dispenser's
controller): a bypass with the relay off is one unexplained_quantity event with the right kilograms,
a fill is measured, and a fill whose flow stopped is ended. The clocks are fakes: no test waits."""

from __future__ import annotations

import json

import pytest

from station_agent.metering import METER_FAULT, STATE_KEY
from tests.peers import free_tcp_port
from tests.station_agent.conftest import OVERDUE, uid_for, vehicle_claims
from tests.station_agent.metered import MakeMetered, MeteredStation, dispenser, make_metered, stop, totaliser_table
from tests.station_agent.modbus_peer import DispenserPeer

__all__ = ["dispenser", "make_metered"]  # fixtures, imported for this module's tests


def _reading(station: MeteredStation) -> float | None:
    """The agent's last totaliser reading in kg (what its heartbeat sends)."""
    reading = station.agent.meter_reading()
    assert reading is None or reading[1] == "kg"
    return None if reading is None else reading[0]


def test_a_bypass_is_one_unexplained_quantity_with_its_kilograms(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(48210.5)
    station = make_metered(totaliser_table(dispenser.port, poll_s=30))
    assert _reading(station) == pytest.approx(48210.5)

    dispenser.advance(11.37)  # gas flows with the relay off: someone wired around it
    station.later(10)
    assert station.events("unexplained_quantity") == []  # the idle poll is not due yet
    assert not station.agent.pump.enabled
    station.later(25)
    (event,) = station.events("unexplained_quantity")
    assert event["quantity"] == pytest.approx(11.37) and event["unit"] == "kg"
    assert event["totaliser"] == pytest.approx(48221.87)
    assert _reading(station) == pytest.approx(48221.87)

    station.later(31)
    station.later(31)
    assert len(station.events("unexplained_quantity")) == 1  # told once: the baseline moved on


def test_noise_within_the_tolerance_is_not_gas(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(500.0)
    station = make_metered(totaliser_table(dispenser.port, poll_s=5, tolerance=0.05))
    dispenser.advance(0.03)
    station.later(6)
    dispenser.advance(0.01)
    station.later(6)
    assert station.events("unexplained_quantity") == []
    dispenser.advance(0.02)  # 0.06 since the baseline: beyond the tolerance, all of it is reported
    station.later(6)
    (event,) = station.events("unexplained_quantity")
    assert event["quantity"] == pytest.approx(0.06)


def test_a_fill_is_measured_and_ends_when_the_flow_stops(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(1000.0)
    station = make_metered(totaliser_table(dispenser.port, flow_stop_s=30))
    assert station.read(uid_for(0), **vehicle_claims(0)).decision == "allow"
    assert station.agent.pump.enabled
    (enabled,) = station.events("pump_enabled")
    session_id = enabled["subject_id"]
    assert enabled["totaliser"] == pytest.approx(1000.0)

    for _ in range(4):  # gas flows: the totaliser advances at every fill poll
        dispenser.advance(3.2)
        station.later(1)
    station.later(29)
    assert station.agent.pump.enabled  # stood still for 29 s: not yet
    station.later(1.5)
    assert not station.agent.pump.enabled  # the vehicle is full: the agent ends the fill
    (ended,) = station.events("fill_ended")
    assert ended["detail"].startswith("flow_stop") and ended["subject_id"] == session_id
    assert ended["quantity"] == pytest.approx(12.8) and ended["totaliser"] == pytest.approx(1012.8)

    station.later(31)  # the next idle poll: the fill explained all of it
    assert station.events("unexplained_quantity") == []


def test_gas_after_a_fill_ended_is_unexplained(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(2000.0)
    station = make_metered(totaliser_table(dispenser.port))
    station.read(uid_for(1), **vehicle_claims(1))
    dispenser.advance(8.0)
    station.later(1)
    station.agent.end_fill()
    (ended,) = station.events("fill_ended")
    assert ended["detail"].startswith("attendant") and ended["quantity"] == pytest.approx(8.0)
    dispenser.advance(4.5)  # the relay is off, and yet
    station.later(31)
    (event,) = station.events("unexplained_quantity")
    assert event["quantity"] == pytest.approx(4.5) and event["totaliser"] == pytest.approx(2012.5)


def test_a_refused_vehicle_that_fills_anyway_is_caught(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(300.0)
    station = make_metered(totaliser_table(dispenser.port))
    assert station.read(uid_for(2), **vehicle_claims(2, **OVERDUE)).decision == "refuse"
    dispenser.advance(9.75)  # the overdue cylinder is filled through the bypass
    station.later(31)
    (event,) = station.events("unexplained_quantity")
    assert event["quantity"] == pytest.approx(9.75)


def test_a_meter_that_cannot_be_read_is_a_fault_that_blocks_nothing(make_metered: MakeMetered) -> None:
    station = make_metered(totaliser_table(free_tcp_port()))
    assert station.agent.faults.is_active(METER_FAULT)
    assert station.agent.fault is None  # not a blocking fault
    assert station.read(uid_for(3), **vehicle_claims(3)).decision == "allow"
    assert station.agent.pump.enabled  # metering reconciles; it never holds a fill
    (enabled,) = station.events("pump_enabled")
    assert "totaliser" not in enabled
    station.agent.end_fill()
    (ended,) = station.events("fill_ended")
    assert "quantity" not in ended
    assert station.agent.meter_reading() is None
    faults = [r for r in station.agent.outbox.unsent_reports(50) if r["code"] == METER_FAULT]
    assert len(faults) == 1 and faults[0]["kind"] == "station_fault"


def test_the_last_reading_survives_a_restart(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(777.0)
    first = make_metered(totaliser_table(dispenser.port))
    stop(first)
    dispenser.advance(5.5)  # gas while the agent was stopped: the registry's comparison finds it
    second = make_metered(totaliser_table(dispenser.port))
    stopped = [r for r in second.agent.outbox.unsent_reports(50) if r["code"] == "agent_stopped"]
    started = second.events("agent_started")
    assert [r["totaliser"] for r in stopped] == [pytest.approx(777.0)]
    assert [r["totaliser"] for r in started] == [pytest.approx(777.0), pytest.approx(782.5)]
    saved = json.loads(second.agent.outbox.get_state(STATE_KEY) or b"{}")
    assert saved["value"] == pytest.approx(782.5) and saved["unit"] == "kg"
    assert second.events("unexplained_quantity") == []  # the agent does not guess what it did not see
