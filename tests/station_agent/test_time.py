"""Time at the station: the clock offset against the registry is measured and travels with every
event, a skewed clock is shown, an unset clock refuses with a clear reason until time syncs, and a
registry that lags a newer record does not override the station's verdict."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from station_agent.clock_offset import ClockOffset
from station_agent.registry_client import HttpRegistryClient
from tests.station_agent.conftest import Station, uid_for, vehicle_claims
from tests.station_agent.test_registry_client import CannedServer, _http


def test_offset_is_the_midpoint_minus_the_registry_time() -> None:
    ticks = [0.0]
    offset = ClockOffset(lambda: ticks[0])
    sent = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
    offset.observe(sent, sent + timedelta(milliseconds=400), sent - timedelta(minutes=11))  # station 11 min fast
    offset.observe(sent, sent + timedelta(milliseconds=40), sent - timedelta(minutes=11) + timedelta(milliseconds=20))
    assert offset.offset_ms() == 660_000  # the short round trip wins: 11 min exactly
    ticks[0] = 4000.0
    assert offset.offset_ms() is None  # old samples say nothing about the clock now


def test_the_client_measures_the_offset_from_registry_time() -> None:
    station_now = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
    body = json.dumps(
        {"received": 0, "accepted": 0, "duplicates": 0, "registry_time": (station_now + timedelta(days=2)).isoformat()}
    ).encode()
    server = CannedServer(_http("200 OK", "application/json", body))
    try:
        offset = ClockOffset()
        client = HttpRegistryClient(server.url, "t", clock_offset=offset, wall_clock=lambda: station_now)
        client.upload("ST-JS-01", [])
        assert offset.offset_ms() == -2 * 86_400_000  # two days slow
    finally:
        server.close()


def test_every_event_carries_the_offset_and_a_skew_is_shown(make_station: Callable[..., Station]) -> None:
    station = make_station()
    now = station.clock()
    station.agent.clock_offset.observe(now, now, now - timedelta(minutes=11))
    station.read(uid_for(0), **vehicle_claims(0))
    (event,) = station.agent.outbox.unsent(10)
    assert event.body["registry"]["clock_offset_ms"] == 660_000
    station.agent.tick()
    faults = station.snapshot()["faults"]
    assert [f["code"] for f in faults] == ["clock_skew"] and not faults[0]["blocks_pump"]
    assert station.agent.pump.enabled  # a skewed clock is shown, not a reason to stop filling


def test_an_unset_clock_refuses_until_time_syncs(make_station: Callable[..., Station]) -> None:
    station = make_station()
    real = station.clock.now
    station.clock.now = datetime(1970, 1, 1, 0, 0, 42, tzinfo=UTC)
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "refuse" and "clock_unset" in result.reasons and not station.agent.pump.enabled
    station.agent.new_vehicle()
    station.clock.now = real  # NTP synced
    assert station.read(uid_for(0), **vehicle_claims(0)).decision == "allow"


def test_a_registry_that_lags_a_newer_record_does_not_override(make_station: Callable[..., Station]) -> None:
    station = make_station()
    cylinder = str(vehicle_claims(0)["cylinder_id"])
    station.registry.statuses[cylinder] = {"decision": "unknown", "reasons": ["record_newer_than_registry"]}
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "allow" and not result.online and station.agent.pump.enabled
