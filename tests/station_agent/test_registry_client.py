"""The HTTP client against the real registry (SQLite), and against a registry that never answers:
the budget turns silence into an offline decision instead of a stuck pump."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from station_agent.errors import RegistryRejected, RegistryUnavailable
from station_agent.registry_client import HttpRegistryClient
from tests.station_agent.conftest import Station, uid_for, vehicle_claims
from tests.station_agent.e2e import new_vehicle
from tests.station_agent.registry_peer import RegistryPeer, database_url
from tests.testkit import TestPki


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, test_pki: TestPki, now: datetime) -> Iterator[RegistryPeer]:
    peer = RegistryPeer(database_url("sqlite", tmp_path_factory.mktemp("registry")), test_pki, lambda: now)
    yield peer.start()
    peer.dispose()


def test_status_upload_trust_list_and_revocations(registry: RegistryPeer, test_pki: TestPki, now: datetime) -> None:
    client = HttpRegistryClient(registry.url, registry.token)
    vehicle = new_vehicle(registry, test_pki)
    status = client.status(vehicle.plate, str(vehicle.cylinder_ids[0]), vehicle.uids[0].hex().upper(), 2.0)
    assert status["decision"] == "allow" and status["registered"] is True
    unknown = client.status(None, "156-4101-1", "04000000000009", 2.0)
    assert unknown["decision"] == "refuse" and unknown["reasons"] == ["unregistered"]

    event = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": now.isoformat(),
        "pump": 1,
        "decision": "allow",
        "outcome": "allowed",
        "reasons": [],
    }
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


def test_silent_registry_means_an_offline_decision(
    silent_server: str, make_station: Callable[..., Station], tmp_path: Path
) -> None:
    with pytest.raises(RegistryUnavailable, match="no complete answer within 200 ms"):
        HttpRegistryClient(silent_server, "t").status(None, "156-4101-1", "04000000000009", 0.2)
    station = make_station()
    station.agent.assessor.client = HttpRegistryClient(silent_server, "t")
    station.agent.assessor.budget_s = 0.2
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "allow" and not result.online and station.agent.pump.enabled


class CannedServer:
    """Answers every request with the same raw bytes, optionally one byte per `trickle_s`, or
    resets the connection: the shapes a broken network or a misrouted proxy gives."""

    def __init__(self, raw: bytes = b"", *, trickle_s: float = 0.0, reset: bool = False) -> None:
        self.raw, self.trickle_s, self.reset = raw, trickle_s, reset
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/api/v1"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                if self.reset:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return
                if not self.trickle_s:
                    connection.sendall(self.raw)
                    return
                for byte in self.raw:
                    if self.stop.is_set():
                        return
                    connection.sendall(bytes([byte]))
                    time.sleep(self.trickle_s)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.server.close()


def _http(status: str, content_type: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


NGINX_404 = _http("404 Not Found", "text/html", b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>")
PROBLEM_422 = _http(
    "422 Unprocessable Entity",
    "application/problem+json",
    json.dumps({"type": "about:blank", "title": "Invalid input", "status": 422, "detail": "bad"}).encode(),
)


@pytest.mark.parametrize(
    "raw, what",
    [
        (_http("200 OK", "text/html", b"<html>captive portal</html>"), "not a JSON object"),
        (_http("200 OK", "application/json", b"[1, 2]"), "not a JSON object"),
        (NGINX_404, r"without a problem\+json body"),
        (_http("404 Not Found", "application/problem+json", b"{not json"), r"without a problem\+json body"),
        (_http("503 Service Unavailable", "application/problem+json", b"{}"), "HTTP 503"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "BadStatusLine"),
    ],
)
def test_answers_that_are_not_the_registrys_are_network_faults(raw: bytes, what: str) -> None:
    server = CannedServer(raw)
    try:
        client = HttpRegistryClient(server.url, "t")
        with pytest.raises(RegistryUnavailable, match=what):
            client.upload("ST-JS-01", [{"event_id": str(uuid.uuid4())}])
        with pytest.raises(RegistryUnavailable):
            client.status(None, "156-4101-1", "04000000000009", 1.0)
    finally:
        server.close()


def test_only_a_problem_json_refusal_rejects() -> None:
    server = CannedServer(PROBLEM_422)
    try:
        with pytest.raises(RegistryRejected, match="HTTP 422 Invalid input: bad"):
            HttpRegistryClient(server.url, "t").upload("ST-JS-01", [{"event_id": str(uuid.uuid4())}])
    finally:
        server.close()


def test_retry_after_is_carried() -> None:
    raw = _http("503 Service Unavailable", "application/problem+json", b"{}").replace(
        b"Connection", b"Retry-After: 7\r\nConnection"
    )
    server = CannedServer(raw)
    try:
        with pytest.raises(RegistryUnavailable) as caught:
            HttpRegistryClient(server.url, "t").upload("ST-JS-01", [])
        assert caught.value.retry_after_s == 7.0
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["trickle_headers", "trickle_body"])
def test_the_budget_bounds_the_whole_request(kind: str) -> None:
    """One byte every 20 ms never trips a per-socket timeout; the deadline covers the whole exchange."""
    body = json.dumps({"cylinders": [{"decision": "allow", "reasons": []}]}).encode()
    raw = _http("200 OK", "application/json", body + b" " * 400)
    server = CannedServer(raw, trickle_s=0.02) if kind == "trickle_headers" else CannedServer(raw, trickle_s=0.0)
    if kind == "trickle_body":  # headers at once, then the body byte by byte
        server.raw = raw
        server.trickle_s = 0.02
    try:
        client = HttpRegistryClient(server.url, "t")
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match="no complete answer within 300 ms"):
            client.status(None, "156-4101-1", "04000000000009", 0.3)
        assert time.monotonic() - started < 1.0  # generous: the deadline, not the 9 s the trickle would take
    finally:
        server.close()


def test_a_reset_connection_is_a_network_fault() -> None:
    server = CannedServer(reset=True)
    try:
        with pytest.raises(RegistryUnavailable):
            HttpRegistryClient(server.url, "t").status(None, "156-4101-1", "04000000000009", 1.0)
    finally:
        server.close()
