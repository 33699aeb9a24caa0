"""An officer's session in a real headless Chromium against the seeded registry served by
waitress: sign in, drill down from the city to a vehicle, filter, sort, export, switch language.
Screenshots of the main pages go to test-artifacts/dashboard/ (DASHBOARD_SCREENSHOTS overrides)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.dashboard.browser import chromium_peer, screenshot, serve, sign_in
from tests.dashboard.world import PASSWORD, Clock, make_app

VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def base_url(seeded: tuple[Engine, str]) -> Iterator[str]:
    with serve(make_app(seeded[0], seeded[1], Clock())) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_peer() as instance:
        yield instance


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_sign_in_then_drill_from_city_to_vehicle(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/dashboard/overview")
    assert "/dashboard/sign-in" in page.url  # anonymous: sent to sign in first
    screenshot(page, "01-sign-in")
    sign_in(page, base_url, "bureau", PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard/overview"))
    assert page.locator("h1").inner_text().startswith("总览")
    assert page.locator("svg.chart rect[data-series=refused]").count() >= 10
    screenshot(page, "02-overview")

    district = page.locator("#areas a.drill").first
    district_name = district.inner_text()
    district.click()
    page.wait_for_url(re.compile(r"region=4101\d\d"))
    assert district_name in page.locator("h1").inner_text()
    assert "郑州市" in page.locator("nav.trail").inner_text()
    screenshot(page, "03-district")
    levels = 0
    while page.locator("#areas a.drill").count() and levels < 4:  # street cell, grid cell, ...
        page.locator("#areas a.drill").first.click()
        page.wait_for_load_state()
        levels += 1
    assert levels >= 1
    page.locator("#areas a[href*='/dashboard/stations/']").first.click()
    page.wait_for_url(re.compile(r"/dashboard/stations/ST-"))
    assert page.locator("h1 small").inner_text().startswith("ST-")
    screenshot(page, "04-station")

    plate_link = page.locator("#problems a[href*='/dashboard/vehicles/']").first
    plate = plate_link.inner_text()
    plate_link.click()
    page.wait_for_url(re.compile(r"/dashboard/vehicles/"))
    assert page.locator("h1 .plate").inner_text() == plate
    assert page.locator("#cylinders tbody tr").count() >= 1
    screenshot(page, "05-vehicle")
    page.locator("#cylinders a[href*='/dashboard/cylinders/']").first.click()
    page.wait_for_url(re.compile(r"/dashboard/cylinders/"))
    screenshot(page, "06-cylinder")


def test_filter_sort_and_export_the_list(page: Any, base_url: str) -> None:
    sign_in(page, base_url, "bureau", PASSWORD)
    page.goto(f"{base_url}/dashboard/attempts")
    page.select_option("select[name=outcome]", "overridden")
    page.fill("input[name=region]", "410105")
    page.select_option("select[name=sort]", "plate")
    page.select_option("select[name=order]", "asc")
    page.click("#apply")
    page.wait_for_url(re.compile(r"outcome=overridden"))
    badges = page.locator("table.attempts tbody .badge").all_inner_texts()
    assert badges and set(badges) == {"强制加气"}
    plates = page.locator("table.attempts tbody td:nth-child(3)").all_inner_texts()
    assert plates == sorted(plates)
    count = re.search(r"共 ([\d,]+) 条记录", page.locator("#count").inner_text())
    assert count is not None, page.locator("#count").inner_text()
    shown = int(count.group(1).replace(",", ""))
    stations = set(page.locator("table.attempts tbody td:nth-child(2)").all_inner_texts())
    screenshot(page, "07-attempts-filtered")

    with page.expect_download() as download_info:
        page.click("#export")
    download = download_info.value
    assert download.suggested_filename.startswith("refuel-attempts-410105-")
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == shown > 0
    assert {r["outcome"] for r in rows} == {"overridden"}
    assert {r["station_name"] for r in rows} >= stations and all("金水区" in r["station_name"] for r in rows)
    assert [r["plate"] for r in rows] == sorted(r["plate"] for r in rows)
    assert all(r["attendant"] for r in rows)  # an override always names the attendant


def test_switch_to_english_and_it_sticks(page: Any, base_url: str) -> None:
    sign_in(page, base_url, "bureau", PASSWORD)
    page.goto(f"{base_url}/dashboard/overview")
    assert page.locator("a.lang").all_inner_texts() == ["English", "中文"]
    page.click("a.lang[hreflang=en]")
    page.wait_for_url(re.compile(r"lang=en"))
    assert page.locator("h1").inner_text().startswith("Overview")
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "08-overview-en")
    page.click("nav.main >> text=Refuel attempts")
    assert page.locator("h1").inner_text() == "Refuel attempts"
    assert re.search(r"(Nov|Oct) \d+, 2026", page.locator("table.attempts tbody").inner_text())  # CLDR's English dates


def test_centre_user_sees_its_inspections_only(page: Any, base_url: str) -> None:
    sign_in(page, base_url, "centre1", PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard/inspections"))
    assert page.locator("nav.main a").all_inner_texts() == ["检验记录"]
    reports = page.locator("table.data tbody td:nth-child(3)").all_inner_texts()
    assert len(reports) == 20 and all(r.startswith("ZZTJ01-") for r in reports)
    screenshot(page, "09-centre-inspections")
    page.goto(f"{base_url}/dashboard/overview")
    assert "无权访问" in page.locator("h1").inner_text()


def test_wrong_password_shows_why(page: Any, base_url: str) -> None:
    sign_in(page, base_url, "bureau", "not-the-password")
    assert page.locator("p.alert").inner_text() == "用户名或密码错误"
    assert "/dashboard/sign-in" in page.url
