"""The bureau's page of station fault reports: what a station posted shows up, in Chinese or
English, filtered by station and kind, malformed reports with what was sent; linked from the nav
and the station page; closed to other roles."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from registry_service.services import accounts
from tests.dashboard.helpers import sign_in
from tests.dashboard.world import NOW

STATION = "ST-410105-01"


def _post_reports(app: Flask, reports: list[Any]) -> None:
    registry = app.extensions["registry"]
    token = registry.transaction(lambda s: accounts.issue_token(s, "test", NOW, username="station").token)
    response = app.test_client().post(
        f"/api/v1/stations/{STATION}/faults", json={"reports": reports}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.get_json()["accepted"] == len(reports), response.get_data()


@pytest.fixture
def reported(app: Flask) -> dict[str, str]:
    ids = {"rejected": str(uuid.uuid4()), "fault": str(uuid.uuid4()), "marker": uuid.uuid4().hex[:12]}
    _post_reports(
        app,
        [
            {
                "schema": 1,
                "report_id": ids["rejected"],
                "kind": "rejected_event",
                "code": "registry_rejected",
                "pump": 3,
                "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
                "detail": f"422 from the registry {ids['marker']}",
                "subject_id": "8c9e7c1e-1c1a-4d8e-9a55-0a0b0c0d0e0f",
                "payload_b64": base64.b64encode(b"{broken").decode(),
            },
            {
                "schema": 1,
                "report_id": ids["fault"],
                "kind": "station_fault",
                "code": "interlock_fault",
                "occurred_at": (NOW - timedelta(minutes=30)).isoformat(),
                "detail": f"relay gone {ids['marker']}",
            },
            {"kind": 17, "detail": f"garbled {ids['marker']}"},
        ],
    )
    return ids


def test_bureau_sees_the_reports_in_both_languages(client: FlaskClient, reported: dict[str, str]) -> None:
    assert sign_in(client, "bureau").status_code == 302
    zh = client.get("/dashboard/station-faults").get_data(as_text=True)
    assert f'data-report="{reported["rejected"]}"' in zh and f'data-report="{reported["fault"]}"' in zh
    assert "被登记系统拒收的记录" in zh and "加气机联锁故障" in zh and "未恢复" in zh
    assert f"garbled {reported['marker']}" in zh and "格式有误" in zh and 'href="/dashboard/station-faults"' in zh
    en = client.get("/dashboard/station-faults?lang=en").get_data(as_text=True)
    assert "Station fault reports" in en and "Pump interlock fault" in en and "7 bytes" in en
    only = client.get(f"/dashboard/station-faults?kind=station_fault&station={STATION}").get_data(as_text=True)
    assert reported["fault"] in only and reported["rejected"] not in only
    elsewhere = client.get("/dashboard/station-faults?station=ST-410103-01").get_data(as_text=True)
    assert reported["marker"] not in elsewhere
    assert client.get("/dashboard/station-faults?kind=%3Cscript%3E").status_code == 422


def test_the_station_page_links_to_its_reports(client: FlaskClient) -> None:
    assert sign_in(client, "bureau").status_code == 302
    page = client.get(f"/dashboard/stations/{STATION}").get_data(as_text=True)
    assert 'id="station-faults" href="/dashboard/station-faults?' in page and f"station={STATION}" in page


def test_other_roles_may_not_see_the_page(client: FlaskClient) -> None:
    assert sign_in(client, "centre1").status_code == 302
    assert client.get("/dashboard/station-faults").status_code == 403
