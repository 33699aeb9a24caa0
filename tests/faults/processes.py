"""The real processes the fault tests drive: `station-agent run` and `cylinder-registry serve`.

Each runs as a child process with stdout and stderr in files (one pair per start, kept for the
failure message), and can be waited for, asked for its state, killed with -9 and started again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry_service.models import Role
from registry_service.services import accounts
from tests.peers import wait_until
from tests.station_agent.booth_http import BoothClient
from tests.station_agent.registry_peer import STATION, RegistryPeer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PAGE = re.compile(r"attendant page (http://\S+?)/?$", re.MULTILINE)
START_S = 20.0  # generous: two cores shared with other test sessions


class Child:
    """One command, restartable; output of the n-th start in NAME-n.out / NAME-n.err."""

    def __init__(self, name: str, argv: list[str], directory: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.directory = name, argv, directory
        # PYTHONPATH: the tree these tests live in, whatever the virtualenv has installed.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Child:
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=err, cwd=ROOT, env=self.env, start_new_session=True)
        return self

    @property
    def out_path(self) -> Path:
        return self.directory / f"{self.name}-{self.starts}.out"

    @property
    def err_path(self) -> Path:
        return self.directory / f"{self.name}-{self.starts}.err"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace") if self.out_path.exists() else ""

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace") if self.err_path.exists() else ""

    def output(self, tail: int = 3000) -> str:
        """Both streams, for failure messages."""
        return f"--- {self.name} stdout ---\n{self.stdout()[-tail:]}\n--- {self.name} stderr ---\n{self.stderr()[-tail:]}"

    def wait_exit(self, limit: float) -> int | None:
        """The exit code, or None if still running after `limit` seconds."""
        if self.process is None:
            return None
        try:
            return self.process.wait(limit)
        except subprocess.TimeoutExpired:
            return None

    def kill9(self) -> None:
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        self.wait_exit(10)

    def stop(self, limit: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not end within `limit` s. The exit code of the TERM."""
        if not self.alive:
            return self.returncode
        os.kill(self.pid, signal.SIGTERM)
        code = self.wait_exit(limit)
        if code is None:
            self.kill9()
        return code


class AgentProcess(Child):
    """`station-agent run --config CONFIG` (or the injected-clock entry when `clock_file` is set)."""

    def __init__(self, config: Path, directory: Path, clock_file: Path | None = None, name: str = "agent") -> None:
        if clock_file is None:
            argv = [str(BIN / "station-agent"), "-v", "run", "--config", str(config)]
        else:
            argv = [
                sys.executable,
                "-m",
                "tests.faults.agent_with_clock",
                str(clock_file),
                "--",
                "-v",
                "run",
                "--config",
                str(config),
            ]
        super().__init__(name, argv, directory)
        self.config = config
        self.page_url = ""

    def start_ready(self) -> AgentProcess:
        """Start and wait for the attendant page (printed once the read loop is about to run)."""
        self.start()

        def page() -> re.Match[str] | None:
            found = PAGE.search(self.stdout())
            if found is None and not self.alive:
                raise AssertionError(f"{self.name} exited with {self.returncode} at start\n{self.output()}")
            return found

        self.page_url = wait_until(page, f"{self.name} to serve its page", START_S).group(1).rstrip("/")
        return self

    def restart(self) -> AgentProcess:
        self.kill9()
        return self.start_ready()

    def state(self) -> dict[str, Any]:
        """The attendant page's JSON (GET /api/state, with the cookie that comes with the page)."""
        return BoothClient(self.page_url + "/").state()

    def press(self, action: str) -> dict[str, Any]:
        """A button on the booth page: fill-done, new-vehicle (with the page's token)."""
        answer = BoothClient(self.page_url + "/").post(f"/api/{action}")
        assert answer.status == 200, answer
        return dict(answer.json())

    def lines(self) -> list[str]:
        """The terminal: one line per handled read (and the start banner)."""
        return self.stdout().splitlines()

    def wait_line(self, marker: str, after: int, limit: float = 20.0) -> str:
        """The first stdout line past line `after` that contains `marker`."""

        def found() -> str | None:
            if not self.alive:
                raise AssertionError(f"{self.name} died (exit {self.returncode})\n{self.output()}")
            return next((line for line in self.lines()[after:] if marker in line), None)

        return wait_until(found, f"a line with {marker!r} from {self.name}\n{self.output()}", limit)


class Outbox:
    """The agent's outbox file, read as an operator would (a second, read-only connection)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as connection:
            connection.row_factory = sqlite3.Row
            try:
                return [dict(row) for row in connection.execute("SELECT * FROM events ORDER BY seq")]
            except sqlite3.OperationalError:  # not created yet
                return []

    def event_ids(self) -> list[str]:
        return [str(row["event_id"]) for row in self.rows()]

    def unsent(self) -> list[str]:
        return [
            str(r["event_id"])
            for r in self.rows()
            if r.get("sent_at") is None and r.get("rejected") is None and r.get("quarantined") is None
        ]

    def rejected(self) -> list[dict[str, Any]]:
        return [r for r in self.rows() if r.get("rejected") is not None]


class RegistryProcess:
    """`cylinder-registry serve` on a database set up in-process (RegistryPeer: station, token,
    trust list), so tests can register vehicles and count events in the database directly."""

    def __init__(self, peer: RegistryPeer, root_pem: Path, directory: Path) -> None:
        self.peer = peer
        argv = [
            str(BIN / "cylinder-registry"),
            "--database-url",
            peer.database_url,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(peer.port),
            "--threads",
            "4",
            "--bureau-root",
            str(root_pem),
        ]
        self.child = Child("registry", argv, directory)
        self._bureau_token: str | None = None

    @property
    def url(self) -> str:
        return self.peer.url

    @property
    def token(self) -> str:
        return self.peer.token

    def start(self) -> RegistryProcess:
        self.child.start()

        def healthy() -> bool:
            if not self.child.alive:
                raise AssertionError(f"registry exited with {self.child.returncode}\n{self.child.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    return bool(answer.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        wait_until(healthy, "the registry to answer /health", START_S, every=0.05)
        return self

    def stop(self) -> None:
        self.child.stop()

    def event_ids(self) -> list[str]:
        return self.peer.event_ids()

    def station_faults(self) -> list[dict[str, Any]] | None:
        """The bureau's view of the station's fault reports (GET /bureau/station-faults), or None
        when this registry has no such endpoint."""
        if self._bureau_token is None:

            def issue(session: Any) -> str:
                now = datetime.now(UTC)
                accounts.create_user(
                    session,
                    "test",
                    now,
                    username="bureau-faults",
                    role=Role.BUREAU,
                    password=None,
                    station_code=None,
                    centre_code=None,
                )
                return str(accounts.issue_token(session, "test", now, username="bureau-faults").token)

            self._bureau_token = str(self.peer.registry.transaction(issue))
        request = urllib.request.Request(
            f"{self.url}/bureau/station-faults?station={STATION}", headers={"Authorization": f"Bearer {self._bureau_token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return list(json.load(answer)["faults"])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise
