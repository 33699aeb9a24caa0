"""The link to the registry answers like a broken network or a misrouted web server (a hostile
proxy between the real agent and the real registry), and the registry's SQLite database is locked.

An answer that is not the registry's is a network fault, not a verdict: reads decide offline
within the budget, events are retried (never "rejected for good") and reach the registry exactly
once when the link is healthy again, and the agent is never left in a fault.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from tests.faults.conftest import MakePump
from tests.faults.processes import RegistryProcess
from tests.faults.proxy import HostileProxy, Mode
from tests.faults.station import BUDGET_MS, MAX_BACKOFF_S, Pump
from tests.peers import wait_until
from tests.station_agent.registry_peer import STATION

LOCK_S = 4.0
SCAN_EVENTS = "/scan-events"


def _online_read_recovers(pump: Pump) -> None:
    """Recovery without a restart: the registry decides the next read again, the pump fills. (Once
    the page shows the registry back, after the agent's longest back-off, which may still be open.)"""
    pid = pump.agent.pid
    wait_until(lambda: pump.state()["registry_online"] is True, "the page to show the registry back", 10)
    time.sleep(MAX_BACKOFF_S * 2)
    read = pump.present(pump.vehicle())
    assert read.allowed and not read.offline and "PUMP ON" in read.line, f"{read.line}\n{pump.agent.output(1500)}"
    pump.assert_decided_in_time(read)
    pump.fill_done()
    assert pump.agent.pid == pid and pump.agent.alive
    pump.assert_not_in_fault()


# A black hole (accept, never answer) already decided within the budget when the issue was filed.
@pytest.mark.parametrize("mode", [Mode.NON_JSON, Mode.HTML_404, Mode.TRICKLE, Mode.RESET])
def test_hostile_link(make_pump: MakePump, proxy: HostileProxy, mode: Mode) -> None:
    pump = make_pump(registry_url=proxy.url)
    wait_until(lambda: pump.state()["registry_online"] is True, "the agent online through the proxy", 10)
    proxy.switch(mode)
    for _ in range(2):  # two events: a batch the sender may split to find "the bad one"
        read = pump.present(pump.vehicle())
        pump.assert_decided_in_time(read)
        assert read.allowed and read.offline and "PUMP ON" in read.line, read.line
        assert pump.relay.coil_on(), pump.relay.describe()
        pump.fill_done()
        assert not pump.relay.coil_on()
    # A trust-data request already caught in the trickle holds the sender for its whole 10 s deadline.
    wait_until(lambda: proxy.seen(mode, SCAN_EVENTS) >= 1, f"an upload met {mode}", 25)
    time.sleep(1.0)  # a few retries in the bad mode
    assert not pump.outbox.rejected(), f"events rejected for good on a {mode} answer: {pump.outbox.rejected()}"
    pump.assert_not_in_fault()

    proxy.switch(Mode.PASS)
    pump.assert_delivered_exactly_once()
    _online_read_recovers(pump)
    pump.assert_coil_history()
    pump.assert_delivered_exactly_once()


def _lock(database_url: str) -> sqlite3.Connection:
    """Hold the registry's SQLite database locked for writing, as a long transaction elsewhere would."""
    database = make_url(database_url).database
    assert database, database_url
    connection = sqlite3.connect(database, timeout=5, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    return connection


def _probe_upload(registry: RegistryProcess) -> tuple[int, str | None, float]:
    """One upload of a fresh event straight to the registry: (status, Retry-After, seconds)."""
    event = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "pump": 2,
        "tag_uid": "04A2C4D2E15A80",
        "decision": "allow",
        "outcome": "allowed",
        "reasons": [],
        "attendant": "probe",
        "decided_offline": True,
        "session_id": "lock-probe",
    }
    request = urllib.request.Request(
        f"{registry.url}/stations/{STATION}/scan-events",
        method="POST",
        data=json.dumps({"events": [event]}).encode(),
        headers={"Authorization": f"Bearer {registry.token}", "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers.get("Retry-After"), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After"), time.monotonic() - started


def test_locked_registry_database(make_pump: MakePump, proxy: HostileProxy, registry: RegistryProcess) -> None:
    """503 with Retry-After within a station's budget instead of holding an upload for SQLite's 30 s
    busy timeout; the status check decides within the budget; everything delivered after release,
    and the registry needs no restart."""
    pump = make_pump(registry_url=proxy.url)
    wait_until(lambda: pump.state()["registry_online"] is True, "the agent online", 10)
    registry_pid = registry.child.pid
    vehicle = pump.vehicle()  # registered before the lock: the test's own writes would wait too
    locked_at = time.monotonic()
    lock = _lock(registry.peer.database_url)
    try:
        probe = _probe_upload(registry)
        read = pump.present(vehicle)
        pump.fill_done()
        wait_until(
            lambda: [a for a in proxy.answers if SCAN_EVENTS in a.request and a.started >= locked_at],
            "the agent's upload answered while the database is locked",
            LOCK_S,
        )
    finally:
        lock.rollback()
        lock.close()
    released_at = time.monotonic()
    status, retry_after, seconds = probe
    assert status == 503 and retry_after, f"an upload to a locked database got {status} (Retry-After {retry_after})"
    assert seconds <= BUDGET_MS / 1000 + 0.7, f"the registry held an upload {seconds:.2f} s before answering"
    pump.assert_decided_in_time(read)
    assert read.allowed and "PUMP ON" in read.line, read.line
    assert not pump.outbox.rejected()
    pump.assert_delivered_exactly_once()  # retried after the release
    during = [a for a in proxy.answers if SCAN_EVENTS in a.request and locked_at <= a.started < released_at]
    for answer in during:
        assert answer.status == "503" and answer.retry_after, f"the agent's upload while locked: {answer}"
        assert answer.seconds <= BUDGET_MS / 1000 + 0.7, f"the registry held an upload {answer.seconds:.2f} s: {answer}"
    assert registry.child.pid == registry_pid and registry.child.alive
    _online_read_recovers(pump)
    pump.assert_coil_history()
    pump.assert_delivered_exactly_once()
