"""Peers for the fault-injection suite, all real: one `cylinder-registry serve` process and one
nfcpy udp reader rig for the run (every test uses fresh vehicles and judges only its own events),
a relay module, a hostile proxy and a `station-agent run` process per test.

Records and trust list are made two days before the real now: the agent's clock may be stepped
back an hour without a record looking issued in the future.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tests.faults.processes import AgentProcess, Outbox, RegistryProcess
from tests.faults.proxy import HostileProxy
from tests.faults.relay import RelayModule
from tests.faults.station import FILL_TIMEOUT_S, Pump, write_config
from tests.peers import peer_unavailable
from tests.rigs import Rig, UdpRig
from tests.station_agent.registry_peer import RegistryPeer, database_url
from tests.testkit import TestPki

PARKING_UID = bytes.fromhex("04000000000003")


@pytest.fixture(scope="session")
def fault_pki() -> TestPki:
    return TestPki.create(datetime.now(UTC) - timedelta(days=2))


@pytest.fixture(scope="session")
def originality_key() -> bytes:
    """The private half of a test originality key (the agent is told not to refuse on it)."""
    return ntag.generate_test_key()[0]


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, fault_pki: TestPki) -> Iterator[RegistryProcess]:
    directory = tmp_path_factory.mktemp("registry")
    root = directory / "root.pem"
    root.write_bytes(fault_pki.root_certificate_pem)
    peer = RegistryPeer(database_url("sqlite", directory), fault_pki, lambda: datetime.now(UTC))
    process = RegistryProcess(peer, root, directory)
    try:
        process.start()
    except AssertionError as error:
        peer.dispose()
        peer_unavailable("cylinder-registry serve", str(error))
    yield process
    process.stop()
    peer.dispose()


@pytest.fixture(scope="session")
def udp_rig() -> Iterator[Rig]:
    try:
        import nfc  # noqa: F401

        rig = UdpRig().start(NtagEmulator.blank(PARKING_UID))
    except Exception as error:  # ImportError, PeerError, socket trouble: all "cannot start"
        peer_unavailable("nfcpy udp driver", f"{type(error).__name__}: {error}")
    rig.empty()
    yield rig
    rig.stop()


@pytest.fixture
def relay() -> Iterator[RelayModule]:
    module = RelayModule()
    try:
        module.come_back()
    except Exception as error:
        peer_unavailable("pymodbus TCP server", f"{type(error).__name__}: {error}")
    yield module
    module.stop()


@pytest.fixture
def proxy(registry: RegistryProcess) -> Iterator[HostileProxy]:
    """The hostile link, passing everything through until a test switches it."""
    link = HostileProxy(registry.peer.port).start()
    yield link
    link.stop()


MakePump = Callable[..., Pump]


@pytest.fixture
def make_pump(
    tmp_path: Path, fault_pki: TestPki, originality_key: bytes, registry: RegistryProcess, udp_rig: Rig, relay: RelayModule
) -> Iterator[MakePump]:
    """make_pump(registry_url=..., clock_file=..., state_dir=..., rig=..., start=True, **table overrides)."""
    made: list[Pump] = []

    def make(
        *,
        registry_url: str | None = None,
        clock_file: Path | None = None,
        state_dir: Path | None = None,
        rig: Rig | None = None,
        start: bool = True,
        **overrides: Any,
    ) -> Pump:
        rig = rig or udp_rig
        directory = tmp_path / f"pump{len(made)}"
        directory.mkdir()
        config = write_config(
            directory,
            fault_pki,
            reader_path=rig.reader_path,
            interlock_path=relay.path,
            registry_url=registry_url or registry.url,
            token=registry.token,
            state_dir=state_dir,
            **overrides,
        )
        state = state_dir or directory / "state"
        pump = Pump(
            AgentProcess(config, directory, clock_file),
            rig,
            relay,
            registry,
            fault_pki,
            originality_key,
            Outbox(state / "outbox.sqlite3"),
            fill_timeout_s=overrides.get("interlock", {}).get("fill_timeout_s", FILL_TIMEOUT_S),
        )
        made.append(pump)
        if start:
            pump.agent.start_ready()
        return pump

    yield make
    for pump in made:
        pump.agent.stop()
