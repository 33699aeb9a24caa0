"""Events from a station with a wrong clock (issue 11, "Time"): the bureau's event lists show the
corrected time with a badge giving the station's clock offset, in Chinese and English."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from registry_service.dashboard import i18n
from registry_service.services import accounts
from tests.dashboard.helpers import sign_in
from tests.dashboard.world import NOW

STATION = "ST-410105-01"


def test_offsets_read_in_the_largest_sensible_unit() -> None:
    zh, en = i18n.Words.of("zh_CN"), i18n.Words.of("en")
    assert zh.offset(660_000) == "+11 分钟" and en.offset(660_000) == "+11 min"
    assert zh.offset(-172_800_000) == "−2 天" and en.offset(-172_800_000) == "−2 d"
    assert en.offset(-1_795_000_000_000) == "−20,775 d"  # a box that booted in 1970
    assert en.offset(90_000) == "+90 s" and en.offset(0) == "+0 s"
    assert zh.offset(None) == ""


def test_skewed_events_carry_the_offset_badge(app: Flask, client: FlaskClient) -> None:
    plate = f"豫Z{uuid.uuid4().hex[:5].upper()}"
    happened = NOW - timedelta(hours=2)
    fast = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": (happened + timedelta(minutes=11)).isoformat(),
        "pump": 1,
        "plate": plate,
        "decision": "allow",
        "outcome": "allowed",
        "reasons": [],
        "clock_offset_ms": 660_000,
    }
    unset = {**fast, "event_id": str(uuid.uuid4()), "occurred_at": "1970-01-01T00:03:00Z"}
    del unset["clock_offset_ms"]
    registry = app.extensions["registry"]
    token = registry.transaction(lambda s: accounts.issue_token(s, "test", NOW, username="station").token)
    response = app.test_client().post(
        f"/api/v1/stations/{STATION}/scan-events", json={"events": [fast, unset]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.get_json()["accepted"] == 2, response.get_data()

    assert sign_in(client, "bureau").status_code == 302
    zh = client.get(f"/dashboard/attempts?plate={plate}").get_data(as_text=True)
    assert zh.count('class="badge clock"') == 2
    assert ">时钟偏差 +11 分钟</span>" in zh and ">时钟偏差</span>" in zh  # offset unknown: the badge alone
    assert "加气站时钟显示 2026年11月22日 08:11:00" in zh  # the station's reading, in Zhengzhou time
    en = client.get(f"/dashboard/attempts?plate={plate}&lang=en").get_data(as_text=True)
    assert ">Clock off +11 min</span>" in en and "the station&#39;s clock said Jan 1, 1970, 8:03:00\u202fAM" in en
    csv_text = client.get(f"/dashboard/attempts.csv?plate={plate}").get_data(as_text=True)
    assert "station_time,clock_offset_ms,clock_skewed" in csv_text.splitlines()[0] and ",660000,True," in csv_text
