"""The agent's own storage fails: one damaged event in the outbox, and a full disk then freed.

A damaged event is quarantined and reported (to the bureau and on the attendant's page) and every
later event still flows; a full disk refuses fills (the event cannot be stored first) and the very
next read after space is freed is allowed, without a restart.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import MakePump
from tests.faults.proxy import HostileProxy, Mode
from tests.faults.station import wait_pump
from tests.peers import peer_unavailable, wait_until

TMPFS_SIZE = "2m"


def _damage(outbox: Path, event_id: str) -> bytes:
    """Overwrite one stored event body with bytes that are not JSON (half the body, then junk)."""
    with sqlite3.connect(outbox, timeout=10, isolation_level=None) as connection:
        (body,) = connection.execute("SELECT body FROM events WHERE event_id = ?", (event_id,)).fetchone()
        damaged = str(body).encode()[: len(str(body)) // 2] + b"\xff\xfe\x00garbage"
        connection.execute("UPDATE events SET body = ? WHERE event_id = ?", (damaged, event_id))
    connection.close()
    return damaged


def test_damaged_outbox_row_is_quarantined_and_the_rest_flows(make_pump: MakePump, proxy: HostileProxy) -> None:
    proxy.switch(Mode.RESET)  # the registry out of reach: the events wait in the outbox
    pump = make_pump(registry_url=proxy.url)
    reads = []
    for _ in range(2):
        reads.append(read := pump.present(pump.vehicle()))
        assert read.allowed and read.offline, read.line
        pump.assert_decided_in_time(read)
        pump.fill_done()
    first = reads[0]
    assert pump.agent.stop() == 0, pump.agent.output()
    damaged_id = next(
        row["event_id"]
        for row in pump.outbox.rows()
        if json.loads(row["body"])["registry"]["tag_uid"] == first.vehicle.uids[0].hex().upper()
    )
    damaged = _damage(pump.outbox.path, damaged_id)
    pump.reads.remove(first)  # its stored copy is gone: what is owed now is a report of it

    proxy.switch(Mode.PASS)
    pump.agent.start_ready()
    later = pump.present(pump.vehicle())
    assert later.allowed and "PUMP ON" in later.line, later.line
    pump.assert_decided_in_time(later)
    pump.fill_done()
    pump.assert_delivered_exactly_once(exempt=frozenset({damaged_id}))  # the later events are not blocked

    faults = pump.registry.station_faults()
    if faults is not None:  # the bureau sees a report naming the event or the damaged bytes
        digest = hashlib.sha256(damaged).hexdigest()
        wait_until(
            lambda: [
                f for f in pump.registry.station_faults() or [] if f["subject_id"] == damaged_id or f["payload_sha256"] == digest
            ],
            f"a fault report about {damaged_id} at the registry",
            20,
            every=0.2,
        )

    # The page names it, or counts it among the events the registry will never have; the agent
    # recounts those every COUNT_INTERVAL_S (5 s), so the page may show it a few seconds late.
    def shown() -> bool:
        state = pump.state()
        page = json.dumps(state, ensure_ascii=False)
        return damaged_id in page or "quarantin" in page.lower() or int(state.get("undelivered") or 0) >= 1

    wait_until(shown, "the attendant's page showing the damaged event", 15, every=0.5)
    pump.assert_coil_history()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: a real full disk, not a mocked ENOSPC. Needs root (CAP_SYS_ADMIN)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        peer_unavailable("size-limited tmpfs", "mounting one needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        peer_unavailable("size-limited tmpfs", f"mount failed: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Write until the file system says ENOSPC, down to the last byte."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (65536, 4096, 1):
            while True:
                try:
                    out.write(b"\0" * chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    assert shutil.disk_usage(directory).free < 4096
    return filler


def test_full_disk_refuses_then_clears_when_freed(small_disk: Path, make_pump: MakePump) -> None:
    pump = make_pump(state_dir=small_disk / "state")
    try:
        read = pump.present(pump.vehicle())
        assert read.allowed and "PUMP ON" in read.line, read.line
        pump.fill_done()
        pump.assert_delivered_exactly_once()

        # Restart the journal at zero bytes, so the next commit needs new space on the full disk.
        with sqlite3.connect(pump.outbox.path, timeout=10) as second:
            busy, _, _ = second.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        second.close()
        assert busy == 0
        filler = _fill(small_disk)

        refused = pump.present(pump.vehicle(), allowed_window=False, acknowledged=False)
        assert "PUMP ON" not in refused.line, refused.line
        pump.assert_decided_in_time(refused)
        state = wait_pump(pump, False)
        assert state["fault"] or state["state"] == "fault", state
        assert not pump.relay.coil_on()

        filler.unlink()
        pid = pump.agent.pid
        freed = pump.present(pump.vehicle())
        assert freed.allowed and "PUMP ON" in freed.line, f"space was freed, the next read must fill: {freed.line}"
        pump.assert_decided_in_time(freed)
        wait_until(pump.relay.coil_on, "the coil ON after the disk was freed", 5)
        pump.fill_done()
        assert pump.agent.pid == pid and pump.agent.alive
        pump.assert_not_in_fault()
        pump.assert_coil_history()
        pump.assert_delivered_exactly_once()
    finally:
        pump.agent.stop()
