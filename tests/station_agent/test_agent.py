"""The decision flow on fakes: sessions, registry authority, offline decisions, monitor mode,
the refill rule, and that an event is stored before the pump is enabled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from station_agent.errors import RegistryUnavailable
from station_agent.session import SessionState
from station_agent.tagsource import TagReading
from tag_tools.revocations import CylinderRevocation
from tests.station_agent.conftest import OVERDUE, Station, uid_for, vehicle_claims
from tests.testkit import TestPki


def test_allowed_vehicle_enables_pump_then_fill_done_disables(make_station: Callable[..., Station]) -> None:
    station = make_station()
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "allow" and result.online
    assert station.agent.pump.enabled and station.pump_changes() == [False, True]
    station.agent.end_fill()
    assert not station.agent.pump.enabled and station.pump_commands()[-1] is False
    assert station.agent.session is not None and station.agent.session.state is SessionState.DONE
    (event,) = [p.body for p in station.agent.outbox.unsent(10)]
    assert event["registry"]["outcome"] == "allowed" and event["online"] is True
    assert event["registry"]["plate"] == "豫A8M2K7" and event["registry"]["attendant"] == "A-007"


def test_three_cylinders_one_overdue_refuses_vehicle(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0, 3))
    assert not station.agent.pump.enabled and station.session_state() is SessionState.COLLECTING
    station.read(uid_for(1), **vehicle_claims(1, 3))
    overdue = station.read(uid_for(2), **vehicle_claims(2, 3, **OVERDUE))
    assert overdue.decision == "refuse" and "inspection_overdue" in overdue.reasons
    assert station.session_state() is SessionState.REFUSED
    assert True not in station.pump_commands()
    outcomes = [p.body["registry"]["outcome"] for p in station.agent.outbox.unsent(10)]
    assert outcomes == ["allowed", "allowed", "refused"]


def test_all_three_cylinders_allowed_enables_only_after_the_third(make_station: Callable[..., Station]) -> None:
    station = make_station()
    for index in range(2):
        station.read(uid_for(index), **vehicle_claims(index, 3))
        assert not station.agent.pump.enabled
    station.read(uid_for(2), **vehicle_claims(2, 3))
    assert station.agent.pump.enabled


def test_cylinder_of_another_vehicle_is_refused(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0, 2))
    other = station.read(uid_for(1), **vehicle_claims(1, 2, plate="豫B12345"))
    assert other.decision == "refuse" and "registration_mismatch" in other.reasons
    assert station.session_state() is SessionState.REFUSED and not station.agent.pump.enabled


def test_reading_another_vehicle_during_a_fill_stops_the_pump(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0))
    assert station.agent.pump.enabled
    station.read(uid_for(1), **vehicle_claims(1, plate="豫B12345"))
    assert not station.agent.pump.enabled


def test_registry_refusal_is_authoritative(make_station: Callable[..., Station]) -> None:
    station = make_station()
    cylinder = str(vehicle_claims(0)["cylinder_id"])
    station.registry.statuses[cylinder] = {"decision": "refuse", "reasons": ["cylinder_revoked"]}
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "refuse" and result.reasons == ("cylinder_revoked",) and result.online
    assert not station.agent.pump.enabled


def test_registry_down_decides_offline_with_cached_revocations(make_station: Callable[..., Station]) -> None:
    station = make_station(online=False)
    cylinder = str(vehicle_claims(1)["cylinder_id"])
    station.agent.cache.apply_revocations([{"id": 1, "cylinder_id": cylinder, "kind": "scrapped"}], 1)
    allowed = station.read(uid_for(0), **vehicle_claims(0))
    assert allowed.decision == "allow" and not allowed.online and station.agent.pump.enabled
    station.agent.end_fill()
    revoked = station.read(uid_for(1), **vehicle_claims(1))
    assert revoked.decision == "refuse" and "cylinder_revoked" in revoked.reasons and not station.agent.pump.enabled
    assert station.agent.cache.revocations.cylinder_revocation(cylinder) is CylinderRevocation.SCRAPPED
    assert all(p.body["online"] is False for p in station.agent.outbox.unsent(10))
    assert "(offline)" in station.lines[0]


def test_refused_reasons_for_each_kind_of_bad_record(make_station: Callable[..., Station], test_pki: TestPki) -> None:
    station = make_station(online=False)
    cases = {
        "past_service_life": vehicle_claims(0, end_of_life=date(2026, 1, 1)),
        "inspection_failed": vehicle_claims(1, result=1),
        "inspection_overdue": vehicle_claims(2, **OVERDUE),
    }
    for expected, claims in cases.items():
        station.agent.new_vehicle()
        result = station.read(uid_for(3), **claims)
        assert result.decision == "refuse" and expected in result.reasons, (expected, result)
    station.agent.new_vehicle()
    moved = station.agent.handle(_reading(uid_for(4), test_pki.ndef_message(uid_for(5), **vehicle_claims(5))))
    assert "uid_mismatch" in moved.reasons
    station.agent.new_vehicle()
    forged = bytearray(test_pki.ndef_message(uid_for(6), **vehicle_claims(6)))
    forged[-5] ^= 0x01
    assert "bad_signature" in station.agent.handle(_reading(uid_for(6), bytes(forged))).reasons
    assert True not in station.pump_commands()


def _reading(uid: bytes, message: bytes) -> TagReading:
    return TagReading(uid, message)


def test_monitor_mode_never_blocks_but_records_would_refuse(make_station: Callable[..., Station]) -> None:
    station = make_station(mode="monitor")
    result = station.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    assert result.decision == "refuse" and station.agent.pump.enabled
    (event,) = [p.body for p in station.agent.outbox.unsent(10)]
    assert event["registry"]["outcome"] == "would_refuse"
    assert station.agent.snapshot()["state"] == "would_refuse"


def test_same_cylinder_filled_again_within_an_hour_is_refused(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0))
    station.agent.end_fill()
    station.clock.advance(minutes=30)
    again = station.read(uid_for(0), **vehicle_claims(0))
    assert again.decision == "refuse" and "refilled_too_soon" in again.reasons
    station.agent.new_vehicle()
    station.clock.advance(minutes=31)
    assert station.read(uid_for(0), **vehicle_claims(0)).decision == "allow"


def test_session_window_expires_incomplete_vehicle(make_station: Callable[..., Station]) -> None:
    station = make_station(session_window_s=60)
    station.read(uid_for(0), **vehicle_claims(0, 2))
    station.clock.advance(seconds=61)
    station.agent.tick()
    assert station.session_state() is SessionState.EXPIRED
    assert "cylinder_missing" in [r["code"] for r in station.snapshot()["session"]["reasons"]]
    station.read(uid_for(1), **vehicle_claims(1, 2))  # a new session: only one of two read
    assert not station.agent.pump.enabled


def test_fill_timeout_ends_the_session(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0))
    station.agent.pump.clock = lambda: float("inf")  # the guard's deadline has passed
    station.agent.pump.check_deadline()
    assert not station.agent.pump.enabled
    station.agent.tick()
    assert station.session_state() is SessionState.DONE


def test_sender_uploads_each_event_once(make_station: Callable[..., Station]) -> None:
    station = make_station(online=False)
    for index in range(5):
        station.agent.new_vehicle()
        station.read(uid_for(index), **vehicle_claims(index))
    with pytest.raises(RegistryUnavailable):
        station.sync.upload_pending()
    assert station.registry.received == {} and station.agent.outbox.counts().unsent == 5
    station.registry.down = False
    assert station.sync.upload_pending() == 5
    assert station.sync.upload_pending() == 0
    assert sorted(station.registry.received) == sorted(station.agent.outbox.event_ids())


def test_rereading_a_cylinder_during_its_own_fill_keeps_the_pump_on(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0))
    station.clock.advance(seconds=20)
    again = station.read(uid_for(0), **vehicle_claims(0))
    assert again.decision == "allow" and station.agent.pump.enabled
    assert station.pump_changes() == [False, True]


def test_a_refusal_sticks_when_the_same_cylinder_is_reread_offline(make_station: Callable[..., Station]) -> None:
    station = make_station()
    cylinder = str(vehicle_claims(0)["cylinder_id"])
    station.registry.statuses[cylinder] = {"decision": "refuse", "reasons": ["cylinder_revoked"]}
    assert station.read(uid_for(0), **vehicle_claims(0)).decision == "refuse"
    station.registry.down = True  # the network cable is pulled, the tag read again
    again = station.read(uid_for(0), **vehicle_claims(0))
    assert again.decision == "refuse" and again.reasons == ("cylinder_revoked",) and not again.online
    assert station.session_state() is SessionState.REFUSED and True not in station.pump_commands()
    outcomes = [p.body["registry"]["outcome"] for p in station.agent.outbox.unsent(10)]
    assert outcomes == ["refused", "refused"]
