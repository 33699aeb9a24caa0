"""The life of a fill and of the agent as station_event reports: each event where it happens, the
pump never enabled before its pump_enabled is stored, and every lifecycle report delivered to a real
registry exactly once across kill -9 and restarts (the agent as `python -m station_agent.cli run`,
the dispenser as pymodbus's own server)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from registry_service.models import StationAlarm, StationFault
from station_agent.errors import InterlockError, OutboxFullError
from station_agent.fault_report import FaultReport, FaultReportError, fault_report, parse_fault_report
from station_agent.interlock import LogInterlock
from tests.peers import wait_until
from tests.station_agent.agent_process import start_agent, write_config
from tests.station_agent.conftest import OVERDUE, uid_for, vehicle_claims
from tests.station_agent.e2e import new_vehicle
from tests.station_agent.metered import MakeMetered, dispenser, make_metered, stop, totaliser_table
from tests.station_agent.modbus_peer import DispenserPeer
from tests.station_agent.registry_peer import RegistryPeer, database_url
from tests.testkit import TestPki

__all__ = ["dispenser", "make_metered"]  # fixtures, imported for this module's tests


def test_agent_started_stopped_and_config_changed(dispenser: DispenserPeer, make_metered: MakeMetered) -> None:
    dispenser.set_total(120.0)
    first = make_metered(totaliser_table(dispenser.port), config_sha256="a" * 64)
    (started,) = first.events("agent_started")
    assert "a" * 64 in started["detail"] and "station-agent " in started["detail"]
    assert started["totaliser"] == pytest.approx(120.0) and started["unit"] == "kg" and started["pump"] == 1
    assert first.codes() == ["agent_started"]  # the first start ever: nothing to compare the config with
    stop(first)

    second = make_metered(totaliser_table(dispenser.port), config_sha256="a" * 64)
    assert second.codes() == ["agent_started", "agent_stopped", "agent_started"]  # same file: no change
    (stopped,) = second.events("agent_stopped")
    assert stopped["totaliser"] == pytest.approx(120.0)
    stop(second)

    third = make_metered(totaliser_table(dispenser.port), config_sha256="b" * 64)
    (changed,) = third.events("config_changed")
    assert changed["detail"] == f"config sha256 {'a' * 64} -> {'b' * 64}"


def test_a_fill_is_enabled_then_ended_by_the_attendant_under_one_session(make_metered: MakeMetered) -> None:
    station = make_metered(None)  # no totaliser: the events carry no quantities
    station.read(uid_for(0), **vehicle_claims(0))
    station.agent.end_fill()
    enabled, ended = station.events("pump_enabled") + station.events("fill_ended")
    assert enabled["subject_id"] == ended["subject_id"] == station.agent.session.id  # type: ignore[union-attr]
    assert ended["detail"].startswith("attendant:") and "quantity" not in ended and "totaliser" not in ended


def test_the_pump_is_never_enabled_before_its_event_is_stored(make_metered: MakeMetered, monkeypatch: pytest.MonkeyPatch) -> None:
    station = make_metered(None)
    stored_when_enabled: list[list[str]] = []
    original = station.interlock.set_enabled

    def set_enabled(enabled: bool) -> None:
        if enabled:
            stored_when_enabled.append(station.codes())
        original(enabled)

    monkeypatch.setattr(station.interlock, "set_enabled", set_enabled)
    station.read(uid_for(0), **vehicle_claims(0))
    assert stored_when_enabled == [["agent_started", "pump_enabled"]]

    station.agent.new_vehicle()
    real_add = station.agent.outbox.add_report

    def full(report: FaultReport, *, state: tuple[str, bytes] | None = None) -> None:
        if report.code == "pump_enabled":
            raise OutboxFullError("disk full (test)")
        real_add(report, state=state)

    monkeypatch.setattr(station.agent.outbox, "add_report", full)
    station.read(uid_for(1), **vehicle_claims(1))
    assert not station.agent.pump.enabled and station.agent.fault is not None  # fail-safe: no event, no fill
    assert len(stored_when_enabled) == 1


def test_a_fill_ended_by_its_deadline_is_a_timeout(make_metered: MakeMetered) -> None:
    station = make_metered(None)
    station.read(uid_for(0), **vehicle_claims(0))
    station.clock.advance(seconds=601)  # past interlock.fill_timeout_s (600)
    station.agent.pump.check_deadline()  # what the pump guard's thread does on its next beat
    station.agent.tick()
    (ended,) = station.events("fill_ended")
    assert ended["detail"].startswith("timeout:")
    station.later(1)
    assert len(station.events("fill_ended")) == 1


class BreakableInterlock(LogInterlock):
    broken = False

    def set_enabled(self, enabled: bool) -> None:
        if self.broken:
            raise InterlockError("relay module does not answer (test)")
        super().set_enabled(enabled)


def test_a_fill_ended_by_a_relay_fault_and_one_replaced_by_the_next_vehicle(make_metered: MakeMetered) -> None:
    station = make_metered(None)
    interlock = BreakableInterlock()
    station.agent.pump.interlock = interlock
    station.read(uid_for(0), **vehicle_claims(0))
    interlock.broken = True
    wait_until(lambda: not station.agent.pump.enabled, "the pump guard's beat to end the fill")
    station.agent.tick()
    interlock.broken = False
    wait_until(lambda: station.agent.pump.healthy, "the relay module back")
    station.agent.tick()
    station.agent.new_vehicle()
    station.read(uid_for(1), **vehicle_claims(1))
    station.agent.new_vehicle()  # the attendant moves on while the second vehicle fills
    whys = [r["detail"].split(":")[0] for r in station.events("fill_ended")]
    assert whys == ["fault", "new_vehicle"]


def test_sessions_that_never_filled_are_abandoned_once(make_metered: MakeMetered) -> None:
    station = make_metered(None)
    station.read(uid_for(0), **vehicle_claims(0, count=2))  # one of two cylinders read
    station.later(121)  # past the session window
    station.later(1)
    station.read(uid_for(1), **vehicle_claims(1, **OVERDUE))  # a refused vehicle, replaced
    station.agent.new_vehicle()
    station.agent.new_vehicle()
    abandoned = station.events("session_abandoned")
    assert [r["detail"].split(":")[0] for r in abandoned] == ["expired", "replaced by the next vehicle"]
    assert "1 of 2 cylinder(s)" in abandoned[0]["detail"] and "refused" in abandoned[1]["detail"]
    assert station.events("pump_enabled") == []


def test_a_wall_clock_that_jumps_is_reported(make_metered: MakeMetered) -> None:
    station = make_metered(None)
    station.later(1)
    station.clock.step(seconds=-30)  # within the limit: NTP slewing, not a jump
    station.agent.tick()
    station.clock.step(minutes=10)
    station.agent.tick()
    station.clock.step(hours=-2)
    station.agent.tick()
    assert [r["detail"] for r in station.events("clock_jump")] == [
        "wall clock moved +600 s against the monotonic clock",
        "wall clock moved -7200 s against the monotonic clock",
    ]


# -- exactly once across kill -9 -------------------------------------------------------------------

LIFECYCLE = {"agent_started", "config_changed", "pump_enabled", "fill_ended", "unexplained_quantity", "agent_stopped"}


def _config(tmp: Path, reads: Path, registry: RegistryPeer, meter_port: int) -> Path:
    return write_config(
        tmp,
        tmp,
        reads,
        registry,
        f"""[totaliser]
