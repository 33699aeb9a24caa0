"""A metered station for the metering and fill-lifecycle tests: an agent on fake clocks, no
registry client (its reports stay in the outbox to be read), and a dispenser played by pymodbus's
own server (tests/station_agent/modbus_peer.py DispenserPeer) whose totaliser the tests advance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station_agent.agent import Agent
from station_agent.config import parse_config
from station_agent.interlock import LogInterlock
from station_agent.outbox import Outbox
from station_agent.session import CylinderResult
from station_agent.tagsource import TagReading
from station_agent.totaliser import open_totaliser
from tests.peers import peer_unavailable
from tests.station_agent.conftest import build_agent, config_document
from tests.station_agent.fakes import Clock
from tests.station_agent.modbus_peer import DispenserPeer
from tests.testkit import TestPki

SCALE = 0.01  # the dispenser counts hundredths of a kilogram in a 32-bit counter (two registers)


@pytest.fixture(scope="module")
def dispenser() -> Iterator[DispenserPeer]:
    """pymodbus's TCP server as the dispenser's controller: uint32, big word order, holding 0."""
    try:
        peer = DispenserPeer(scale=SCALE)
        peer.start()
    except Exception as error:
        peer_unavailable("pymodbus TCP server", f"{type(error).__name__}: {error}")
    yield peer
    peer.stop()


def totaliser_table(port: int, **settings: Any) -> dict[str, Any]:
    return {"path": f"modbus-tcp://127.0.0.1:{port}/1", "address": 0, "scale": SCALE, "unit": "kg", **settings}


class MeteredStation:
    def __init__(self, agent: Agent, pki: TestPki, clock: Clock, interlock: LogInterlock) -> None:
        self.agent, self.pki, self.clock, self.interlock = agent, pki, clock, interlock
        self.stopped = False

    def read(self, uid: bytes, **claims: Any) -> CylinderResult:
        return self.agent.handle(TagReading(uid, self.pki.ndef_message(uid, **claims)))

    def events(self, code: str | None = None) -> list[dict[str, Any]]:
        """The station_event reports in the outbox, oldest first (optionally of one code)."""
        reports = self.agent.outbox.unsent_reports(500)
        return [r for r in reports if r["kind"] == "station_event" and (code is None or r["code"] == code)]

    def codes(self) -> list[str]:
        return [r["code"] for r in self.events()]

    def later(self, seconds: float) -> None:
        """Time passes (both clocks) and the agent's loop ticks once."""
        self.clock.advance(seconds=seconds)
        self.agent.tick()


MakeMetered = Callable[..., MeteredStation]


@pytest.fixture
def make_metered(tmp_path: Path, root_pem: Path, test_pki: TestPki, clock: Clock) -> Iterator[MakeMetered]:
    """Builds and starts a metered agent (agent.start(): pump off, agent_started); stops it after."""
    running: list[MeteredStation] = []

    def make(
        totaliser: dict[str, Any] | None, *, state: str = "state", config_sha256: str | None = "a" * 64, **policy: Any
    ) -> MeteredStation:
        document = config_document(tmp_path / state, root_pem, min_refill_interval_min=0, **policy)
        if totaliser is not None:
            document["totaliser"] = totaliser
        config = parse_config(document)
        outbox = Outbox(config.outbox_path, pump=config.pump, clock=clock)
        interlock = LogInterlock()
        agent = build_agent(
            config,
            outbox,
            interlock,
            test_pki,
            clock,
            echo=lambda line: None,
            meter=open_totaliser(config.totaliser) if config.totaliser is not None else None,
            config_sha256=config_sha256,
        )
        station = MeteredStation(agent, test_pki, clock, interlock)
        running.append(station)
        agent.start()
        return station

    yield make
    for station in running:
        stop(station)


def stop(station: MeteredStation) -> None:
    """Stop the agent (agent_stopped) and close its outbox; a second call does nothing."""
    if not station.stopped:
        station.stopped = True
        station.agent.stop()
        station.agent.outbox.close()
