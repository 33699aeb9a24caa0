"""The agent under faults, on fakes: every fault holds the pump off while it lasts and clears when
its cause does, without a restart; sessions follow the monotonic clock, not the wall clock; a bug
in judging a read refuses and stores that read; what the registry refuses for good is reported.
The same faults against the real processes are in tests/faults."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from station_agent.errors import InterlockError, OutboxFullError
from station_agent.interlock import Interlock
from station_agent.outbox import Outbox
from station_agent.session import SessionState
from station_agent.sync import SyncWorker, TrustCache
from tests.peers import wait_until
from tests.station_agent.conftest import Station, uid_for, vehicle_claims
from tests.station_agent.fakes import FakeRegistry
from tests.testkit import TestPki


class RelayModule(Interlock):
    """A relay module that can drop off the network: while `gone`, every write fails."""

    def __init__(self) -> None:
        self.path = "relay:"
        self.gone = False
        self.attempts: list[bool] = []
        self.first_failure: int | None = None  # index in `attempts` of the first write that failed
        self.coil = False

    def set_enabled(self, enabled: bool) -> None:
        self.attempts.append(enabled)
        if self.gone:
            if self.first_failure is None:
                self.first_failure = len(self.attempts) - 1
            self.coil = False  # it comes back powered up, outputs off
            raise InterlockError("no answer from the relay module")
        self.coil = enabled

    def heartbeat(self) -> None:
        if self.gone:
            raise InterlockError("no answer from the relay module")


def test_relay_lost_during_a_fill_ends_it_and_comes_back_off(make_station: Callable[..., Station]) -> None:
    station = make_station()
    relay = RelayModule()
    station.agent.pump.stop()
    station.agent.pump.interlock = relay
    station.agent.pump.start()
    station.read(uid_for(0), **vehicle_claims(0))
    assert relay.coil is True
    relay.gone = True
    wait_until(lambda: not station.agent.pump.healthy, "the pump to notice the relay gone")
    station.agent.tick()
    assert station.agent.fault is not None and not station.agent.pump.enabled
    assert station.agent.snapshot()["state"] == "fault"
    station.read(uid_for(0), **vehicle_claims(0))  # a re-read while the relay is gone starts nothing
    relay.gone = False
    wait_until(lambda: station.agent.pump.healthy, "the pump to notice the relay back")
    station.agent.tick()
    assert station.agent.fault is None and relay.coil is False  # back, and OFF
    assert relay.first_failure is not None
    assert True not in relay.attempts[relay.first_failure + 1 :]  # no ON from the agent itself after the loss
    station.agent.new_vehicle()
    station.read(uid_for(0), **vehicle_claims(0))  # a new allowed session may fill again
    assert relay.coil is True


def test_stepping_the_wall_clock_neither_keeps_nor_kills_a_session(make_station: Callable[..., Station]) -> None:
    station = make_station(session_window_s=60)
    station.read(uid_for(0), **vehicle_claims(0, 2))
    station.clock.step(minutes=-30)  # NTP steps the wall clock back: the session still expires on time
    station.clock.mono += 61
    station.agent.tick()
    assert station.session_state() is SessionState.EXPIRED
    second = station.read(uid_for(1), **vehicle_claims(1, 1, plate="豫A00002"))  # the next vehicle is not refused
    assert second.decision == "allow", second
    assert station.agent.pump.enabled
    station.agent.end_fill()
    station.read(uid_for(2), **vehicle_claims(2, 2, plate="豫A00003"))
    station.clock.step(hours=3)  # and forwards: a live session is not cut short
    station.agent.tick()
    assert station.session_state() is SessionState.COLLECTING
    station.read(uid_for(3), **vehicle_claims(3, 2, plate="豫A00003"))
    assert station.agent.pump.enabled


def test_a_fill_recorded_before_the_clock_went_back_does_not_refuse(make_station: Callable[..., Station]) -> None:
    station = make_station(min_refill_interval_min=60)
    station.read(uid_for(0), **vehicle_claims(0))
    station.agent.end_fill()
    station.clock.step(minutes=-30)
    station.clock.mono += 5
    station.agent.new_vehicle()
    assert station.read(uid_for(0), **vehicle_claims(0)).decision == "allow"


def test_a_bug_while_judging_refuses_and_stores_the_read(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station()

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(station.agent.assessor, "assess", broken)
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "refuse" and result.reasons == ("agent_error",)
    assert not station.agent.pump.enabled
    (event,) = station.agent.outbox.unsent(10)
    assert event.body["registry"]["reasons"] == ["agent_error"]
    assert station.lines and "REFUSE" in station.lines[-1]


def test_a_full_outbox_holds_the_pump_off_until_a_write_lands(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station()
    outbox = station.agent.outbox
    full = [True]
    real_add, real_put = outbox.add_with_fills, outbox.put_state

    def add_with_fills(*args: Any, **kwargs: Any) -> None:
        if full[0]:
            raise OutboxFullError("disk full (test)")
        real_add(*args, **kwargs)

    def put_state(*args: Any) -> None:
        if full[0]:
            raise OutboxFullError("disk full (test)")
        real_put(*args)

    monkeypatch.setattr(outbox, "add_with_fills", add_with_fills)
    monkeypatch.setattr(outbox, "put_state", put_state)
    station.read(uid_for(0), **vehicle_claims(0))
    assert not station.agent.pump.enabled and station.agent.fault is not None
    station.agent.tick()
    assert station.agent.fault is not None  # still full
    full[0] = False
    station.agent.tick()
    assert station.agent.fault is None
    station.agent.new_vehicle()
    station.read(uid_for(0), **vehicle_claims(0))
    assert station.agent.pump.enabled
    codes = [(r["code"], r["cleared_at"] is not None) for r in outbox.unsent_reports(10) if r["kind"] == "station_fault"]
    assert codes == [("outbox_full", False), ("outbox_full", True)]  # kept in memory while the disk was full


def test_refused_for_good_is_reported_and_reports_are_delivered(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", pump=2)
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for event_id in ids:
        outbox.add(event_id, {"registry": {"event_id": event_id}})
    registry = FakeRegistry(reject_event_ids={ids[1]})
    worker = SyncWorker(outbox, cache, registry, "ST-JS-01", pump=2, batch=10)
    assert worker.upload_pending() == 2
    assert worker.upload_reports() == 1
    (report,) = registry.fault_reports.values()
    assert report["kind"] == "rejected_event" and report["subject_id"] == ids[1] and report["pump"] == 2
    assert outbox.unsent_reports(10) == []
    assert worker.upload_reports() == 0  # sent once


def test_once_the_registry_is_known_down_reads_decide_offline_at_once(make_station: Callable[..., Station]) -> None:
    station = make_station(online=False)
    for index in range(2):  # two failed status checks open the breaker
        station.read(uid_for(index), **vehicle_claims(index, plate=f"豫A0000{index}"))
        station.agent.end_fill()
    assert station.registry.status_attempts == 2 and station.agent.breaker.is_open
    result = station.read(uid_for(5), **vehicle_claims(5, plate="豫A00005"))
    assert result.decision == "allow" and not result.online
    assert station.registry.status_attempts == 2  # not asked: no budget waited out
    station.registry.down = False
    station.clock.mono += 1.0  # the back-off (0.25-0.5 s after two failures) has passed: one probe
    station.agent.end_fill()
    assert station.read(uid_for(6), **vehicle_claims(6, plate="豫A00006")).online
    assert not station.agent.breaker.is_open
