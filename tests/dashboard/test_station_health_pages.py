"""The station health pages (health_views.py): pumps' latest heartbeats, alarms with their gas,
stations ranked by unexplained gas, override attempts and time dark, in Chinese and English,
filtered by grid cell, with the registry's clock injected; bureau only."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from registry_service.models import Outcome, Pump, PumpHeartbeat, Region, ScanEvent, Station, StationAlarm, StationFault
from registry_service.services import accounts, health_reports
from registry_service.services.station_alarms import open_alarm
from tests.dashboard.browser import chromium_peer, screenshot, serve
from tests.dashboard.browser import sign_in as browser_sign_in
from tests.dashboard.helpers import ZONE, count_events, page_text, sign_in, world_rows
from tests.dashboard.world import NOW, PASSWORD, Clock, build_database, make_app
from tests.registry.pg_cluster import create_database, drop_database

A, B, C, D = "ST-410105-01", "ST-410103-01", "ST-410102-01", "ST-410104-01"
DAY_START = datetime(2026, 11, 22, tzinfo=ZONE)  # the local day NOW is in (10:00 in Zhengzhou)
PAGES = (
    "/dashboard/station-health",
    "/dashboard/station-alarms",
    "/dashboard/unexplained-quantity",
    "/dashboard/override-attempts",
    "/dashboard/time-dark",
)
FAULT_IDS = [uuid.uuid4() for _ in range(3)]


def _ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Station.code, Station.id).where(Station.code.in_((A, B, C, D)))).all())


def _world(session: Session) -> None:
    ids = _ids(session)

    def unexplained(code: str, at: datetime, quantity: float, unit: str = "kg") -> None:
        open_alarm(
            session,
            station_id=ids[code],
            pump=1,
            kind="unexplained_quantity",
            source="agent",
            opened_at=at,
            quantity=quantity,
            unit=unit,
        )

    def silent(code: str, since: datetime, cleared: datetime | None) -> None:
        open_alarm(
            session, station_id=ids[code], pump=None, kind="silent", source="registry", opened_at=since + timedelta(minutes=10),
            silent_since=since,
        )  # fmt: skip
        if cleared is not None:
            session.flush()
            alarm = session.scalars(select(StationAlarm).order_by(StationAlarm.id.desc()).limit(1)).one()
            alarm.cleared_at = cleared

    unexplained(A, NOW - timedelta(hours=2), 12.5)
    unexplained(A, NOW - timedelta(days=1), 1234.25)
    unexplained(B, NOW - timedelta(hours=3), 2000.0)
    unexplained(C, NOW - timedelta(hours=1), 7.0, "Nm3")
    unexplained(D, NOW - timedelta(days=40), 99999.0)  # long before the period
    silent(A, NOW - timedelta(hours=5), NOW - timedelta(hours=3))  # 2 h, inside today
    silent(A, NOW - timedelta(hours=4), NOW - timedelta(hours=3, minutes=30))  # overlaps the one above: once
    silent(A, DAY_START - timedelta(hours=1), DAY_START + timedelta(minutes=30))  # began yesterday: 30 min today
    silent(B, NOW - timedelta(minutes=30), None)  # still dark
    session.execute(
        insert(PumpHeartbeat),
        [
            {
                "station_id": ids[A], "pump": pump, "received_at": NOW - timedelta(minutes=pump), "sent_at": NOW,
                "agent_version": "1.4.2", "policy_mode": "monitor", "policy_sequence": 7, "policy_sha256": "ab" * 32,
                "trust_list_sequence": 3, "status_list_sequences": {}, "clock_offset_ms": 660_000, "reader": "ok",
                "interlock": "fault" if pump == 2 else "ok", "pump_enabled": False, "outbox_backlog": 17 * pump,
                "last_fill_at": None, "totaliser": 1000.0, "totaliser_unit": "kg", "faults": [], "history_at": NOW,
            }
            for pump in (1, 2)
        ],
    )  # fmt: skip
    session.execute(
        insert(StationFault),
        [
            {"report_uuid": FAULT_IDS[n], "station_id": ids[A], "pump": 1, "schema_version": 1, "kind": "station_fault",
             "code": code, "occurred_at": NOW - timedelta(hours=n + 1), "received_at": NOW - timedelta(hours=n + 1),
             "detail": f"booth password {n}"}
            for n, code in enumerate(("override_refused", "override_refused", "supervisor_locked"))
        ],
    )  # fmt: skip


def _clean(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(StationAlarm))
        connection.execute(delete(PumpHeartbeat))
        connection.execute(delete(StationFault).where(StationFault.report_uuid.in_(FAULT_IDS)))


@pytest.fixture
def world(app: Flask, seeded: tuple[Engine, str]) -> Iterator[None]:
    with world_rows(app, seeded[0], _world, _clean):
        yield


@pytest.fixture
def bureau(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "bureau").status_code == 302
    return client


def _cell(engine: Engine, code: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.scalar(select(Region.code).join(Station, Station.region_id == Region.id).where(Station.code == code))
        )


def test_every_page_renders_in_both_languages_and_is_linked(bureau: FlaskClient, world: None) -> None:
    for path in PAGES:
        zh, en = page_text(bureau, path + "?lang=zh_CN"), page_text(bureau, path + "?lang=en")
        assert 'href="/dashboard/station-health"' in zh and 'lang="zh-CN"' in zh and 'lang="en"' in en
    health = page_text(bureau, "/dashboard/station-health?lang=en")
    assert "Station health" in health and "1.4.2" in health and "no. 7" in health and "+11 min" in health
    assert "abababababab…" in health and "Pump interlock fault" in health
    zh = page_text(bureau, "/dashboard/station-health?lang=zh_CN")
    assert "加气站运行状况" in zh and "第 7 版" in zh and "仅监测" in zh
    rows = re.findall(r'data-station="([^"]+)"', zh)
    assert rows.index(B) < rows.index(A), "silent stations first"
    alarms_en = page_text(bureau, "/dashboard/station-alarms?lang=en")
    assert "12.5 kg" in alarms_en and "1,234.25 kg" in alarms_en and "7 Nm³" in alarms_en and "99,999" not in alarms_en
    assert "Unexplained gas" in alarms_en and "Silent" in alarms_en
    alarms_zh = page_text(bureau, "/dashboard/station-alarms?lang=zh_CN")
    assert "12.5 kg" in alarms_zh and "1,234.25 kg" in alarms_zh and "无法解释的加气量" in alarms_zh


def test_a_grid_cell_restricts_every_page_to_its_stations(bureau: FlaskClient, world: None, seeded: tuple[Engine, str]) -> None:
    cell = _cell(seeded[0], A)
    assert cell != _cell(seeded[0], B)
    for path in PAGES:
        text = page_text(bureau, f"{path}?region={cell}")
        assert B not in text and C not in text, path
    assert f'data-station="{A}"' in page_text(bureau, f"/dashboard/station-health?region={cell}")
    only = page_text(bureau, f"/dashboard/station-alarms?region={cell}&kind=unexplained_quantity")
    assert "12.5 kg" in only and "2,000 kg" not in only and "data-alarm" in only
    assert bureau.get("/dashboard/station-alarms?region=NOPE").status_code == 422
    assert bureau.get("/dashboard/station-alarms?kind=bogus").status_code == 422


def test_stations_are_ranked_by_unexplained_gas_per_unit(bureau: FlaskClient, world: None) -> None:
    text = page_text(bureau, "/dashboard/unexplained-quantity?lang=en")
    kg = text.split('id="ranking-kg"')[1].split("</section>")[0]
    assert re.findall(r'class="ranked" data-station="([^"]+)"', kg) == [B, A]  # 2,000 kg before 1,246.75 kg
    assert "1,246.75 kg" in kg and D not in kg  # D's alarm is older than the period
    nm3 = text.split('id="ranking-Nm3"')[1].split("</section>")[0]
    assert re.findall(r'data-station="([^"]+)"', nm3) == [C]
    past = page_text(bureau, "/dashboard/unexplained-quantity?since=2026-10-01&until=2026-10-31")
    assert 'data-station="' + D + '"' in past and A not in past


def test_override_attempts_count_overrides_and_refused_passwords(
    bureau: FlaskClient, world: None, seeded: tuple[Engine, str]
) -> None:
    text = page_text(bureau, f"/dashboard/override-attempts?lang=en&station={A}")
    row = text.split(f'class="override-station" data-station="{A}"')[1].split("</tr>")[0]
    numbers = re.findall(r'class="num (\w+)">(?:<a [^>]+>)?([\d,]+)', row)
    with seeded[0].connect() as connection:
        station_id = connection.scalar(select(Station.id).where(Station.code == A))
    overridden = count_events(
        seeded[0], "2026-11-09", "2026-11-22", ScanEvent.outcome == Outcome.OVERRIDDEN, ScanEvent.station_id == station_id
    )
    assert dict(numbers) == {"overridden": f"{overridden:,}", "refused": "2", "locked": "1"}
    assert "Supervisor locked out" in text and "booth password 2" in text


def test_time_dark_clips_to_the_period_and_runs_until_now(bureau: FlaskClient, world: None, clock: Clock) -> None:
    today = "?since=2026-11-22&until=2026-11-22"

    def seconds() -> dict[str, int]:
        text = page_text(bureau, "/dashboard/time-dark" + today)
        return {code: int(s) for code, s in re.findall(r'data-station="([^"]+)" data-seconds="(\d+)"', text)}

    assert seconds() == {A: 2 * 3600 + 30 * 60, B: 30 * 60}
    clock.advance(minutes=25)  # less than the dashboard's idle time-out
    assert seconds() == {A: 9000, B: 55 * 60}  # B is still dark; A's silences ended
    text = page_text(bureau, "/dashboard/time-dark" + today + "&lang=en")
    assert "2.5 hr" in text and "55 min" in text


def test_dark_seconds_merges_overlaps_and_clips() -> None:
    t0 = NOW
    spans = [(t0, t0 + timedelta(hours=2)), (t0 + timedelta(hours=1), t0 + timedelta(hours=3)), (t0 + timedelta(hours=5), None)]
    window = (t0 + timedelta(minutes=30), t0 + timedelta(hours=10))
    assert health_reports.dark_seconds(spans, *window, now=t0 + timedelta(hours=6)) == (2.5 + 1) * 3600
    assert health_reports.dark_seconds(spans, *window, now=t0 + timedelta(hours=20)) == (2.5 + 5) * 3600
    assert health_reports.dark_seconds([], *window, now=t0) == 0


@pytest.mark.parametrize("path", PAGES)
def test_only_the_bureau_sees_the_pages(client: FlaskClient, path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/dashboard/sign-in?next=")
    assert sign_in(client, "centre1").status_code == 302
    assert client.get(path).status_code == 403
    assert 'href="/dashboard/station-health"' not in client.get("/dashboard/inspections").get_data(as_text=True)


# In Chromium ------------------------------------------------------------------------------------


def _report_unexplained_gas(app: Flask) -> int:
    """A station's unexplained_quantity event through the registry's real path (the station's
    fault-report upload); the alarm it raised, or, where the registry does not raise one from a
    report yet, the alarm opened as the metering work does (services/station_alarms.py)."""
    registry = app.extensions["registry"]
    token = registry.transaction(lambda s: accounts.issue_token(s, "test", NOW, username="station").token)
    report_id = uuid.uuid4()
    report = {
        "schema": 1,
        "report_id": str(report_id),
        "kind": "station_event",
        "code": "unexplained_quantity",
        "pump": 2,
        "occurred_at": (NOW - timedelta(minutes=20)).isoformat(),
        "detail": "totaliser advanced with the relay off",
        "quantity": 12.5,
        "unit": "kg",
        "totaliser": 48_210.5,
    }
    response = app.test_client().post(
        f"/api/v1/stations/{A}/faults", json={"reports": [report]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)

    def alarm(session: Session) -> int:
        found = session.scalar(select(StationAlarm.id).where(StationAlarm.report_uuid == report_id))
        if found is not None:
            return found
        station_id = _ids(session)[A]
        return open_alarm(
            session, station_id=station_id, pump=2, kind="unexplained_quantity", source="agent", opened_at=NOW,
            quantity=12.5, unit="kg", detail=str(report["detail"]), report_uuid=report_id,
        ).id  # fmt: skip

    return int(registry.transaction(alarm))


def _fleet(session: Session) -> None:
    """Heartbeats from most of the other stations' pumps, so the screenshots look like a fleet."""
    quiet = set(_ids(session).values())
    rows = session.execute(select(Pump.station_id, Pump.number).order_by(Pump.station_id, Pump.number)).all()
    session.execute(
        insert(PumpHeartbeat),
        [
            {
                "station_id": station_id, "pump": number, "received_at": NOW - timedelta(seconds=20 + station_id + number),
                "sent_at": NOW, "agent_version": "1.4.2" if station_id % 5 else "1.3.9",
                "policy_mode": "monitor" if station_id % 7 == 0 else "enforce", "policy_sequence": 7 if station_id % 5 else 6,
                "policy_sha256": f"{station_id:02x}" * 32, "trust_list_sequence": 3, "status_list_sequences": {},
                "clock_offset_ms": (station_id * 1700) % 9000 - 4000, "reader": "lost" if station_id % 6 == 0 else "ok",
                "interlock": "fault" if station_id % 9 == 0 else "ok", "pump_enabled": False,
                "outbox_backlog": (station_id * number) % 4, "last_fill_at": None, "totaliser": 1000.0, "totaliser_unit": "kg",
                "faults": [], "history_at": NOW,
            }
            for station_id, number in rows
            if station_id not in quiet and station_id % 11
        ],
    )  # fmt: skip


