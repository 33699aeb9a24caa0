"""Overrides: supervisor credential, typed reason, policy list; every override is an event."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from station_agent.errors import OverrideRefused
from station_agent.session import CylinderResult, SessionState
from station_agent.tagsource import TagReading
from tag_tools.verdict import ChipEvidence, Originality
from tests.station_agent.conftest import OVERDUE, SUPERVISOR_PASSWORD, Station, uid_for, vehicle_claims


def _non_genuine_read(station: Station, index: int = 0) -> CylinderResult:
    message = station.pki.ndef_message(uid_for(index), **vehicle_claims(index))
    return station.agent.handle(TagReading(uid_for(index), message, ChipEvidence(Originality.NOT_GENUINE)))


def test_override_of_an_overridable_refusal_is_recorded_then_enables(make_station: Callable[..., Station]) -> None:
    station = make_station()
    assert "chip_not_genuine" in _non_genuine_read(station).reasons
    assert not station.agent.pump.enabled
    station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "tag chip replaced under warranty, ticket 1234")
    assert station.agent.pump.enabled and station.agent.session.state is SessionState.OVERRIDDEN
    events = [p.body for p in station.agent.outbox.unsent(10)]
    assert [e["registry"]["outcome"] for e in events] == ["refused", "overridden"]
    override = events[1]
    assert override["supervisor"] == "S-01" and override["attendant"] == "A-009"
    assert override["override_reason"].startswith("tag chip replaced")
    sent = override["registry"]
    assert sent["attendant"] == "A-009" and sent["supervisor"] == "S-01" and sent["decision"] == "refuse"
    assert sent["override_reason"] == override["override_reason"] and sent["session_id"] == override["session_id"]
    assert sent["decided_offline"] is (not override["online"])
    assert "supervisor" not in events[0]["registry"] and "override_reason" not in events[0]["registry"]


@pytest.mark.parametrize(
    ("supervisor", "password", "reason", "message"),
    [
        ("S-01", "wrong password", "a good reason", "wrong password"),
        ("S-99", SUPERVISOR_PASSWORD, "a good reason", "unknown supervisor"),
        ("S-01", SUPERVISOR_PASSWORD, "  ", "override_reason needs at least 4"),
    ],
)
def test_override_needs_credentials_and_a_reason(
    make_station: Callable[..., Station],
    supervisor: str,
    password: str,
    reason: str,
    message: str,
) -> None:
    station = make_station()
    _non_genuine_read(station)
    with pytest.raises(OverrideRefused, match=message):
        station.agent.override("A-009", supervisor, password, reason)
    assert not station.agent.pump.enabled and len(station.agent.outbox.unsent(10)) == 1


def test_overdue_cannot_be_overridden_unless_policy_names_it(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    with pytest.raises(OverrideRefused, match="inspection_overdue"):
        station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "customer insists")
    assert not station.agent.pump.enabled

    lenient = make_station(overridable=["inspection_overdue"])
    lenient.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    lenient.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "bureau exemption letter 2026-17")
    assert lenient.agent.pump.enabled


def test_override_needs_every_cylinder_read(make_station: Callable[..., Station]) -> None:
    station = make_station()
    station.read(uid_for(0), **vehicle_claims(0, 2))
    message = station.pki.ndef_message(uid_for(1), **vehicle_claims(1, 2))
    station.agent.handle(TagReading(uid_for(1), message, ChipEvidence(Originality.NOT_GENUINE)))
    station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "chip replaced, ticket 9")
    assert station.agent.pump.enabled

    other = make_station()
    message = other.pki.ndef_message(uid_for(0), **vehicle_claims(0, 2))
    other.agent.handle(TagReading(uid_for(0), message, ChipEvidence(Originality.NOT_GENUINE)))
    with pytest.raises(OverrideRefused, match="remaining 1"):
        other.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "chip replaced, ticket 9")


def test_monitor_mode_has_nothing_to_override(make_station: Callable[..., Station]) -> None:
    station = make_station(mode="monitor")
    _non_genuine_read(station)
    with pytest.raises(OverrideRefused, match="monitor"):
        station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "a good reason")
