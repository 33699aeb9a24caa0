"""kill -9 during a burst of 1,000 reads: after a restart every event reaches the registry exactly
once. The agent runs as `python -m station_agent.cli run` against a real registry (SQLite)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from station_agent.outbox import Outbox
from tests.peers import wait_until
from tests.station_agent.agent_process import start_agent, write_config
from tests.station_agent.e2e import new_vehicle
from tests.station_agent.registry_peer import RegistryPeer, database_url
from tests.testkit import TestPki

READS = 1000
KILL_AFTER = 300


def _events_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def test_kill_9_during_a_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    pki = TestPki.create(now)
    (tmp_path / "root.pem").write_bytes(pki.root_certificate_pem)
    (tmp_path / "trust-list.cose").write_bytes(pki.trust_list_bytes)
    registry = RegistryPeer(database_url("sqlite", tmp_path), pki, lambda: datetime.now(UTC)).start()
    try:
        vehicle = new_vehicle(registry, pki)
        message = vehicle.message(pki, 0).hex()
        lines = [
            json.dumps(
                {
                    "uid": vehicle.uids[0].hex(),
                    "ndef": message,
                    "read_counter": 100 + i,
                    "originality": "genuine",
                    "chip": "NTAG215",
                }
            )
            for i in range(READS)
        ]
        first = tmp_path / "burst.jsonl"
        first.write_text("\n".join(lines), encoding="utf-8")
        db = tmp_path / "state" / "outbox.sqlite3"

        agent = start_agent(write_config(tmp_path, tmp_path, first, registry), tmp_path / "first.log")
        try:
            wait_until(lambda: _events_in(db) >= KILL_AFTER or agent.poll() is not None, "the burst under way", 120)
            assert agent.poll() is None, (tmp_path / "first.log").read_text()
            os.kill(agent.pid, signal.SIGKILL)
        finally:
            agent.wait(30)
        committed = _events_in(db)
        assert KILL_AFTER <= committed < READS, "kill -9 must land during the burst"

        # The reads the agent never got to are read again after the restart (the attendant re-taps).
        rest = tmp_path / "rest.jsonl"
        rest.write_text("\n".join(lines[committed:]), encoding="utf-8")
        agent = start_agent(write_config(tmp_path, tmp_path, rest, registry), tmp_path / "second.log")
        try:
            wait_until(lambda: _events_in(db) == READS and registry.event_count() >= READS, "every event delivered", 180)
            time.sleep(0.5)  # a late duplicate upload, if any, would land now
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(30) == 0, (tmp_path / "second.log").read_text()
        finally:
            if agent.poll() is None:
                agent.kill()
        outbox = Outbox(db)
        try:
            ids = outbox.event_ids()
            assert outbox.counts().unsent == 0 and outbox.counts().rejected == 0
        finally:
            outbox.close()
        registered = registry.event_ids()
        assert len(ids) == len(set(ids)) == READS
        assert sorted(registered) == sorted(ids)  # every event once, nothing else
    finally:
        registry.dispose()
