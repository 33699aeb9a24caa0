"""`cylinder-registry` run for real, as a service manager would: a subprocess with umask 022, on a
free port, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.peers import free_tcp_port, wait_until

REPO = Path(__file__).parents[2]
SERVICE_UMASK = 0o022  # what many service managers leave: files 0644, folders 0755


@contextmanager
def serving(database_url: str, *extra: str, env: Mapping[str, str] | None = None, log: Path | None = None) -> Iterator[str]:
    """The registry serving `database_url` (already migrated); yields its base URL."""
    port = free_tcp_port()
    stderr = log.open("wb") if log else None
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "registry_service.cli",
            "--database-url",
            database_url,
            "serve",
            "--port",
            str(port),
            "--threads",
            "2",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr if stderr is not None else subprocess.DEVNULL,
        cwd=REPO,
        umask=SERVICE_UMASK,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the registry exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as response:
                assert json.load(response) == {"status": "ok"}
                return True
        except OSError:
            return False

    try:
        wait_until(healthy, "the registry to answer /api/v1/health", 30, every=0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if stderr is not None:
            stderr.close()
