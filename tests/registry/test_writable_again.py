"""A registry whose database could not be written answers 200 again as soon as it can, without a
restart.

The stuck case, as found: SQLite opens a database file it may not write *read-only*, silently, and
that connection stays read-only for its whole life. The pool kept it, so after the file was made
writable again (an operator's chmod/chown, a restore with the wrong owner) every upload still
failed "attempt to write a readonly database" (503) until the process was restarted. The
PostgreSQL counterpart: sessions opened while default_transaction_read_only was on (or on a standby)
stay read-only after it is turned off. Such connections are now dropped like lost ones.

The SQLite test drives the real `cylinder-registry serve` process. File permissions do not stop
root, so as root the server runs without CAP_DAC_OVERRIDE / CAP_FOWNER (setpriv), which makes
them apply to it like to any service account.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from registry_service import migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.db import make_engine, make_session_factory
from tests.peers import free_tcp_port, listening, peer_unavailable, wait_until
from tests.registry.helpers import post_json, station_with_token
from tests.registry.pg_cluster import create_database, drop_database, server_url

REGISTRY = Path(sys.executable).with_name("cylinder-registry")


def _events() -> dict[str, object]:
    return {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "occurred_at": datetime.now(UTC).isoformat(),
                "decision": "allow",
                "outcome": "allowed",
            }
        ]
    }


def _unprivileged(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        peer_unavailable("setpriv", "needed to run the registry without root's file-permission override")
    assert setpriv is not None
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--inh-caps", "-all", "--", *command]


@pytest.fixture
def served_sqlite(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A real `cylinder-registry serve` on a fresh SQLite file; yields (base URL, token, db file)."""
    database = tmp_path / "registry.sqlite3"
    url = f"sqlite:///{database}"
    engine = make_engine(RegistryConfig(database_url=url))
    migrate.upgrade(engine)
    token = station_with_token(make_session_factory(engine))
    engine.dispose()  # the server opens the file itself, after the test made it read-only
    database.chmod(0o444)
    port = free_tcp_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        _unprivileged([str(REGISTRY), "--database-url", url, "serve", "--port", str(port), "--threads", "2"]),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: server.poll() is not None or listening(port), "the registry to listen or exit", 30, every=0.1)
        if server.poll() is not None:
            pytest.fail(f"the registry exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}/api/v1", token, database
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_sqlite_file_made_writable_again_is_written_without_a_restart(served_sqlite: tuple[str, str, Path]) -> None:
    base, token, database = served_sqlite
    upload = f"{base}/stations/ST-1/scan-events"
    status, headers = post_json(upload, token, _events())
    assert status == 503 and headers["Content-Type"] == "application/problem+json", status
    assert headers["Retry-After"].isdigit()
    assert post_json(f"{base}/status", token, {"plate": "豫A00001"})[0] == 200  # reading still works
    assert post_json(upload, token, _events())[0] == 503, "the file is still read-only: still 503"
    for path in database.parent.glob(database.name + "*"):  # the operator's fix: the file, its -wal and -shm
        path.chmod(0o644)
    assert post_json(upload, token, _events())[0] == 200, "the first upload after the fix must succeed"
    assert post_json(upload, token, _events())[0] == 200


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_database("registry_readonly")
    yield url
    drop_database(url)


def _set_read_only(url: str, on: bool) -> None:
    name = make_url(url).database
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        connection.execute(text(f'ALTER DATABASE "{name}" {setting}'))
    admin.dispose()


def test_postgresql_read_only_sessions_are_replaced_when_writes_are_allowed_again(pg_url: str) -> None:
    app = create_app(RegistryConfig(database_url=pg_url, token_cache_s=0))
    registry = app.extensions["registry"]
    try:
        migrate.upgrade(registry.engine)
        token = station_with_token(registry.sessions)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        _set_read_only(pg_url, True)
        registry.engine.dispose()  # new sessions start read-only, as after a failover to a standby
        refused = client.post("/api/v1/stations/ST-1/scan-events", json=_events(), headers=headers)
        assert refused.status_code == 503, refused.get_data(as_text=True)
        assert refused.content_type == "application/problem+json" and refused.headers["Retry-After"].isdigit()
        _set_read_only(pg_url, False)
        accepted = client.post("/api/v1/stations/ST-1/scan-events", json=_events(), headers=headers)
        assert accepted.status_code == 200, accepted.get_data(as_text=True)
    finally:
        registry.engine.dispose()