path = "modbus-tcp://127.0.0.1:{meter_port}/1"
address = 0
scale = 0.01
unit = "kg"
poll_s = 1
flow_stop_s = 2
""",
    )


def _reports(db: Path) -> list[dict[str, Any]]:
    """The reports in the agent's outbox (read-only, while it runs): body and whether sent."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            rows = connection.execute("SELECT body, sent_at IS NOT NULL FROM reports ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    return [{**json.loads(body), "sent": bool(sent)} for body, sent in rows]


def _codes(db: Path, code: str) -> int:
    return sum(1 for r in _reports(db) if r["code"] == code)


def _kill(agent: subprocess.Popen[bytes]) -> None:
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(30)


def test_every_lifecycle_report_reaches_the_registry_once_across_kill_9(tmp_path: Path, dispenser: DispenserPeer) -> None:
    pki = TestPki.create(datetime.now(UTC))
    (tmp_path / "root.pem").write_bytes(pki.root_certificate_pem)
    (tmp_path / "trust-list.cose").write_bytes(pki.trust_list_bytes)
    registry = RegistryPeer(database_url("sqlite", tmp_path), pki, lambda: datetime.now(UTC)).start()
    dispenser.set_total(5000.0)
    db = tmp_path / "state" / "outbox.sqlite3"
    started: list[subprocess.Popen[bytes]] = []  # stopped at the end whatever happens
    try:
        vehicle = new_vehicle(registry, pki)
        read = json.dumps({"uid": vehicle.uids[0].hex(), "ndef": vehicle.message(pki, 0).hex(), "originality": "genuine"})
        (tmp_path / "one.jsonl").write_text(read, encoding="utf-8")
        (tmp_path / "two.jsonl").write_text(read, encoding="utf-8")
        (tmp_path / "none.jsonl").write_text("", encoding="utf-8")

        # 1. A fill starts; the agent is killed while the gas flows.
        agent = start_agent(_config(tmp_path, tmp_path / "one.jsonl", registry, dispenser.port), tmp_path / "1.log")
        started.append(agent)
        wait_until(lambda: _codes(db, "pump_enabled") == 1 or agent.poll() is not None, "the first fill", 60)
        assert agent.poll() is None, (tmp_path / "1.log").read_text()
        dispenser.advance(6.4)
        _kill(agent)

        # 2. Restarted (another reads file: config_changed): the killed fill is closed, a new one
        # runs until its flow stops, then gas flows with the relay off; then a clean stop.
        agent = start_agent(_config(tmp_path, tmp_path / "two.jsonl", registry, dispenser.port), tmp_path / "2.log")
        started.append(agent)
        wait_until(lambda: _codes(db, "pump_enabled") == 2 or agent.poll() is not None, "the second fill", 60)
        assert agent.poll() is None, (tmp_path / "2.log").read_text()
        dispenser.advance(9.1)
        wait_until(lambda: _codes(db, "fill_ended") == 2, "the flow stop to end the fill", 30)
        dispenser.advance(3.25)
        wait_until(lambda: _codes(db, "unexplained_quantity") == 1, "the bypass noticed", 30)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0, (tmp_path / "2.log").read_text()

        # 3. Started again to deliver what is left, and killed once it has.
        agent = start_agent(_config(tmp_path, tmp_path / "none.jsonl", registry, dispenser.port), tmp_path / "3.log")
        started.append(agent)
        wait_until(lambda: _codes(db, "agent_started") == 3, "the third start", 60)
        wait_until(lambda: all(r["sent"] for r in _reports(db)), "every report delivered", 60)
        _kill(agent)

        reports = _reports(db)
        with registry.engine.connect() as connection:
            stored = connection.execute(select(StationFault.report_uuid, StationFault.code, StationFault.malformed)).all()
            alarms = connection.execute(select(StationAlarm.source, StationAlarm.quantity, StationAlarm.unit)).all()
        ids = [r["report_id"] for r in reports]
        assert len(ids) == len(set(ids)) and sorted(ids) == sorted(str(row[0]) for row in stored)  # once each
        assert not any(row[2] for row in stored)  # the registry reads every field of them
        codes = [r["code"] for r in reports if r["kind"] == "station_event"]
        assert LIFECYCLE <= set(codes)
        assert [codes.count(c) for c in ("agent_started", "config_changed", "fill_ended", "agent_stopped")] == [3, 2, 2, 1]
        killed_fill, measured_fill = [r for r in reports if r["code"] == "fill_ended"]
        assert killed_fill["detail"].startswith("fault:") and "quantity" not in killed_fill
        assert measured_fill["detail"].startswith("flow_stop:") and measured_fill["quantity"] == pytest.approx(9.1)
        # The bypass, from the agent; the gas of the killed fill, from the registry's comparison.
        assert sorted((source, round(quantity or 0.0, 2), unit) for source, quantity, unit in alarms) == [
            ("agent", 3.25, "kg"),
            ("registry", 6.4, "kg"),
        ]
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(30)
        registry.dispose()


def test_metered_fields_are_checked_and_round_trip() -> None:
    at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    report = fault_report(
        "station_event", "fill_ended", "flow_stop: x", at=at, pump=2, quantity=12.5, unit="kg", totaliser=1012.5
    )
    assert parse_fault_report(report.to_json()) == report
    plain = fault_report("station_event", "clock_jump", "", at=at, pump=2).to_json()
    assert not {"quantity", "unit", "totaliser"} & set(plain)  # the shape older registries know
    for bad in (
        {"quantity": -0.1, "unit": "kg"},
        {"quantity": float("nan"), "unit": "kg"},
        {"totaliser": 5.0, "unit": "litre"},
        {"quantity": 1.0},
        {"unit": "kg"},
    ):
        with pytest.raises(FaultReportError):
            fault_report("station_event", "fill_ended", "", at=at, pump=2, **bad)
