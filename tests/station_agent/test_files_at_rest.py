"""Files at rest on the station: after a real `station-agent run` started with a permissive umask
(022, as many service managers leave it), the state folder is 0700 and the outbox database and its
journal files 0600; a station configuration open to other users (it holds the supervisors'
password hashes and the registry token) is reported with a warning at every start (docs/station.md
says why a warning rather than a refusal), and a private one is not."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.station_agent.conftest import supervisor_hash

REPO = Path(__file__).parents[2]


def _config(tmp_path: Path, root: Path, state_dir: Path, mode: int) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(
        f'''[station]
code = "ST-JS-01"
pump = 1
state_dir = "{state_dir}"
attendant = "A-007"
[reader]
path = "none:"
[interlock]
path = "log:"
[trust]
root_certificate = "{root}"
[registry]
url = "http://127.0.0.1:9/"
token = "cgr_not-a-real-token"
[policy]
timezone = "UTC"
[attendant]
listen = "127.0.0.1:0"
[[supervisors]]
id = "S-01"
name = "Wang"
password_hash = "{supervisor_hash()}"
''',
        encoding="utf-8",
    )
    path.chmod(mode)
    return path


def _run_until_started(config: Path, log: Path) -> str:
    """Start the agent as systemd would (umask 022), wait for its start line, stop it; its stderr."""
    with log.open("wb") as err:
        agent = subprocess.Popen(
            [sys.executable, "-m", "station_agent.cli", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
            umask=0o022,
        )
        try:
            assert agent.stdout is not None
            line = agent.stdout.readline().decode()
            assert "station-agent: station ST-JS-01" in line, (line, log.read_text())
            time.sleep(0.2)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
    return log.read_text()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_folder_and_outbox_are_private_and_an_open_config_is_reported(tmp_path: Path, root_pem: Path) -> None:
    state = tmp_path / "var" / "state"
    config = _config(tmp_path, root_pem, state, 0o644)
    errors = _run_until_started(config, tmp_path / "agent.log")
    assert _mode(state) == 0o700
    outbox = state / "outbox.sqlite3"
    assert _mode(outbox) == 0o600
    everything = list(state.rglob("*"))  # the outbox and its -wal / -shm journal files
    assert outbox in everything and all(_mode(p) == 0o600 for p in everything), {p.name: oct(_mode(p)) for p in everything}
    assert f"{config} is open to other users" in errors and f"chmod 600 {config}" in errors, errors
    assert f"{state} is open" not in errors


def test_an_existing_open_state_folder_is_reported_not_changed(tmp_path: Path, root_pem: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    config = _config(tmp_path, root_pem, state, 0o600)
    errors = _run_until_started(config, tmp_path / "agent.log")
    assert f"{state} is open to other users" in errors, errors
    assert f"{config} is open" not in errors, errors  # a private configuration is not reported
    assert _mode(state) == 0o755  # the operator's folder: reported, not changed behind their back
    assert _mode(state / "outbox.sqlite3") == 0o600  # the agent's own new file: private all the same
    assert os.stat(state).st_uid == os.getuid()