def test_unexplained_gas_reported_by_a_station_shows_in_chromium(app: Flask, world: None, seeded: tuple[Engine, str]) -> None:
    alarm_id = _report_unexplained_gas(app)
    app.extensions["registry"].transaction(_fleet)
    with serve(make_app(seeded[0], seeded[1], Clock())) as base_url, chromium_peer() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(10_000)
        browser_sign_in(page, base_url, "bureau", PASSWORD)
        page.wait_for_url(re.compile(r"/dashboard/overview"))
        page.click("nav.main >> text=加气站运行状况")
        page.wait_for_url(re.compile(r"/dashboard/station-health"))
        page.fill("input[name=region]", "410103")  # B's district: a silent station among reporting ones
        page.click("#apply")
        page.wait_for_url(re.compile(r"region=410103"))
        assert page.locator("tr.station-health.silent").first.get_attribute("data-station") == B
        screenshot(page, "12-station-health")
        page.click("#filters >> text=重置")
        page.wait_for_url(re.compile(r"/dashboard/station-health$"))
        page.click("nav.health-tabs >> text=告警")
        page.wait_for_url(re.compile(r"/dashboard/station-alarms"))
        row = page.locator(f"tr[data-alarm='{alarm_id}']")
        assert row.locator("td.quantity").inner_text() == "12.5 kg"
        assert "无法解释的加气量" in row.inner_text()
        screenshot(page, "13-station-alarms")
        page.goto(f"{base_url}/dashboard/station-alarms?lang=en&kind=unexplained_quantity&station={A}")
        assert page.locator(f"tr[data-alarm='{alarm_id}'] td.quantity").inner_text() == "12.5 kg"
        page.goto(f"{base_url}/dashboard/time-dark?lang=zh_CN")
        screenshot(page, "14-time-dark")
        context.close()


