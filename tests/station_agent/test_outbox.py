"""The outbox: durable, readable after reopening, and a full disk or a corrupt file is a clear
error that keeps the pump disabled. Schema versions and migrations, quarantine of damaged rows,
fault reports, retention, and recovery from a full disk without reopening."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from station_agent.errors import OutboxCorruptError, OutboxError, OutboxFullError
from station_agent.fault_report import fault_report, parse_fault_report
from station_agent.outbox import SCHEMA_VERSION, Outbox
from tests.peers import peer_unavailable
from tests.station_agent.conftest import Station, uid_for, vehicle_claims

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


def test_agent_keeps_pump_disabled_when_the_outbox_fails(make_station: Callable[..., Station]) -> None:
    station = make_station()
    db = station.agent.outbox._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(OutboxFullError):
        for index in range(100):  # use up the free space left in the last page
            station.agent.outbox.add(f"filler{index}", {"padding": "x" * 500})
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.decision == "allow"
    assert not station.agent.pump.enabled and True not in station.pump_commands()
    snapshot = station.snapshot()
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
    done = subprocess.run(
        [sys.executable, "-m", "station_agent.cli", "-v", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
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
        done = subprocess.run(
            [sys.executable, "-m", "station_agent.cli", "-v", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert "cannot serve the attendant page" in done.stderr and "interlock log:: pump disabled" in done.stderr


def test_journal_is_checkpointed_on_demand_not_inside_commits(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for index in range(50):
        outbox.add(f"e{index}", {"registry": {}, "padding": "x" * 2000})
    log_pages, done = outbox.checkpoint()
    assert log_pages > 0 and done == log_pages
    outbox.close()
    assert len(Outbox(tmp_path / "o.sqlite3").unsent(100)) == 50


# The schema exactly as shipped before versioning (user_version 0), to migrate real field files.
LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent_at TEXT,
    rejected TEXT
);
CREATE INDEX IF NOT EXISTS events_unsent ON events (seq) WHERE sent_at IS NULL AND rejected IS NULL;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS fills (cylinder_id TEXT PRIMARY KEY, filled_at TEXT NOT NULL);
"""
IDS = [str(uuid.UUID(int=index, version=4)) for index in range(1, 20)]


def _event(index: int) -> dict[str, object]:
    return {"registry": {"event_id": IDS[index], "n": index}}


