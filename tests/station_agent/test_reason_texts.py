"""Reason words on the attendant's page and the bureau's pages come from the gettext catalogues:
the station says its configured refill interval, and a third language needs only a catalogue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tag_tools.reason_catalogue import reason_text
from tests.station_agent.conftest import OVERDUE, Station, uid_for, vehicle_claims
from tests.station_agent.spanish import install_spanish


@pytest.fixture
def spanish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_spanish(tmp_path / "locale", monkeypatch, ("reasons",))  # the reason texts' catalogue alone


def _refill_twice(station: Station) -> dict[str, Any]:
    station.read(uid_for(0), **vehicle_claims(0))
    station.agent.end_fill()
    station.clock.advance(minutes=30)
    assert "refilled_too_soon" in station.read(uid_for(0), **vehicle_claims(0)).reasons
    reason: dict[str, Any]
    (reason,) = station.snapshot()["session"]["cylinders"][0]["reasons"]
    return reason


def test_the_station_says_its_configured_interval(make_station: Callable[..., Station]) -> None:
    reason = _refill_twice(make_station(min_refill_interval_min=90))
    assert reason == {
        "code": "refilled_too_soon",
        "zh": "该气瓶在90分钟内已加过气",
        "en": "Cylinder already filled within 90 minutes",
    }
    reason = _refill_twice(make_station(min_refill_interval_min=60))
    assert reason["zh"] == "该气瓶在1小时内已加过气"


def test_a_spanish_catalogue_alone_switches_the_reason_texts(spanish: None, make_station: Callable[..., Station]) -> None:
    # What every screen calls (the bureau's pages too, which know no station's interval).
    assert reason_text("inspection_overdue", "es") == "Inspección periódica vencida"
    assert reason_text("past_service_life", "es") == "Cylinder past its design service life"  # not translated yet
    assert reason_text("refilled_too_soon", "es") == "Cilindro ya cargado en los últimos the minimum refill interval"
    assert reason_text("inspection_overdue", "zh") == "气瓶超期未检"  # the others are untouched

    station = make_station(min_refill_interval_min=45)
    overdue_claims: dict[str, Any] = {**OVERDUE}
    station.read(uid_for(0), **vehicle_claims(0, **overdue_claims))
    (overdue,) = station.snapshot()["session"]["cylinders"][0]["reasons"]
    assert overdue == {
        "code": "inspection_overdue",
        "zh": "气瓶超期未检",
        "en": "Periodic inspection overdue",
        "es": "Inspección periódica vencida",
    }
    station.agent.new_vehicle()
    assert _refill_twice(station)["es"] == "Cilindro ya cargado en los últimos 45 minutos"