def test_the_same_numbers_on_postgresql() -> None:
    """SQL one dialect alone accepts (the silent-first ordering, the window's OR, grouping by unit)."""
    url = create_database("dashboard_health_test")
    engine = build_database(url)
    try:
        app = make_app(engine, url, Clock())
        app.extensions["registry"].transaction(_world)
        client = app.test_client()
        assert sign_in(client, "bureau").status_code == 302
        rows = re.findall(r'data-station="([^"]+)"', page_text(client, "/dashboard/station-health?lang=en"))
        assert rows[0] == B and A in rows
        kg = page_text(client, "/dashboard/unexplained-quantity?lang=en").split('id="ranking-kg"')[1].split("</section>")[0]
        assert re.findall(r'class="ranked" data-station="([^"]+)"', kg) == [B, A] and "1,246.75 kg" in kg
        alarms = page_text(client, f"/dashboard/station-alarms?lang=en&region={_cell(engine, A)}")
        assert "12.5 kg" in alarms and "1,234.25 kg" in alarms and B not in alarms
        dark = page_text(client, "/dashboard/time-dark?since=2026-11-22&until=2026-11-22")
        assert dict(re.findall(r'data-station="([^"]+)" data-seconds="(\d+)"', dark)) == {A: "9000", B: "1800"}
        overrides = page_text(client, f"/dashboard/override-attempts?station={A}")
        assert 'class="num refused">2<' in overrides and 'class="num locked">1<' in overrides
    finally:
        engine.dispose()
        drop_database(url)


