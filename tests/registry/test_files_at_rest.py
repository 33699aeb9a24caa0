"""Files at rest on the registry: `cylinder-registry upgrade` then `serve`, with the umask at 022,
leave the SQLite database and its -wal / -shm files 0600 (the database holds password and token
hashes); an existing database or folder open to other users is reported when the engine is made,
not silently changed."""

from __future__ import annotations

import logging
import os
import stat
import urllib.request
from pathlib import Path

import pytest

from registry_service import cli
from registry_service.config import RegistryConfig
from registry_service.db import make_engine
from tests.registry.served import SERVICE_UMASK, serving


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_journals_are_private_after_a_real_start(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir(mode=0o700)
    db = folder / "registry.sqlite3"
    url = f"sqlite:///{db}"
    previous = os.umask(SERVICE_UMASK)
    try:
        assert cli.main(["--database-url", url, "upgrade"]) == 0
        assert os.umask(SERVICE_UMASK) == SERVICE_UMASK, "main() gives the umask back (tests call it in-process)"
    finally:
        os.umask(previous)
    assert _mode(db) == 0o600
    log = tmp_path / "serve.log"
    with serving(url, log=log) as base:
        with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as response:
            assert response.status == 200
        files = list(folder.iterdir())
        assert {p.name for p in files} >= {"registry.sqlite3", "registry.sqlite3-wal", "registry.sqlite3-shm"}
        assert all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}
    assert "open to other users" not in log.read_text()


def test_an_open_database_and_folder_are_reported_not_changed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    db = folder / "registry.sqlite3"
    db.touch()
    db.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        make_engine(RegistryConfig(database_url=f"sqlite:///{db}")).dispose()
    assert f"{folder} is open to other users" in caplog.text and f"chmod 700 {folder}" in caplog.text, caplog.text
    assert f"{db} is open to other users" in caplog.text and f"chmod 600 {db}" in caplog.text, caplog.text
    assert _mode(db) == 0o644 and _mode(folder) == 0o755
