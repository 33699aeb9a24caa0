"""`cylinder-registry` run for real, as a service manager would: a subprocess with umask 022, on a
free port, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.registry.pg_cluster import free_port

REPO = Path(__file__).parents[2]
SERVICE_UMASK = 0o022  # what many service managers leave: files 0644, folders 0755


@contextmanager
def serving(database_url: str, *extra: str, env: Mapping[str, str] | None = None, log: Path | None = None) -> Iterator[str]:
    """The registry serving `database_url` (already migrated); yields its base URL."""
    port = free_port()
    stderr = log.open("wb") if log else subprocess.DEVNULL
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
        stderr=stderr,
        cwd=REPO,
        umask=SERVICE_UMASK,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as response:
                    assert json.load(response) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if log:
            stderr.close()  # type: ignore[union-attr]
