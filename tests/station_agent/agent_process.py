"""The station agent as its own process (`python -m station_agent.cli run`) against a test registry:
the config file it reads and the way it is started, shared by the tests that kill it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.station_agent.registry_peer import RegistryPeer


def write_config(tmp: Path, pki_dir: Path, reads: Path, registry: RegistryPeer, extra: str = "") -> Path:
    """A config that reads tags from `reads` (one file per phase: each start sees another config) and
    reports to `registry`; `extra` is TOML appended as is (e.g. a [totaliser] table)."""
    path = tmp / f"{reads.stem}.toml"
    path.write_text(
        f'''
[station]
code = "ST-JS-01"
pump = 1
state_dir = "{tmp / "state"}"
[reader]
path = "file:{reads}"
[interlock]
path = "log:"
[trust]
root_certificate = "{pki_dir / "root.pem"}"
initial_trust_list = "{pki_dir / "trust-list.cose"}"
[registry]
url = "{registry.url}"
token = "{registry.token}"
budget_ms = 1000
sync_interval_s = 0.2
max_backoff_s = 0.5
upload_debounce_s = 0.1
[policy]
min_refill_interval_min = 0
timezone = "UTC"
[attendant]
listen = "127.0.0.1:0"
'''
        + extra,
        encoding="utf-8",
    )
    return path


def start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """The agent started from the repository root, its stderr kept in `log` for failure messages."""
    return subprocess.Popen(
        [sys.executable, "-m", "station_agent.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        cwd=Path(__file__).parents[2],
    )
