"""Reason words on the attendant's page and the bureau's pages come from the gettext catalogues:
the station says its configured refill interval, and a third language needs only a catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry_service.dashboard import i18n
from tag_tools.messages import LOCALE_PATH_ENV
from tests.station_agent.conftest import OVERDUE, uid_for, vehicle_claims

# A translator's first draft: two reasons and the hour; everything else falls back to English.
SPANISH_STUB = """\
msgid ""
msgstr ""
"Language: es\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "reason.inspection_overdue"
msgstr "Inspección periódica vencida"

msgid "reason.refilled_too_soon"
msgstr "Cilindro ya cargado en los últimos {interval}"

msgid "interval.minutes"
msgid_plural "interval.minutes.plural"
msgstr[0] "{n} minuto"
msgstr[1] "{n} minutos"
"""


@pytest.fixture
def spanish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "locale" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "reasons.po").write_text(SPANISH_STUB, encoding="utf-8")
    monkeypatch.setenv(LOCALE_PATH_ENV, str(tmp_path / "locale"))


def _refill_twice(station) -> dict:  # type: ignore[no-untyped-def, type-arg]
    station.read(uid_for(0), **vehicle_claims(0))
    station.agent.end_fill()
    station.clock.advance(minutes=30)
    assert "refilled_too_soon" in station.read(uid_for(0), **vehicle_claims(0)).reasons
    (reason,) = station.agent.snapshot()["session"]["cylinders"][0]["reasons"]
    return reason  # type: ignore[no-any-return]


def test_the_station_says_its_configured_interval(make_station) -> None:  # type: ignore[no-untyped-def]
    reason = _refill_twice(make_station(min_refill_interval_min=90))
    assert reason == {
        "code": "refilled_too_soon",
        "zh": "该气瓶在90分钟内已加过气",
        "en": "Cylinder already filled within 90 minutes",
    }
    reason = _refill_twice(make_station(min_refill_interval_min=60))
    assert reason["zh"] == "该气瓶在1小时内已加过气"


def test_a_spanish_catalogue_alone_switches_the_reason_texts(spanish: None, make_station) -> None:  # type: ignore[no-untyped-def]
    assert i18n.reason_label("inspection_overdue", "es") == "Inspección periódica vencida"
    assert i18n.reason_label("past_service_life", "es") == "Cylinder past its design service life"  # not translated yet
    assert i18n.reason_label("refilled_too_soon", "es") == "Cilindro ya cargado en los últimos the minimum refill interval"
    assert i18n.reason_label("inspection_overdue", "zh") == "气瓶超期未检"  # the others are untouched

    station = make_station(min_refill_interval_min=45)
    overdue_claims: dict[str, Any] = {**OVERDUE}
    station.read(uid_for(0), **vehicle_claims(0, **overdue_claims))
    (overdue,) = station.agent.snapshot()["session"]["cylinders"][0]["reasons"]
    assert overdue == {
        "code": "inspection_overdue",
        "zh": "气瓶超期未检",
        "en": "Periodic inspection overdue",
        "es": "Inspección periódica vencida",
    }
    station.agent.new_vehicle()
    assert _refill_twice(station)["es"] == "Cilindro ya cargado en los últimos 45 minutos"
