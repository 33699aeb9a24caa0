"""The HTTP client against the real registry (SQLite), and against a registry that never answers:
the budget turns silence into an offline decision instead of a stuck pump."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station_agent.errors import RegistryRejected, RegistryUnavailable
from station_agent.registry_client import HttpRegistryClient
from tag_tools.testkit import TestPki
from tests.station_agent.conftest import uid_for, vehicle_claims
from tests.station_agent.e2e import new_vehicle
from tests.station_agent.registry_peer import RegistryPeer, database_url


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, test_pki: TestPki, now: Any) -> Iterator[RegistryPeer]:
    peer = RegistryPeer(database_url("sqlite", tmp_path_factory.mktemp("registry")), test_pki, lambda: now)
    yield peer.start()
    peer.dispose()


def test_status_upload_trust_list_and_revocations(registry: RegistryPeer, test_pki: TestPki, now: Any) -> None:
    client = HttpRegistryClient(registry.url, registry.token)
    vehicle = new_vehicle(registry, test_pki)
    status = client.status(vehicle.plate, str(vehicle.cylinder_ids[0]), vehicle.uids[0].hex().upper(), 2.0)
    assert status["decision"] == "allow" and status["registered"] is True
    unknown = client.status(None, "156-4101-1", "04000000000009", 2.0)
    assert unknown["decision"] == "refuse" and unknown["reasons"] == ["unregistered"]

    event = {"event_id": str(uuid.uuid4()), "occurred_at": now.isoformat(), "pump": 1, "decision": "allow",
             "outcome": "allowed", "reasons": []}
    assert client.upload("ST-JS-01", [event])["accepted"] == 1
    assert client.upload("ST-JS-01", [event])["duplicates"] == 1
    with pytest.raises(RegistryRejected, match="HTTP 422"):
        client.upload("ST-JS-01", [{**event, "event_id": str(uuid.uuid4()), "reasons": ["Not A Code"]}])

    download = client.trust_list(None)
    assert download is not None and download.blob == test_pki.trust_list_bytes and download.etag
    assert client.trust_list(download.etag) is None  # 304: unchanged

    registry.revoke(str(vehicle.cylinder_ids[0]))
    page = client.revocations(0, 100)
    assert [r["cylinder_id"] for r in page["revocations"]][-1] == str(vehicle.cylinder_ids[0])


def test_bad_token_is_unavailable_not_rejected(registry: RegistryPeer) -> None:
    client = HttpRegistryClient(registry.url, "not-a-token")
    with pytest.raises(RegistryUnavailable, match="HTTP 401"):
        client.revocations(0, 10)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a registry stuck behind a dead link."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api/v1"
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    server.close()


def test_silent_registry_means_an_offline_decision(silent_server: str, make_station, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryUnavailable, match="Timeout"):
        HttpRegistryClient(silent_server, "t").status(None, "156-4101-1", "04000000000009", 0.2)
    station = make_station()
    station.agent.assessor.client = HttpRegistryClient(silent_server, "t")
    station.agent.assessor.budget_s = 0.2
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "allow" and not result.online and station.agent.pump.enabled
