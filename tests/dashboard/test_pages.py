"""What the pages say, checked against the database: counts, drill-down, filters, sorting, CSV,
language, and bad input answered with a page rather than a crash."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from registry_service.models import Outcome, Region, ScanEvent, Station, Vehicle
from tests.dashboard.helpers import count_events, sign_in

ROW = re.compile(r'<tr class="(allowed|refused|overridden|would_refuse)">(.*?)</tr>', re.S)
DEFAULT_RANGE = ("2026-11-09", "2026-11-22")  # 14 local days ending on the clock's day


@pytest.fixture
def bureau(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "bureau").status_code == 302
    return client


def tile(text: str, name: str) -> int:
    match = re.search(rf'id="tile-{name}".*?<span class="value">([\d,]+)</span>', text, re.S)
    assert match, name
    return int(match.group(1).replace(",", ""))


def test_overview_totals_match_the_database(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    text = bureau.get("/dashboard/overview").get_data(as_text=True)
    for outcome in (Outcome.REFUSED, Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE):
        expected = count_events(seeded[0], *DEFAULT_RANGE, ScanEvent.outcome == outcome)
        assert expected > 0, f"the seeded city has {outcome.value} attempts"
        assert tile(text, outcome.value) == expected
    assert text.count("<rect") > 14  # a bar per day and series in the SVG chart


def test_drill_down_from_city_to_district_to_cell(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    engine = seeded[0]
    city = bureau.get("/dashboard/overview").get_data(as_text=True)
    assert 'data-code="410105"' in city and "金水区" in city
    district = bureau.get("/dashboard/overview?region=410105").get_data(as_text=True)
    with engine.connect() as connection:
        streets = connection.scalars(
            select(Region.code).where(Region.path.like("4101/410105/%"), ~Region.path.like("4101/410105/%/%"))
        ).all()
        district_refused = count_events(
            engine,
            *DEFAULT_RANGE,
            ScanEvent.outcome == Outcome.REFUSED,
            ScanEvent.station_id.in_(
                select(Station.id).join(Region, Region.id == Station.region_id).where(Region.path.like("4101/410105/%"))
            ),
        )
    rows = re.findall(r'<tr data-code="([^"]+)">.*?<td class="num">([\d,]+)</td>', district, re.S)
    assert sorted(code for code, _ in rows) == sorted(streets)
    assert sum(int(n.replace(",", "")) for _, n in rows) == district_refused
    assert '<nav class="trail" aria-label="当前位置">' in district and "郑州市" in district
    # Down to a street cell, then its grid cells; at the bottom, stations are listed.
    street = next(code for code, n in rows if n != "0")
    cells = bureau.get(f"/dashboard/overview?region={street}").get_data(as_text=True)
    cell = re.findall(r'<tr data-code="([^"]+)">.*?<td class="num">([1-9][\d,]*)</td>', cells, re.S)[0][0]
    leaf = bureau.get(f"/dashboard/overview?region={cell}").get_data(as_text=True)
    assert "station-mark" in leaf and "/dashboard/stations/ST-" in leaf


def test_attempts_filter_by_outcome_and_region(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    response = bureau.get("/dashboard/attempts?outcome=overridden&region=410105")
    text = response.get_data(as_text=True)
    rows = ROW.findall(text)
    assert rows and {outcome for outcome, _ in rows} == {"overridden"}
    with seeded[0].connect() as connection:
        jinshui = connection.scalars(
            select(Station.name).join(Region, Region.id == Station.region_id).where(Region.path.like("4101/410105/%"))
        ).all()
    assert all(any(name in body for name in jinshui) for _, body in rows)
    expected = count_events(
        seeded[0],
        *DEFAULT_RANGE,
        ScanEvent.outcome == Outcome.OVERRIDDEN,
        ScanEvent.station_id.in_(select(Station.id).where(Station.name.in_(jinshui))),
    )
    assert f"共 {expected} 条记录" in text


def test_attempts_sort_and_page(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/attempts?sort=plate&order=asc").get_data(as_text=True)
    plates = re.findall(r'/dashboard/vehicles/[^"]+">([^<]+)</a>', text)
    assert len(plates) == 50 and plates == sorted(plates)
    page2 = bureau.get("/dashboard/attempts?sort=plate&order=asc&page=2").get_data(as_text=True)
    plates2 = re.findall(r'/dashboard/vehicles/[^"]+">([^<]+)</a>', page2)
    assert plates2 and plates2[0] >= plates[-1]
    assert 'rel="prev"' in page2


def test_csv_export_has_every_matching_attempt(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    response = bureau.get("/dashboard/attempts.csv?outcome=refused&reason=inspection_overdue")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    expected = count_events(
        seeded[0], *DEFAULT_RANGE, ScanEvent.outcome == Outcome.REFUSED, ScanEvent.reasons.contains("inspection_overdue")
    )
    assert len(rows) == expected > 50  # more than one page: the export is not just the page shown
    assert {r["outcome"] for r in rows} == {"refused"}
    assert all(r["reason_text"] == "气瓶超期未检" for r in rows)
    assert rows[0]["local_time"].startswith("2026年11月")


def test_english_by_query_then_by_cookie(bureau: FlaskClient) -> None:
    english = bureau.get("/dashboard/overview?lang=en")
    assert "lang=en" in english.headers["Set-Cookie"]
    assert "Refused" in english.get_data(as_text=True) and 'lang="en"' in english.get_data(as_text=True)
    again = bureau.get("/dashboard/attempts").get_data(as_text=True)
    assert "Refuel attempts" in again and "加气记录查询" not in again
    assert "拒绝加气" in bureau.get("/dashboard/overview?lang=zh").get_data(as_text=True)


def test_station_and_vehicle_pages(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    station = bureau.get("/dashboard/stations/ST-410105-01")
    assert station.status_code == 200 and "ST-410105-01" in station.get_data(as_text=True)
    with seeded[0].connect() as connection:
        plate = connection.scalar(select(ScanEvent.plate).where(ScanEvent.outcome == Outcome.OVERRIDDEN).limit(1))
        assert connection.scalar(select(Vehicle.id).where(Vehicle.plate == plate)) is not None
    vehicle = bureau.get(f"/dashboard/vehicles/{plate}").get_data(as_text=True)
    overrides = vehicle.split('id="overrides"')[1].split("</section>")[0]
    assert 'class="overridden"' in overrides
    assert 'id="cylinders"' in vehicle and "156-4101-" in vehicle


@pytest.mark.parametrize(
    "query",
    ["since=2026-13-01", "outcome=maybe", "sort=secret", "page=0", "region=%27%3B--", "since=2025-01-01&until=2026-11-22"],
)
def test_bad_filters_get_a_page_not_a_crash(bureau: FlaskClient, query: str) -> None:
    response = bureau.get(f"/dashboard/attempts?{query}")
    assert response.status_code == 422  # the form again, the field marked: tests/dashboard/test_form_errors.py
    assert response.mimetype == "text/html" and 'id="form-errors"' in response.get_data(as_text=True)


def test_unknown_places_are_404_pages(bureau: FlaskClient) -> None:
    for path in (
        "/dashboard/stations/NOPE",
        "/dashboard/vehicles/NOPE",
        "/dashboard/cylinders/1-2-3",
    ):
        response = bureau.get(path)
        assert response.status_code == 404 and response.mimetype == "text/html", path


def test_overrides_show_supervisor_and_reason_and_offline_is_marked(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    from datetime import UTC, datetime

    text = bureau.get("/dashboard/attempts?outcome=overridden").get_data(as_text=True)
    rows = ROW.findall(text)
    assert rows and all('class="supervisor"' in body and 'class="override-reason"' in body for _, body in rows)
    assert "授权主管: S-0" in text and "强制加气理由: " in text
    with seeded[0].connect() as connection:
        offline = connection.execute(
            select(ScanEvent.tag_uid, ScanEvent.event_uuid)
            .where(
                ScanEvent.decided_offline.is_(True),
                ScanEvent.occurred_at >= datetime(2026, 11, 10, tzinfo=UTC),
                ScanEvent.occurred_at < datetime(2026, 11, 21, tzinfo=UTC),
                ScanEvent.tag_uid.is_not(None),
            )
            .limit(1)
        ).first()
    assert offline is not None
    page = bureau.get(f"/dashboard/attempts?tag_uid={offline.tag_uid}").get_data(as_text=True)
    assert 'class="badge offline"' in page and ">离线<" in page
    allowed = bureau.get("/dashboard/attempts?outcome=allowed").get_data(as_text=True)
    assert 'class="supervisor"' not in allowed