def test_the_bureau_api_gives_the_same_figures(app: Flask, world: None) -> None:
    registry = app.extensions["registry"]
    auth = {
        "Authorization": "Bearer " + registry.transaction(lambda s: accounts.issue_token(s, "t", NOW, username="bureau").token)
    }
    client = app.test_client()
    since, until = DAY_START.isoformat(), (DAY_START + timedelta(days=1)).isoformat()
    summary = client.get("/api/v1/bureau/station-alarms/summary", query_string={"since": since, "until": until}, headers=auth)
    assert summary.status_code == 200, summary.get_json()
    body = summary.get_json()
    assert [(r["station"], r["quantity"]) for r in body["unexplained"]["kg"]] == [(B, 2000.0), (A, 12.5)]
    assert {d["station"]: d["seconds"] for d in body["time_dark"]} == {A: 9000.0, B: 1800.0}
    assert {c["station"]: c["override_refused"] for c in body["override_attempts"] if c["override_refused"]} == {A: 2}
    alarms = client.get(
        "/api/v1/bureau/station-alarms", query_string={"station": A, "kind": "unexplained_quantity"}, headers=auth
    )
    assert [a["quantity"] for a in alarms.get_json()["alarms"]] == [12.5, 1234.25] and alarms.get_json()["unexplained"] == {
        "kg": 1246.75
    }
    health = client.get("/api/v1/bureau/station-health", query_string={"station": A}, headers=auth).get_json()
    assert health["total"] == 1 and [p["outbox_backlog"] for p in health["stations"][0]["pumps"]] == [17, 34]
    station_auth = {
        "Authorization": "Bearer " + registry.transaction(lambda s: accounts.issue_token(s, "t", NOW, username="station").token)
    }
    assert client.get("/api/v1/bureau/station-health", headers=station_auth).status_code == 403
