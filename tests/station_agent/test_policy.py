"""Policy knobs that change decisions: the warning window, trust list age, non-genuine chips, and
that any surprise in the read loop leaves the pump disabled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

from station_agent.session import SessionState
from station_agent.tagsource import TagReading
from tag_tools.verdict import ChipEvidence, Originality
from tests.station_agent.conftest import SUPERVISOR_PASSWORD, Station, uid_for, vehicle_claims


def test_due_soon_allows_with_a_warning_on_the_fill_screen(make_station: Callable[..., Station]) -> None:
    station = make_station(warning_days=30)
    result = station.read(uid_for(0), **vehicle_claims(0, next_due=date(2026, 12, 10)))
    assert result.decision == "allow_with_warning" and "due_soon" in result.reasons
    assert station.agent.pump.enabled
    snapshot = station.agent.snapshot()
    assert snapshot["state"] == "ready_warning" and snapshot["colour"] == "green"  # the pump is on: the warning is a line
    quiet = make_station(warning_days=5)
    assert quiet.read(uid_for(0), **vehicle_claims(0, next_due=date(2026, 12, 10))).decision == "allow"


def test_stale_trust_list_refuses_and_may_be_overridden(make_station: Callable[..., Station]) -> None:
    station = make_station(trust_list_max_age_h=24)
    station.clock.advance(hours=25)
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "refuse" and result.reasons == ("trust_list_stale",)
    station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "registry link down since Monday")
    assert station.agent.pump.enabled and station.session_state() is SessionState.OVERRIDDEN
    lenient = make_station(trust_list_max_age_h=48)  # same clock: still 25 h after the list was issued
    assert lenient.read(uid_for(0), **vehicle_claims(0)).decision == "allow"


def test_non_genuine_chip_refuses_or_warns_by_policy(make_station: Callable[..., Station]) -> None:
    for refuse, decision in ((True, "refuse"), (False, "allow_with_warning")):
        station = make_station(refuse_non_genuine_chip=refuse)
        message = station.pki.ndef_message(uid_for(0), **vehicle_claims(0))
        result = station.agent.handle(TagReading(uid_for(0), message, ChipEvidence(Originality.NOT_GENUINE)))
        assert result.decision == decision


class ExplodingSource:
    """Yields one good read, then raises something nobody expected."""

    def __init__(self, first: TagReading) -> None:
        self.items: list[TagReading | None] = [first]
        self.calls = 0

    def next_read(self, timeout: float, cancel: threading.Event | None = None) -> TagReading | None:
        self.calls += 1
        if self.items:
            return self.items.pop()
        if self.calls == 2:
            raise RuntimeError("driver bug")
        time.sleep(0.01)
        return None

    def close(self) -> None:
        pass


def test_unexpected_error_in_the_loop_disables_the_pump(make_station: Callable[..., Station]) -> None:
    station = make_station()
    source = ExplodingSource(TagReading(uid_for(0), station.pki.ndef_message(uid_for(0), **vehicle_claims(0))))
    station.agent.source = source
    loop = threading.Thread(target=station.agent.run, daemon=True)
    loop.start()
    deadline = time.monotonic() + 10
    while station.agent.fault is None and time.monotonic() < deadline:
        time.sleep(0.01)
    station.agent.request_stop()
    loop.join(5)
    commands = station.pump_commands()
    # Heartbeats may repeat OFF after the fault (the relay is re-sent its state); never ON again.
    assert commands[:3] == [False, True, False] and True not in commands[2:]
    assert station.agent.fault == "RuntimeError: driver bug" and not station.agent.pump.enabled
    station.read(uid_for(1), **vehicle_claims(1))  # while the fault lasts, no fill starts
    assert not station.agent.pump.enabled
    station.agent.new_vehicle()
    # The loop runs cleanly again (the cause is gone): the fault clears without a restart.
    station.agent._stop.clear()
    loop = threading.Thread(target=station.agent.run, daemon=True)
    loop.start()
    deadline = time.monotonic() + 10
    while station.agent.fault is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    station.agent.request_stop()
    loop.join(5)
    assert station.agent.fault is None
    station.read(uid_for(2), **vehicle_claims(2, plate="豫A00001"))
    assert station.agent.pump.enabled
    reports = [r for r in (station.agent.outbox.unsent_reports(10)) if r["code"] == "agent_error"]
    assert [r["cleared_at"] is not None for r in reports] == [False, True]  # the bureau hears both
