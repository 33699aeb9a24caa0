"""Scratch PostgreSQL for the tests and the benchmarks, in one place.

- `create_database` / `drop_database` / `scratch_database`: a database with a unique name on the
  shared server (127.0.0.1:5432, or the URL in REGISTRY_TEST_PG_URL; the benchmarks read
  REGISTRY_BENCH_PG_URL), dropped afterwards.
- `ThrowawayCluster`: a cluster of its own in a temporary folder, on a free port, that a test can
  stop and start (the shared server on 5432 must never be restarted by a test).

When PostgreSQL cannot be reached the caller gets `peer_unavailable`: a skip with the reason, or a
failure under CI=true (tests/peers.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.peers import free_tcp_port, peer_unavailable

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SHARED_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def server_url(variable: str = "REGISTRY_TEST_PG_URL") -> str:
    """The shared server's admin URL: the environment `variable`, else 127.0.0.1:5432."""
    return os.environ.get(variable, SHARED_SERVER_URL)


def create_database(prefix: str = "registry_test", server: str | None = None) -> str:
    """Create an empty database with a unique name on `server` (default server_url()); returns its URL."""
    server = server or server_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        peer_unavailable("PostgreSQL", f"{server}: {exc.orig}")
    finally:
        admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, server: str | None = None) -> None:
    """Drop the database `url` names (connections and all); a SQLite URL is left alone."""
    if not url.startswith("postgresql"):
        return
    admin = create_engine(server or server_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def scratch_database(prefix: str = "registry_test", *, keep: bool = False, server: str | None = None) -> Iterator[str]:
    """create_database for a `with` block, dropped at its end unless `keep`."""
    url = create_database(prefix, server)
    try:
        yield url
    finally:
        if not keep:
            drop_database(url, server)


class ThrowawayCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_tcp_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def init(self) -> ThrowawayCluster:
        if not (PG_BIN / "initdb").exists():
            peer_unavailable("PostgreSQL binaries", f"{PG_BIN}/initdb not found")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)
        done = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        if done.returncode != 0:
            peer_unavailable("throw-away PostgreSQL", done.stderr.strip()[-500:])
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        done = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            peer_unavailable("throw-away PostgreSQL", done.stderr.strip()[-500:] or done.stdout[-500:])

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
