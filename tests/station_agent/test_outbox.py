"""The outbox: durable, readable after reopening, and a full disk or a corrupt file is a clear
error that keeps the pump disabled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from station_agent.errors import OutboxCorruptError, OutboxFullError
from station_agent.outbox import Outbox
from tests.station_agent.conftest import uid_for, vehicle_claims

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_events_survive_reopen_and_are_marked_sent(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    for index in range(3):
        outbox.add(f"e{index}", {"registry": {"n": index}})
    outbox.mark_sent(["e0"], AT)
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite3")
    assert [p.event_id for p in reopened.unsent(10)] == ["e1", "e2"]
    assert reopened.counts().total == 3 and reopened.counts().unsent == 2
    assert reopened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reopened._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with pytest.raises(Exception):
        reopened.add("e1", {})  # an event id is stored once
    reopened.close()


def test_fill_times_persist(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.add_with_fills("e", {}, ["156-4101-1", "156-4101-2"], AT)
    outbox.close()
    assert Outbox(tmp_path / "o.sqlite3").last_fill("156-4101-2") == AT


def test_full_disk_is_a_typed_error(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(OutboxFullError, match="disk full"):
        for index in range(100):
            outbox.add(f"e{index}", {"padding": "x" * 2000})


def test_corrupt_database_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(OutboxCorruptError, match="corrupt"):
        Outbox(path)


def test_agent_keeps_pump_disabled_when_the_outbox_fails(make_station) -> None:  # type: ignore[no-untyped-def]
    station = make_station()
    db = station.agent.outbox._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(OutboxFullError):
        for index in range(100):  # use up the free space left in the last page
            station.agent.outbox.add(f"filler{index}", {"padding": "x" * 500})
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "allow"
    assert not station.agent.pump.enabled and True not in station.pump_commands()
    snapshot = station.agent.snapshot()
    assert snapshot["state"] == "fault" and snapshot["colour"] == "red" and "disk full" in snapshot["fault"]


def test_startup_with_corrupt_outbox_exits_1_and_drives_pump_off(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.station_agent.test_config import EXAMPLE

    config = tmp_path / "station.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('state_dir = "state"', f'state_dir = "{tmp_path / "state"}"')
    text = text.replace('"bureau-root.pem"', f'"{EXAMPLE.parent / "bureau-root.pem"}"')
    text = text.replace('token_file = "station.token"', 'token = "t"')
    text = text.replace("modbus-tcp://192.168.10.20:502/1/1?watchdog=100", "log:")
    config.write_text(text, encoding="utf-8")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "outbox.sqlite3").write_bytes(b"garbage" * 1000)
    done = subprocess.run([sys.executable, "-m", "station_agent.cli", "-v", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "corrupt" in done.stderr and "interlock log:: pump disabled" in done.stderr


def test_port_in_use_exits_1_with_the_pump_driven_off(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from tests.station_agent.test_config import EXAMPLE

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = tmp_path / "station.toml"
        text = EXAMPLE.read_text(encoding="utf-8")
        text = text.replace('state_dir = "state"', f'state_dir = "{tmp_path / "state"}"')
        text = text.replace('"bureau-root.pem"', f'"{EXAMPLE.parent / "bureau-root.pem"}"')
        text = text.replace('token_file = "station.token"', 'token = "t"').replace('path = "pcsc:ACR122"', 'path = "none:"')
        text = text.replace("modbus-tcp://192.168.10.20:502/1/1?watchdog=100", "log:")
        text = text.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"')
        config.write_text(text, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "station_agent.cli", "-v", "run", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "cannot serve the attendant page" in done.stderr and "interlock log:: pump disabled" in done.stderr


def test_journal_is_checkpointed_on_demand_not_inside_commits(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for index in range(50):
        outbox.add(f"e{index}", {"padding": "x" * 2000})
    log_pages, done = outbox.checkpoint()
    assert log_pages > 0 and done == log_pages
    outbox.close()
    assert len(Outbox(tmp_path / "o.sqlite3").unsent(100)) == 50
