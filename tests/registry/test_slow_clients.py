"""The registry under clients that send too much or too slowly, through the real `serve` (waitress):
a body over the app's own limit (REGISTRY_MAX_BODY_BYTES) is refused with 413 whether it is
announced by Content-Length or sent chunked, on the Flask routes and on the status fast path alike;
a client that stalls half-way through its headers is disconnected after --channel-timeout; and
the server answers normally afterwards."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from registry_service import cli
from tests.registry.served import serving

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('slow') / 'registry.sqlite3'}"
    assert cli.main(["--database-url", url, "upgrade"]) == 0
    with serving(url, "--channel-timeout", "1", env={"REGISTRY_MAX_BODY_BYTES": str(LIMIT)}) as served:
        yield served


def _exchange(base: str, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes, return what the server answers before it closes (or the timeout)."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as connection:
        try:
            connection.sendall(request)
        except OSError:  # the server may close while a refused body is still being sent
            pass
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        except OSError:
            pass
    return answer


def _post(path: str, length: int, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + body


def _healthy(base: str) -> None:
    with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as response:
        assert response.status == 200


@pytest.mark.parametrize("path", ["/api/v1/auth/tokens", "/api/v1/status"])
def test_a_body_over_the_limit_is_refused_with_413(base: str, path: str) -> None:
    answer = _exchange(base, _post(path, LIMIT + 1, b"{" + b" " * LIMIT))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    chunk = b" " * 8192
    chunked = (
        f"POST {path} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunked += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk) + 2)) + b"0\r\n\r\n"
    answer = _exchange(base, chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # Just under the limit is the app's business again (a 4xx about the content, not the size).
    answer = _exchange(base, _post(path, LIMIT, b"{" + b" " * (LIMIT - 1)))
    assert answer.startswith(b"HTTP/1.1 4") and not answer.startswith(b"HTTP/1.1 413"), answer[:200]
    _healthy(base)


def test_a_client_stalling_in_its_headers_is_disconnected(base: str) -> None:
    parts = urlsplit(base)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: registry\r\nX-Slow: ")
        assert connection.recv(1024) == b""  # closed by the server, not by our 10 s timeout
    assert time.monotonic() - started < 8
    _healthy(base)


def test_the_app_refuses_an_oversized_body_without_waitress_too(tmp_path: Path) -> None:
    """The same limit inside the app (MAX_CONTENT_LENGTH), for a server other than `serve`."""
    from registry_service.app import create_app
    from registry_service.config import RegistryConfig

    app = create_app(RegistryConfig(database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}", max_body_bytes=LIMIT))
    response = app.test_client().post("/api/v1/auth/tokens", data=b"{" + b" " * LIMIT, content_type="application/json")
    assert response.status_code == 413 and response.content_type == "application/problem+json"
