"""Salvage: a damaged outbox and its -wal give back every event whose pages survive, with its state,
into a new outbox, without the damaged files changing; no damage makes salvage crash."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sqlite3
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station_agent.outbox import Outbox
from station_agent.salvage import SalvageError, add_salvage_command, salvage
from tests.station_agent.test_outbox import LEGACY_SCHEMA

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
IDS = [str(uuid.UUID(int=index, version=4)) for index in range(1, 11)]
FRAME = 24


def _body(index: int) -> dict[str, object]:
    padding = "x" * (10_000 if index == 2 else 300)  # event 2 spills onto overflow pages
    return {"registry": {"event_id": IDS[index], "n": index}, "detail": padding}


def _power_cut_copy(outbox: Outbox, into: Path) -> Path:
    """The files as a power cut leaves them: copied while the outbox is open, -wal included."""
    into.mkdir()
    for suffix in ("", "-wal"):
        source = Path(f"{outbox.path}{suffix}")
        if source.exists():
            shutil.copy(source, into / f"outbox.sqlite3{suffix}")
    return into / "outbox.sqlite3"


def _build(directory: Path, *, page_size: int = 4096, last: str = "state") -> Path:
    """Ten events: 0-4 checkpointed into the database file, 5-9 only in the -wal; 0 and 6 sent, 3
    rejected. The last transaction is a trust-list save (`last="state"`) or event 9 itself."""
    path = directory / "live" / "outbox.sqlite3"
    path.parent.mkdir(parents=True)
    if page_size != 4096:
        sqlite3.connect(path).execute(f"PRAGMA page_size = {page_size}").connection.execute("VACUUM").connection.close()
    outbox = Outbox(path, pump=1, clock=lambda: AT)
    for index in range(5):
        outbox.add(IDS[index], _body(index))
    outbox.mark_sent([IDS[0]], AT)
    outbox.mark_rejected(IDS[3], "registry 422: unknown tag")
    log_pages, done = outbox.checkpoint()
    assert log_pages == done > 0
    for index in range(5, 9):
        outbox.add(IDS[index], _body(index))
    outbox.mark_sent([IDS[6]], AT)
    if last == "state":
        outbox.add(IDS[9], _body(9))
        outbox.put_state("trust", b"T" * 6000)
    else:
        outbox.put_state("trust", b"T" * 6000)
        outbox.add(IDS[9], _body(9))
    damaged = _power_cut_copy(outbox, directory / "damaged")
    outbox.close()
    return damaged


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def _other_page(path: Path, page_size: int) -> int:
    """A page of the database file holding no events (an index or the trust list), chosen at random."""
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    pages = [row[0] for row in db.execute("SELECT pageno FROM dbstat WHERE name NOT IN ('events', 'sqlite_schema')")]
    db.close()
    assert pages
    return int(random.Random(7).choice(pages))


def _damage(damaged: Path, page_size: int) -> None:
    """Header page damaged, a non-event page zeroed, the -wal cut in the middle of its last frame."""
    intact = damaged.with_name("intact.sqlite3")
    shutil.copy(damaged, intact)  # dbstat needs a readable header; the copy lacks the -wal on purpose
    zeroed = _other_page(intact, page_size)
    intact.unlink()
    data = bytearray(damaged.read_bytes())
    data[0:100] = random.Random(1).randbytes(100)
    data[(zeroed - 1) * page_size : zeroed * page_size] = bytes(page_size)
    damaged.write_bytes(bytes(data))
    wal = damaged.with_name(damaged.name + "-wal")
    log = wal.read_bytes()
    # The newest frame is the last one with the header's salts: older frames of an earlier cycle may
    # follow it in the file, since a restarted WAL is overwritten from its start, not cut.
    starts = range(32, len(log) - FRAME - page_size + 1, FRAME + page_size)
    newest = max(start for start in starts if log[start + 8 : start + 16] == log[16:24])
    wal.write_bytes(log[: newest + FRAME + page_size // 2])


def _recovered(target: Path) -> dict[str, tuple[dict[str, object], str | None, str | None]]:
    db = sqlite3.connect(target)
    rows = db.execute("SELECT event_id, body, sent_at, rejected FROM events ORDER BY seq").fetchall()
    db.close()
    return {event_id: (json.loads(body), sent_at, rejected) for event_id, body, sent_at, rejected in rows}


@pytest.mark.parametrize("page_size", [1024, 4096, 65536])
def test_power_cut_damage_loses_no_acknowledged_event(tmp_path: Path, page_size: int) -> None:
    damaged = _build(tmp_path, page_size=page_size)
    _damage(damaged, page_size)
    before = (_digest(damaged), _digest(Path(f"{damaged}-wal")))
    result = salvage(damaged, tmp_path / "new.sqlite3", at=AT)
    assert (_digest(damaged), _digest(Path(f"{damaged}-wal"))) == before  # never modified
    rows = _recovered(tmp_path / "new.sqlite3")
    assert list(rows) == IDS  # in their original order
    assert all(rows[IDS[i]][0] == _body(i) for i in range(10))
    assert {i for i in range(10) if rows[IDS[i]][1] is not None} == {0, 6}
    assert rows[IDS[3]][2] == "registry 422: unknown tag"
    assert (result.page_size, result.rows_recovered, result.unsent_recovered) == (page_size, 10, 7)
    assert result.reports_recovered == 1 and result.wal_frames_used > 0 and result.unreadable_pages >= 1
    new = Outbox(tmp_path / "new.sqlite3")
    assert [p.event_id for p in new.unsent(20)] == [IDS[i] for i in (1, 2, 4, 5, 7, 8, 9)]
    reports = new.unsent_reports(10)
    assert [r["code"] for r in reports] == ["registry_rejected", "outbox_salvaged"]
    assert reports[0]["subject_id"] == IDS[3] and "salvaged 10 events (7 unsent)" in reports[1]["detail"]
    assert [p.reported for p in new.problems()] == [False]  # the rejection is linked to its report again
    new.close()


def test_an_event_whose_commit_frame_was_torn_was_never_acknowledged(tmp_path: Path) -> None:
    damaged = _build(tmp_path, last="event")
    _damage(damaged, 4096)
    result = salvage(damaged, tmp_path / "new.sqlite3")
    assert list(_recovered(tmp_path / "new.sqlite3")) == IDS[:9] and result.unsent_recovered == 6


def test_legacy_five_column_rows_and_a_file_without_header_or_wal(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA page_size = 2048")
    db.executescript(LEGACY_SCHEMA)
    db.executemany(
        "INSERT INTO events (event_id, body, sent_at, rejected) VALUES (?, ?, ?, ?)",
        [
            (IDS[0], json.dumps(_body(0)), AT.isoformat(), None),
            (IDS[1], json.dumps(_body(1)), None, None),
            (IDS[2], json.dumps(_body(2)), None, None),
            ("not-a-uuid", "{}", None, None),
            (str(uuid.uuid4()), "not json", None, None),
        ],
    )
    db.close()
    data = bytearray(path.read_bytes())
    data[0:100] = bytes(100)  # page size unknown: found from the pages themselves
    path.write_bytes(bytes(data))
    result = salvage(path, tmp_path / "new.sqlite3")
    assert result.page_size == 2048 and result.rows_recovered == 3 and result.unsent_recovered == 2
    assert list(_recovered(tmp_path / "new.sqlite3")) == IDS[:3]


def test_states_only_move_forward_so_the_most_advanced_version_wins(tmp_path: Path) -> None:
    """A stale page version (free page, older frame) saying unsent loses to one saying sent."""
    path = tmp_path / "live" / "outbox.sqlite3"
    path.parent.mkdir()
    outbox = Outbox(path)
    outbox.add(IDS[0], _body(0))
    outbox.checkpoint()  # database file: unsent
    outbox.mark_sent([IDS[0]], AT + timedelta(hours=1))  # -wal: sent
    damaged = _power_cut_copy(outbox, tmp_path / "damaged")
    outbox.close()
    salvage(damaged, tmp_path / "new.sqlite3")
    assert _recovered(tmp_path / "new.sqlite3")[IDS[0]][1] == (AT + timedelta(hours=1)).isoformat()


def test_refuses_an_existing_target_and_a_missing_source(tmp_path: Path) -> None:
    (tmp_path / "exists.sqlite3").write_bytes(b"x")
    with pytest.raises(SalvageError, match="already exists"):
        salvage(tmp_path / "whatever", tmp_path / "exists.sqlite3")
    with pytest.raises(SalvageError, match="holds anything to salvage"):
        salvage(tmp_path / "missing.sqlite3", tmp_path / "new.sqlite3")
    assert not (tmp_path / "new.sqlite3").exists()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    damaged = _build(tmp_path)
    parser = argparse.ArgumentParser()
    add_salvage_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["outbox", "salvage", str(damaged), str(tmp_path / "new.sqlite3")])
    assert args.handler(args) == 0
    assert "salvaged 10 events (7 unsent) and 1 reports" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["outbox", "salvage", str(damaged)])


@cache
def _pristine() -> tuple[bytes, bytes]:
    with tempfile.TemporaryDirectory() as directory:
        damaged = _build(Path(directory))
        return damaged.read_bytes(), Path(f"{damaged}-wal").read_bytes()


_patches = st.lists(st.tuples(st.booleans(), st.integers(0, 200_000), st.binary(min_size=1, max_size=64)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patches=_patches, cut_database=st.integers(0, 200_000), cut_wal=st.integers(0, 400_000))
def test_random_damage_never_crashes_salvage(patches: list[tuple[bool, int, bytes]], cut_database: int, cut_wal: int) -> None:
    files = [bytearray(data) for data in _pristine()]
    for in_wal, offset, data in patches:
        target = files[in_wal]
        if target:
            start = offset % len(target)
            target[start : start + len(data)] = data
    files[0] = files[0][:cut_database]
    files[1] = files[1][:cut_wal]
    with tempfile.TemporaryDirectory() as directory:
        damaged = Path(directory) / "outbox.sqlite3"
        damaged.write_bytes(bytes(files[0]))
        Path(f"{damaged}-wal").write_bytes(bytes(files[1]))
        if not files[0] and not files[1]:
            with pytest.raises(SalvageError):
                salvage(damaged, Path(directory) / "new.sqlite3")
            return
        result = salvage(damaged, Path(directory) / "new.sqlite3")
        new = Outbox(Path(directory) / "new.sqlite3")
        try:
            counts = new.counts()
            assert counts.total == result.rows_recovered and result.unsent_recovered <= result.rows_recovered
            assert counts.unsent == result.unsent_recovered
        finally:
            new.close()
