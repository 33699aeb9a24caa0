"""How tests that need a real peer (PostgreSQL, pcscd, the nfcpy udp emulator, a Modbus server,
Chromium) give up when the peer cannot start: outside CI they skip and print why; with CI=true
they fail, so a missing peer can never pass for a green run."""

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def peer_unavailable(peer: str, why: str) -> None:
    """Fail (CI) or skip (elsewhere) the current test because `peer` could not be reached."""
    message = f"{peer} unavailable: {why}"
    if in_ci():
        pytest.fail(message + " (CI=true: a missing peer fails the run)", pytrace=False)
    print(f"\nSKIP: {message}")
    pytest.skip(message)
