"""Real peers in tests (PostgreSQL, pcscd, the nfcpy udp emulator, a Modbus server, Chromium, the
registry and agent as processes): where they listen and when they are ready, and how a test gives
up when one cannot start: outside CI it skips and prints why; with CI=true it fails, so a missing
peer can never pass for a green run."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def peer_unavailable(peer: str, why: str) -> NoReturn:
    """Fail (CI) or skip (elsewhere) the current test because `peer` could not be reached."""
    message = f"{peer} unavailable: {why}"
    if in_ci():
        pytest.fail(message + " (CI=true: a missing peer fails the run)", pytrace=False)
    print(f"\nSKIP: {message}")
    pytest.skip(message)


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to right now."""
    return _free_port(socket.SOCK_STREAM)


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    return _free_port(socket.SOCK_DGRAM)


def wait_until(condition: Callable[[], T | None], what: str, limit: float = 20.0, every: float = 0.02) -> T:
    """Poll until `condition()` is truthy and return that value; AssertionError naming `what` after
    `limit` seconds (generous defaults: two cores are shared with other test sessions)."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g} s waiting for: {what}")
        time.sleep(every)


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_listening(port: int, what: str, limit: float = 10.0) -> None:
    """Block until `what` accepts TCP connections on 127.0.0.1:`port` (AssertionError after `limit` s)."""
    wait_until(lambda: listening(port), f"{what} to listen on 127.0.0.1:{port}", limit, every=0.05)
