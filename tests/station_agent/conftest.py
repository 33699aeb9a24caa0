"""Fixtures for the station agent: a config on disk, an agent wired to fakes, and signed tags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from station_agent.agent import Agent
from station_agent.config import StationConfig, parse_config
from station_agent.interlock import Interlock, LogInterlock
from station_agent.outbox import Outbox
from station_agent.passwords import hash_password
from station_agent.session import CylinderResult, SessionState, VehicleSession
from station_agent.sync import SyncWorker, TrustCache
from station_agent.tagsource import TagReading
from tag_tools.claims import CylinderId
from tests.peers import peer_unavailable
from tests.station_agent.fakes import Clock, FakeRegistry
from tests.station_agent.modbus_peer import ModbusPeer
from tests.testkit import TestPki

SUPERVISOR_PASSWORD = "correct horse battery"
_HASH: list[str] = []


def supervisor_hash() -> str:
    if not _HASH:  # Argon2id at the real cost is slow on purpose: hash once per run
        _HASH.append(hash_password(SUPERVISOR_PASSWORD))
    return _HASH[0]


def config_document(state_dir: Path, root: Path, **policy: Any) -> dict[str, Any]:
    return {
        "station": {"code": "ST-JS-01", "pump": 1, "state_dir": str(state_dir), "attendant": "A-007"},
        "reader": {"path": "none:"},
        "interlock": {"path": "log:", "heartbeat_s": 0.05},
        "trust": {"root_certificate": str(root)},
        "policy": {"timezone": "UTC", **policy},
        "attendant": {"listen": "127.0.0.1:0"},
        "supervisors": [{"id": "S-01", "name": "Wang", "password_hash": supervisor_hash()}],
    }


@pytest.fixture(scope="session")
def modbus() -> Iterator[ModbusPeer]:
    """pymodbus's own TCP server: the relay module the Modbus interlock drives."""
    try:
        peer = ModbusPeer().start()
    except Exception as error:
        peer_unavailable("pymodbus TCP server", f"{type(error).__name__}: {error}")
    yield peer
    peer.stop()


@pytest.fixture
def root_pem(tmp_path: Path, test_pki: TestPki) -> Path:
    path = tmp_path / "root.pem"
    path.write_bytes(test_pki.root_certificate_pem)
    return path


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


class Station:
    """An agent on fakes, plus helpers to make the reads a reader would produce."""

    def __init__(self, agent: Agent, pki: TestPki, clock: Clock, registry: FakeRegistry, interlock: LogInterlock) -> None:
        self.agent, self.pki, self.clock, self.registry, self.interlock = agent, pki, clock, registry, interlock
        self.lines: list[str] = []

    def read(self, uid: bytes, **claims: Any) -> CylinderResult:
        return self.agent.handle(TagReading(uid, self.pki.ndef_message(uid, **claims)))

    def session_state(self) -> SessionState:
        """The vehicle session's state, read afresh on each call (an attribute read would stay narrowed
        by an earlier `is` assert, as far as mypy knows)."""
        return session_of(self.agent).state

    @property
    def sync(self) -> SyncWorker:
        return sync_of(self.agent)

    def snapshot(self) -> dict[str, Any]:
        """The agent's snapshot as the booth page reads it: JSON values."""
        return self.agent.snapshot()

    def pump_commands(self) -> list[bool]:
        return [c.enabled for c in self.interlock.commands]

    def pump_changes(self) -> list[bool]:
        """The commands with repeats folded: a heartbeat may re-send the state it already holds
        (at any moment under load), which is not a change of what the pump does."""
        commands = self.pump_commands()
        return [enabled for i, enabled in enumerate(commands) if i == 0 or enabled != commands[i - 1]]


def session_of(agent: Agent) -> VehicleSession:
    """The agent's vehicle session, which a test reads once a read has opened one."""
    assert agent.session is not None, "no vehicle session yet"
    return agent.session


def sync_of(agent: Agent) -> SyncWorker:
    """The agent's sync worker, which every agent the tests build has."""
    assert agent.sync is not None, "the agent has no sync worker"
    return agent.sync


def vehicle_claims(index: int, count: int = 1, plate: str = "豫A8M2K7", **claims: Any) -> dict[str, Any]:
    return {"cylinder_id": CylinderId(156, 4101, 19012345 + index), "plate": plate, "vehicle_cylinders": count, **claims}


def uid_for(index: int) -> bytes:
    return bytes.fromhex("04A2C4D2E15A") + bytes([0x80 + index])


OVERDUE: dict[str, Any] = {"next_due": date(2026, 11, 1)}  # Any: spread into vehicle_claims(**claims)


@pytest.fixture
def make_station(tmp_path: Path, root_pem: Path, test_pki: TestPki, clock: Clock) -> Iterator[Callable[..., Station]]:
    made: list[Station] = []

    def make(online: bool = True, **policy: Any) -> Station:
        config: StationConfig = parse_config(config_document(tmp_path / f"state{len(made)}", root_pem, **policy))
        outbox = Outbox(config.outbox_path)
        registry = FakeRegistry(down=not online)
        interlock = LogInterlock()
        agent = build_agent(config, outbox, interlock, test_pki, clock, client=registry)
        agent.assessor.riders = None  # events stay in the outbox for the tests to inspect (test_riders.py rides)
        station = Station(agent, test_pki, clock, registry, interlock)
        agent.echo = station.lines.append
        agent.pump.start()
        made.append(station)
        return station

    yield make
    for station in made:
        station.agent.pump.stop()
        station.agent.outbox.close()


def build_agent(
    config: StationConfig, outbox: Outbox, interlock: Interlock, test_pki: TestPki, clock: Clock, **extra: Any
) -> Agent:
    """An agent that reads no tags by itself (the tests hand it reads), on the test PKI's trust list
    and the test clock; `extra` are Agent's other arguments (client, meter...)."""
    cache = TrustCache(
        outbox, test_pki.root_certificate, config.policy.trust_list_max_age, test_pki.trust_list_bytes, clock=clock
    )
    return Agent(
        config,
        source=_NoSource(),
        interlock=interlock,
        outbox=outbox,
        cache=cache,
        clock=clock,
        monotonic=clock.monotonic,
        **extra,
    )


class _NoSource:
    def next_read(self, timeout: float, cancel: object = None) -> None:
        return None

    def close(self) -> None:
        pass