def _legacy_file(path: Path) -> None:
    """A file as the previous agent left it: unsent, sent and rejected events, state and fills."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(LEGACY_SCHEMA)
    rows = [
        (IDS[0], json.dumps(_event(0)), None, None),
        (IDS[1], json.dumps(_event(1)), AT.isoformat(), None),
        (IDS[2], json.dumps(_event(2)), None, "registry 422: unknown tag"),
        (IDS[3], json.dumps(_event(3)), None, None),
    ]
    db.executemany("INSERT INTO events (event_id, body, sent_at, rejected) VALUES (?, ?, ?, ?)", rows)
    db.execute("INSERT INTO state VALUES ('trust', x'0102')")
    db.execute("INSERT INTO fills VALUES ('156-4101-1', ?)", (AT.isoformat(),))
    db.close()


def _clock(at: datetime = AT) -> Callable[[], datetime]:
    return lambda: at


def test_legacy_file_migrates_in_place_keeping_every_state(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    _legacy_file(path)
    later = AT + timedelta(hours=1)
    outbox = Outbox(path, pump=3, clock=_clock(later))
    assert outbox._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    assert [p.event_id for p in outbox.unsent(10)] == [IDS[0], IDS[3]]
    assert outbox.counts() == type(outbox.counts())(total=4, unsent=2, rejected=1, quarantined=0, reports_unsent=1)
    assert outbox.get_state("trust") == b"\x01\x02" and outbox.last_fill("156-4101-1") == AT
    # the event rejected before reports existed is reported now, dated by the migration
    (report,) = outbox.unsent_reports(10)
    assert report["kind"] == "rejected_event" and report["subject_id"] == IDS[2] and report["pump"] == 3
    assert report["occurred_at"] == later.isoformat() and "unknown tag" in report["detail"]
    raw = json.dumps(_event(2)).encode()
    assert report["payload_sha256"] == hashlib.sha256(raw).hexdigest() and base64.b64decode(report["payload_b64"]) == raw
    (problem,) = outbox.problems()
    assert (problem.event_id, problem.kind, problem.at, problem.reported) == (IDS[2], "rejected", later, False)
    outbox.close()
    again = Outbox(path, pump=3)  # reopening migrates nothing and reports nothing twice
    assert again.counts().reports_unsent == 1 and again.counts().total == 4
    again.close()


def test_failed_migration_leaves_the_old_version_untouched(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    _legacy_file(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE reports (x)")  # the migration's CREATE TABLE fails half way through
    db.close()
    with pytest.raises(OutboxError, match="reports already exists"):
        Outbox(path)
    db = sqlite3.connect(path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(events)")]
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert columns == ["seq", "event_id", "body", "sent_at", "rejected"]  # ALTERs rolled back too
    db.close()


def test_a_newer_schema_is_refused_without_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(LEGACY_SCHEMA + "PRAGMA user_version = 7;")
    db.close()
    before = path.read_bytes()
    with pytest.raises(OutboxError, match="schema version 7, newer than this agent's 1"):
        Outbox(path)
    assert path.read_bytes() == before and not (tmp_path / "o.sqlite3-wal").exists()


def _damage(outbox: Outbox, event_id: str, body_sql: str) -> None:
    outbox._db.execute(f"INSERT INTO events (event_id, body) VALUES (?, {body_sql})", (event_id,))


def test_damaged_rows_are_quarantined_and_reported_and_the_rest_flow(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", pump=2, clock=_clock())
    outbox.add(IDS[0], _event(0))
    _damage(outbox, IDS[1], "'{\"registry\": {'")  # cut short
    _damage(outbox, IDS[2], "'[1, 2]'")
    _damage(outbox, IDS[3], "'{\"other\": 1}'")
    _damage(outbox, IDS[4], "CAST(x'7b22ff' AS TEXT)")  # not UTF-8: sqlite3 itself cannot read it as text
    outbox._db.execute("INSERT INTO events (event_id, body) VALUES (CAST(x'ff01' AS TEXT), '{\"registry\": {}}')")
    outbox.add(IDS[5], _event(5))
    outbox.add(IDS[6], _event(6))
    assert [p.event_id for p in outbox.unsent(2)] == [IDS[0], IDS[5]]  # a short batch is filled past bad rows
    assert [p.event_id for p in outbox.unsent(10)] == [IDS[0], IDS[5], IDS[6]]
    counts = outbox.counts()
    assert (counts.total, counts.unsent, counts.quarantined, counts.reports_unsent) == (8, 3, 5, 5)
    reports = {r["subject_id"]: r for r in outbox.unsent_reports(10)}
    assert len(outbox.unsent_reports(10)) == 5 and None in reports  # the non-UTF-8 id cannot be a subject
    assert {r["code"] for r in reports.values()} == {
        "outbox_invalid_json",
        "outbox_not_an_object",
        "outbox_no_registry_object",
        "outbox_invalid_utf8",
        "outbox_bad_event_id",
    }
    assert all(
        r["kind"] == "quarantined_event" and r["pump"] == 2 and r["occurred_at"] == AT.isoformat() for r in reports.values()
    )
    assert base64.b64decode(reports[IDS[4]]["payload_b64"]) == b'{"\xff'  # the raw bytes, as stored
    assert base64.b64decode(reports[IDS[1]]["payload_b64"]) == b'{"registry": {'
    problems = outbox.problems(10)
    assert {p.kind for p in problems} == {"quarantined"} and len(problems) == 5
    assert problems[0].event_id == "\ufffd\x01" and "invalid_json" in problems[-1].why  # newest first
    assert not any(p.reported for p in problems)
    outbox.mark_reports_sent([r["report_id"] for r in reports.values()], AT)
    assert all(p.reported for p in outbox.problems(10)) and outbox.unsent_reports(10) == []


def test_rejection_queues_one_report_in_the_same_transaction(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", pump=4, clock=_clock(AT + timedelta(days=9)))
    for index in range(3):
        outbox.add(IDS[index], _event(index))
    outbox.mark_rejected(IDS[1], "registry 422: bad signature", at=AT, pump=2)
    outbox.mark_rejected(IDS[1], "again")  # already rejected: no second report
    outbox.mark_rejected("no-such-event", "x")
    outbox.mark_rejected(IDS[2], "no time given")  # the compatible call: the outbox's clock and pump
    first, second = outbox.unsent_reports(10)
    assert (first["subject_id"], first["pump"], first["occurred_at"], first["code"]) == (
        IDS[1],
        2,
        AT.isoformat(),
        "registry_rejected",
    )
    assert "bad signature" in first["detail"] and parse_fault_report(first).payload_sha256 is not None
    assert (second["subject_id"], second["pump"]) == (IDS[2], 4)
    assert [p.event_id for p in outbox.problems()] == [IDS[2], IDS[1]]
    assert outbox.counts().rejected == 2 and [p.event_id for p in outbox.unsent(10)] == [IDS[0]]


def test_reports_are_durable_idempotent_and_a_damaged_one_is_set_aside(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    report = fault_report(
        "station_fault", "relay_unreachable", "relay gone 1.5 s", at=AT, pump=1, cleared_at=AT + timedelta(seconds=2)
    )
    outbox.add_report(report)
    outbox.add_report(report)
    outbox._db.execute("INSERT INTO reports (report_id, body) VALUES ('x', 'not json')")
    later = fault_report("station_fault", "disk_full", "", at=AT, pump=1)
    outbox.add_report(later)
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite3")
    assert reopened.unsent_reports(10) == [report.to_json(), later.to_json()]
    assert reopened._db.execute("SELECT damaged FROM reports WHERE report_id = 'x'").fetchone()[0].startswith("invalid_json")
    reopened.mark_reports_sent([report.report_id], AT)
    assert reopened.unsent_reports(10) == [later.to_json()] and reopened.counts().reports_unsent == 1


def test_prune_keeps_what_is_undelivered_and_the_wal_shrinks(tmp_path: Path) -> None:
    day = timedelta(days=1)
    outbox = Outbox(tmp_path / "o.sqlite3", pump=1, clock=_clock(AT - 40 * day))
    for index in range(6):
        outbox.add(IDS[index], {**_event(index), "padding": "x" * 3000})
    outbox.mark_sent([IDS[0]], AT - 40 * day)
    outbox.mark_sent([IDS[1]], (AT - 2 * day).astimezone(UTC))
    outbox.mark_rejected(IDS[2], "old rejection, reported")
    outbox.mark_rejected(IDS[3], "old rejection, not yet reported")
    _damage(outbox, IDS[7], "'nope'")
    outbox.unsent(10)  # quarantines IDS[7], dated 40 days ago
    reported = [r["report_id"] for r in outbox.unsent_reports(10) if r["subject_id"] in (IDS[2], IDS[7])]
    outbox.mark_reports_sent(reported, AT - 39 * day)
    outbox.add_report(fault_report("station_fault", "x", "", at=AT, pump=1))
    outbox.record_fill(["old-cylinder"], AT - 40 * day)
    outbox.record_fill(["new-cylinder"], AT - timedelta(minutes=5))
    wal = tmp_path / "o.sqlite3-wal"
    assert wal.stat().st_size > 0
    # a cutoff written with another UTC offset means the same instant
    deleted = outbox.prune((AT - 30 * day).astimezone(datetime.now().astimezone().tzinfo), fills_before=AT - timedelta(hours=1))
    remaining = outbox.event_ids()
    assert remaining == [IDS[1], IDS[3], IDS[4], IDS[5]]  # sent recently, unreported rejection, unsent
    assert deleted == 3 + 2 + 1  # events 0, 2 and 7; two delivered reports; one fill
    assert outbox.last_fill("old-cylinder") is None and outbox.last_fill("new-cylinder") is not None
    assert outbox.counts().reports_unsent == 2 and wal.stat().st_size == 0
    with pytest.raises(ValueError, match="UTC offset"):
        outbox.prune(datetime(2026, 1, 1))


def test_full_disk_clears_when_space_returns_without_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(OutboxFullError):
        for index in range(100):
            outbox.add(IDS[index % 19] + f"-{index}", {"registry": {}, "padding": "x" * 2000})
    stored = outbox.counts().total
    outbox._db.execute("PRAGMA max_page_count = 1000000")
    outbox.add(IDS[0], _event(0))
    assert outbox.counts().total == stored + 1


def test_full_tmpfs_then_freed_space_needs_no_reopen(tmp_path: Path) -> None:
    """A real full disk (a 1 MiB tmpfs), not a mocked ENOSPC."""
    if os.geteuid() != 0:
        peer_unavailable("tmpfs", "mounting a size-limited tmpfs needs root")
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        peer_unavailable("tmpfs", f"mount failed: {done.stderr.strip()}")
    try:
        outbox = Outbox(mount / "o.sqlite3")
        try:
            for index in range(3):
                outbox.add(IDS[index], _event(index))
            junk = mount / "junk"
            with pytest.raises(OSError), junk.open("wb") as handle:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            with pytest.raises(OutboxFullError, match="disk full"):
                for index in range(3, 200):
                    outbox.add(f"{IDS[index % 19]}-{index}", {"registry": {}, "padding": "x" * 4000})
            junk.unlink()
            outbox.add(IDS[18], _event(18))
            events = outbox.event_ids()
            assert events[:3] == IDS[:3] and events[-1] == IDS[18]
            assert [p.event_id for p in outbox.unsent(500)] == events
            outbox.checkpoint()
        finally:
            outbox.close()
        reopened = Outbox(mount / "o.sqlite3")
        assert reopened.event_ids() == events
        reopened.close()
    finally:
        subprocess.run(["umount", str(mount)], check=True)
