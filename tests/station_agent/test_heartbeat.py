"""The agent's heartbeat: what it says (checked against the registry's own reader of the contract),
when it goes (every heartbeat_s, riding on a status request or an upload that goes anyway, else
alone), that it is never queued, and that a refused one never costs an event or a status answer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry_service.api.heartbeats import read_heartbeat
from station_agent import faults
from station_agent.central_policy import policy_sha256
from station_agent.config import parse_config
from station_agent.errors import ConfigError, RegistryRejected
from station_agent.fault_report import fault_report
from station_agent.heartbeat import heartbeat_of
from tests.station_agent.conftest import Station, config_document, uid_for, vehicle_claims


def test_a_quiet_pump_reports_what_it_runs(make_station: Callable[..., Station]) -> None:
    station = make_station()
    body = heartbeat_of(station.agent, station.clock())
    checked = read_heartbeat(body)  # the registry's reader of the same contract accepts it
    assert checked.pump == 1 and checked.sent_at == station.clock()
    assert body["policy"]["mode"] == "enforce" and body["policy"]["sequence"] is None
    assert body["policy"]["sha256"] == policy_sha256(station.agent.policy) and len(body["policy"]["sha256"]) == 64
    assert body["trust_list_sequence"] == 1 and body["status_list_sequences"] == {}
    assert body["clock_offset_ms"] is None and body["reader"] == "ok" and body["interlock"] == "ok"
    assert body["pump_enabled"] is False and body["outbox_backlog"] == 0
    assert body["last_fill_at"] is None and body["totaliser"] is None and body["faults"] == []


def test_a_busy_troubled_pump_says_so(make_station: Callable[..., Station]) -> None:
    station = make_station(mode="monitor")
    station.read(uid_for(0), **vehicle_claims(0))  # an allowed fill: the pump is on, one event waits
    agent: Any = station.agent
    agent.reader_problem = "reader none: lost"
    agent.faults.raise_fault(faults.READER, "reader none: lost", station.clock())
    agent.policy_sequence = 4
    agent.meter_reading = lambda: (1234.5, "kg")
    body = heartbeat_of(agent, station.clock())
    read_heartbeat(body)
    assert body["policy"] == {"mode": "monitor", "sequence": 4, "sha256": policy_sha256(agent.policy)}
    assert body["reader"] == "lost" and body["faults"] == ["reader_lost"] and body["pump_enabled"] is True
    counts = agent.outbox.counts()  # the scan event, the fault report (and any fill-life event)
    assert body["outbox_backlog"] == counts.unsent + counts.reports_unsent and counts.unsent == 1 and counts.reports_unsent >= 1
    assert body["last_fill_at"] == station.clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert body["totaliser"] == {"value": 1234.5, "unit": "kg"}


def test_the_policy_hash_is_canonical_and_follows_the_policy(make_station: Callable[..., Station]) -> None:
    enforce, monitor = make_station().agent.policy, make_station(mode="monitor").agent.policy
    assert policy_sha256(enforce) != policy_sha256(monitor)
    assert policy_sha256(enforce) == policy_sha256(make_station().agent.policy)
    assert int(policy_sha256(enforce), 16) != int(hashlib.sha256(b"").hexdigest(), 16)


def test_heartbeats_go_alone_every_interval_and_ride_on_uploads(make_station: Callable[..., Station]) -> None:
    station = make_station()
    worker, registry, clock = station.sync, station.registry, station.clock
    worker.run_once()
    assert registry.heartbeats_alone == 1 and len(registry.heartbeats) == 1
    clock.advance(seconds=30)
    worker.run_once()
    assert len(registry.heartbeats) == 1  # not due yet
    clock.advance(seconds=30)
    worker.run_once()
    assert registry.heartbeats_alone == 2
    station.read(uid_for(0), **vehicle_claims(0))  # an event waits: the next upload carries the beat
    clock.advance(seconds=300)
    worker.run_once()
    assert registry.uploads == 1 and registry.heartbeats_alone == 2 and len(registry.heartbeats) == 3
    assert registry.heartbeats[-1]["pump_enabled"] is True and len(registry.received) == 1


def test_a_heartbeat_is_never_queued_while_the_registry_is_down(make_station: Callable[..., Station]) -> None:
    station = make_station(online=False)
    worker, registry, clock = station.sync, station.registry, station.clock
    for _ in range(10):  # ten minutes down, retrying through the back-off
        worker.run_once()
        clock.advance(seconds=60)
    assert registry.heartbeats == [] and worker.status.online is False
    registry.down = False
    clock.advance(seconds=300)
    worker.run_once()
    assert len(registry.heartbeats) == 1  # the latest only, not ten
    assert registry.heartbeats[0]["sent_at"] == clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_refused_heartbeat_costs_no_event_and_is_not_retried_at_once(make_station: Callable[..., Station]) -> None:
    station = make_station()
    worker, registry, clock = station.sync, station.registry, station.clock
    registry.reject_heartbeats = True
    station.read(uid_for(0), **vehicle_claims(0))
    clock.advance(seconds=300)
    worker.run_once()
    assert len(registry.received) == 1 and station.agent.outbox.counts().rejected == 0
    assert registry.heartbeats == [] and worker.status.online is True
    calls = registry.uploads
    clock.advance(seconds=10)
    worker.run_once()
    assert registry.uploads == calls and worker.heartbeats_sent == 0
    registry.reject_heartbeats = False
    clock.advance(seconds=50)
    worker.run_once()
    assert len(registry.heartbeats) == 1


def test_heartbeat_interval_is_configured_under_registry(tmp_path: Path, root_pem: Path) -> None:
    document = config_document(tmp_path, root_pem)
    assert parse_config(document).registry.heartbeat.total_seconds() == 60
    document["registry"] = {"heartbeat_s": 15}
    assert parse_config(document).registry.heartbeat.total_seconds() == 15
    for bad in (0, 7200, "60"):
        document["registry"] = {"heartbeat_s": bad}
        with pytest.raises(ConfigError, match="heartbeat_s"):
            parse_config(document)


def _riding(station: Station) -> Station:
    """The station with heartbeats riding on status requests, after its first beat (alone, at start)."""
    station.agent.assessor.riders = station.sync
    station.sync.run_once()
    return station


def _busy(station: Station, reads: int, every_s: float, first: int = 0) -> None:
    """A vehicle every `every_s` seconds, the sync thread doing whatever is due in between."""
    agent = station.agent
    for index in range(first, first + reads):
        station.clock.advance(seconds=every_s)
        station.sync.run_once()
        station.read(uid_for(index % 8), **vehicle_claims(index % 8, plate=f"豫A0000{index % 8}"))
        agent.end_fill()


def test_a_busy_pump_sends_its_heartbeat_on_status_requests_never_alone(make_station: Callable[..., Station]) -> None:
    station = _riding(make_station())
    registry, worker = station.registry, station.sync
    assert registry.heartbeats_alone == 1
    _busy(station, 60, 10.0)  # ten minutes, a vehicle every 10 s
    assert registry.heartbeats_alone == 1 and registry.uploads == 0
    # every beat rode, each within the last quarter of its interval: at most one per 45 s, never late
    assert registry.heartbeats_on_status == worker.heartbeats_on_status >= 600 // 60
    assert len(registry.heartbeats) == 1 + registry.heartbeats_on_status <= 1 + 600 // 45
    assert registry.heartbeats[-1]["last_fill_at"] is not None  # built afresh for the read that carried it


def test_an_idle_pump_still_sends_one_alone_every_interval(make_station: Callable[..., Station]) -> None:
    station = _riding(make_station())
    registry, worker = station.registry, station.sync
    _busy(station, 3, 10.0)  # read at 10, 20, 30 s: the next beat (due at 60 s) is not near yet
    assert registry.heartbeats_on_status == 0
    for _ in range(5):  # then nobody for five minutes
        station.clock.advance(seconds=60)
        worker.run_once()
    # one a minute: alone, or on the upload of the three reads' events (their debounce ran out)
    assert len(registry.heartbeats) == 6 and registry.heartbeats_alone >= 5 and registry.heartbeats_on_status == 0


def test_a_refused_heartbeat_on_a_status_request_costs_no_answer_and_goes_alone(make_station: Callable[..., Station]) -> None:
    station = _riding(make_station())
    agent, registry, worker = station.agent, station.registry, station.sync
    registry.reject_heartbeats = True
    station.clock.advance(seconds=50)  # due in 10 s: the read carries it
    result = station.read(uid_for(0), **vehicle_claims(0))
    assert result.online and agent.pump.enabled and registry.status_calls == 1
    assert registry.heartbeats_on_status == 0 and worker.heartbeats_on_status == 0
    agent.end_fill()
    station.read(uid_for(1), **vehicle_claims(1, plate="豫A00001"))
    assert registry.status_calls == 2 and registry.heartbeats_on_status == 0  # not carried again this interval
    registry.reject_heartbeats = False
    station.clock.advance(seconds=10)
    worker.run_once()  # due: the sync thread sends it alone
    assert registry.heartbeats_alone == 2 and len(registry.heartbeats) == 2


def test_a_registry_that_refuses_the_member_gets_no_more_for_a_while(make_station: Callable[..., Station]) -> None:
    station = _riding(make_station())
    registry = station.registry
    registry.older_status = True
    _busy(station, 20, 10.0)
    assert registry.status_with_heartbeat == 1 and registry.status_calls == 19  # one read decided offline, no other carried one
    assert registry.heartbeats_alone >= 3  # the sync thread keeps the beat going alone


def _queue_report(station: Station, code: str = "reader_lost") -> str:
    report = fault_report("station_fault", code, "reader none: lost", at=station.clock(), pump=1)
    station.agent.outbox.add_report(report)
    return report.report_id


def _unsent_reports(station: Station) -> int:
    return station.agent.outbox.counts().reports_unsent


def test_pending_reports_ride_on_a_heartbeat_sent_alone_and_go_once(make_station: Callable[..., Station]) -> None:
    station = make_station()
    worker, registry, clock = station.sync, station.registry, station.clock
    worker.run_once()
    ids = [_queue_report(station), _queue_report(station, "interlock_fault")]
    clock.advance(seconds=60)
    worker.run_once()
    assert registry.heartbeats_alone == 2 and set(ids) <= set(registry.fault_reports)
    assert registry.fault_uploads == 0 and _unsent_reports(station) == 0
    carried = registry.reports_on_heartbeats
    for _ in range(3):  # nothing pending: later beats carry none, and no /faults request goes
        clock.advance(seconds=60)
        worker.run_once()
    assert registry.reports_on_heartbeats == carried and registry.fault_uploads == 0 and registry.heartbeats_alone == 5


def test_reports_a_heartbeat_answer_does_not_count_stay_pending_and_go_later(make_station: Callable[..., Station]) -> None:
    station = make_station()
    worker, registry, clock = station.sync, station.registry, station.clock
    worker.run_once()
    registry.riding_reports_stored = 1  # the answer counts one of two: neither is marked sent
    report_ids = [_queue_report(station), _queue_report(station, "interlock_fault")]
    clock.advance(seconds=60)
    worker.run_once()
    assert registry.heartbeats_alone == 2 and _unsent_reports(station) == 2 and registry.fault_uploads == 0
    registry.riding_reports_stored = None
    clock.advance(seconds=60)
    worker.run_once()  # the next beat carries both again: the one stored already is a duplicate
    assert _unsent_reports(station) == 0 and registry.fault_uploads == 0 and set(report_ids) <= set(registry.fault_reports)
    # An answer without any count (a registry that ignored the member): /faults takes them at once,
    # and heartbeats carry none for a while.
    registry.riding_reports_uncounted = True
    late = _queue_report(station, "clock_skew")
    clock.advance(seconds=60)
    worker.run_once()
    assert late in registry.fault_reports and registry.fault_uploads == 1 and _unsent_reports(station) == 0
    registry.riding_reports_uncounted = False
    carried = registry.reports_on_heartbeats
    _queue_report(station, "reader_lost")
    clock.advance(seconds=60)
    worker.run_once()
    assert registry.reports_on_heartbeats == carried and registry.fault_uploads == 2


def test_an_old_report_goes_by_faults_when_no_heartbeat_carries_it(make_station: Callable[..., Station]) -> None:
    station = make_station()
    worker, registry, clock = station.sync, station.registry, station.clock
    worker.run_once()

    def broken() -> dict[str, Any]:
        raise RuntimeError("no heartbeat today")

    worker.heartbeat = broken  # no beat is built: nothing carries the report
    report_id = _queue_report(station)
    for _ in range(2):  # it waits for a ride two heartbeat intervals from when the sync thread saw it
        clock.advance(seconds=60)
        worker.run_once()
        assert registry.fault_uploads == 0 and _unsent_reports(station) == 1
    clock.advance(seconds=60)
    worker.run_once()
    assert report_id in registry.fault_reports and registry.fault_uploads == 1 and _unsent_reports(station) == 0


def test_a_refused_heartbeat_with_reports_still_goes_and_the_reports_go_by_faults(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station()
    worker, registry, clock = station.sync, station.registry, station.clock
    worker.run_once()
    calls: list[int] = []
    plain = registry.heartbeat

    def older_registry(code: str, beat: dict[str, Any], reports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        calls.append(len(reports or ()))
        if reports:
            raise RegistryRejected("HTTP 422 unknown field(s) reports (fake)")
        return plain(code, beat)

    monkeypatch.setattr(registry, "heartbeat", older_registry)
    report_id = _queue_report(station)
    clock.advance(seconds=60)
    worker.run_once()
    assert calls == [1, 0] and registry.heartbeats_alone == 2  # the beat went again, without them
    assert report_id in registry.fault_reports and registry.fault_uploads == 1 and _unsent_reports(station) == 0
    _queue_report(station, "interlock_fault")
    clock.advance(seconds=60)
    worker.run_once()
    assert calls == [1, 0, 0] and registry.fault_uploads == 2  # rides paused for a while: /faults at once
