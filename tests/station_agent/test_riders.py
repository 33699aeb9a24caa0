"""Pending events ride on the next read's status request: a busy pump sends no upload request of
its own, and what is left after an idle spell goes up in one batch."""

from __future__ import annotations

from collections.abc import Callable

from tests.station_agent.conftest import Station, uid_for, vehicle_claims


def test_events_ride_on_the_next_status_request(make_station: Callable[..., Station]) -> None:
    station = make_station()
    agent, registry = station.agent, station.registry
    agent.assessor.riders = agent.sync
    for index in range(5):
        station.read(uid_for(index), **vehicle_claims(index, plate=f"豫A0000{index}"))
        agent.end_fill()
    assert registry.uploads == 0 and registry.riders == 4  # each read carried the ones before it
    assert agent.outbox.counts().unsent == 1  # the last read's event waits for the next vehicle...
    station.clock.mono += station.sync.upload_debounce_s + 1
    station.sync.run_once()  # ...or for the debounce after the last ride
    assert registry.uploads == 1 and len(registry.received) == 5 and agent.outbox.counts().unsent == 0


def test_riders_the_registry_does_not_store_go_by_upload(make_station: Callable[..., Station]) -> None:
    station = make_station()
    agent, registry = station.agent, station.registry
    agent.assessor.riders = agent.sync
    station.read(uid_for(0), **vehicle_claims(0))
    agent.end_fill()
    (first,) = agent.outbox.unsent(10)
    registry.reject_event_ids.add(first.event_id)
    station.read(uid_for(1), **vehicle_claims(1, plate="豫A00001"))  # its status answer says: not stored
    assert station.agent.pump.enabled  # the read itself is unaffected
    assert registry.riders == 0 and agent.outbox.counts().unsent == 2
