"""End to end, no waiting in real time: an agent sends heartbeats over HTTP to a real registry and
stops; with the registry's clock moved on 20 minutes, the silent-station sweep raises the alarm
while the station is open and not while it is closed, and the agent's next heartbeat clears it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.health_sweeper import SilentSweeper
from registry_service.models import PumpHeartbeat, StationAlarm
from registry_service.services.places import station_by_code
from tests.peers import wait_until
from tests.registry.conftest import Clock
from tests.station_agent.conftest import _NoSource
from tests.station_agent.e2e import RunningAgent
from tests.station_agent.registry_peer import STATION, RegistryPeer, database_url
from tests.testkit import TestPki


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)  # 08:00 UTC: 16:00 in the registry's zone (Asia/Shanghai)


@pytest.fixture
def registry(tmp_path: Path, test_pki: TestPki, clock: Clock) -> Iterator[RegistryPeer]:
    peer = RegistryPeer(database_url("sqlite", tmp_path), test_pki, clock)
    yield peer.start()
    peer.dispose()


def run_agent_once(registry: RegistryPeer, tmp_path: Path, test_pki: TestPki, root_pem: Path, clock: Clock) -> datetime:
    """Start the agent, wait for its first heartbeat to be stored, stop it. Returns when it arrived."""
    before = last_heartbeat(registry)
    agent = RunningAgent(tmp_path / "state", test_pki, root_pem, _NoSource(), "log:", registry.url, registry.token, clock)
    with agent:
        wait_until(lambda: last_heartbeat(registry) != before, "a heartbeat stored")
    arrived = last_heartbeat(registry)
    assert arrived is not None
    return arrived


def last_heartbeat(registry: RegistryPeer) -> datetime | None:
    with Session(registry.engine) as session:
        return session.scalar(select(PumpHeartbeat.received_at))


def alarms(registry: RegistryPeer) -> list[tuple[str, datetime | None, datetime | None]]:
    with Session(registry.engine) as session:
        rows = session.scalars(select(StationAlarm).order_by(StationAlarm.id))
        return [(a.kind, a.silent_since, a.cleared_at) for a in rows]


def set_hours(registry: RegistryPeer, hours: str) -> None:
    def work(session: Session) -> None:
        station_by_code(session, STATION).opening_hours = hours

    registry.registry.transaction(work)


def test_an_agent_stopped_for_20_minutes_while_open_raises_the_silent_alarm(
    registry: RegistryPeer, tmp_path: Path, test_pki: TestPki, root_pem: Path, clock: Clock
) -> None:
    set_hours(registry, "06:00-22:00")
    sweeper = SilentSweeper(registry.registry)  # as `serve` runs it, on the registry's clock
    first = run_agent_once(registry, tmp_path, test_pki, root_pem, clock)
    assert first == clock.now
    clock.advance(minutes=20)  # the agent is stopped: nothing arrives
    assert [a.kind for a in sweeper.run_once()] == ["silent"]
    assert alarms(registry) == [("silent", first, None)]

    clock.advance(minutes=1)
    back = run_agent_once(registry, tmp_path, test_pki, root_pem, clock)  # the agent starts again
    assert alarms(registry) == [("silent", first, back)]

    set_hours(registry, "06:00-12:00")  # 16:21 in Shanghai: closed
    clock.advance(minutes=20)
    assert sweeper.run_once() == [] and alarms(registry) == [("silent", first, back)]
