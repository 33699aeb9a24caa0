"""The booth page in real headless Chromium (Debian's /usr/bin/chromium through Playwright): it
follows reads by itself, shows the reason in Chinese, switches to English, and its buttons work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from station_agent.tagsource import TagReading
from station_agent.web import AttendantServer
from tag_tools.verdict import ChipEvidence, Originality
from tests.dashboard.browser import chromium_peer
from tests.station_agent.conftest import OVERDUE, SUPERVISOR_PASSWORD, uid_for, vehicle_claims

WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_peer() as browser:
        yield browser


@pytest.fixture
def page_for(browser: Any) -> Iterator[Any]:
    servers: list[AttendantServer] = []
    pages: list[Any] = []

    def open_page(station: Any) -> Any:
        server = AttendantServer(station.agent, "127.0.0.1", 0).start()
        servers.append(server)
        page = browser.new_page()
        pages.append(page)
        page.goto(server.url)
        return page

    yield open_page
    for page in pages:
        page.close()
    for server in servers:
        server.stop()


def test_page_follows_reads_in_chinese_and_english(make_station, page_for) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    station = make_station()
    page = page_for(station)
    panel, headline = page.get_by_test_id("panel"), page.get_by_test_id("headline")
    expect(headline).to_have_text("请读取气瓶标签", timeout=WAIT_MS)
    expect(panel).to_have_class("idle")
    expect(page.locator("#shift")).to_have_value("A-007")
    page.locator("#shift").fill("A-012")  # the attendant on shift enters their code
    page.locator("#shift-set").click()
    deadline = time.monotonic() + WAIT_MS / 1000
    while station.agent.attendant != "A-012":  # the POST has landed before the reads below
        assert time.monotonic() < deadline
        time.sleep(0.02)
    page.wait_for_function("() => fetch('/api/state').then(r => r.json()).then(s => s.attendant === 'A-012')", timeout=WAIT_MS)

    station.read(uid_for(0), **vehicle_claims(0, 2))  # first of two cylinders: amber, keep reading
    expect(headline).to_contain_text("请继续读取本车其他气瓶", timeout=WAIT_MS)
    expect(headline).to_contain_text("1/2")
    expect(panel).to_have_class("amber")
    expect(page.get_by_test_id("plate")).to_have_text("豫A8M2K7")

    station.read(uid_for(1), **vehicle_claims(1, 2, **OVERDUE))  # the second one is overdue: red
    expect(headline).to_have_text("禁止加气", timeout=WAIT_MS)
    expect(panel).to_have_class("red")
    expect(page.get_by_test_id("reasons")).to_contain_text("气瓶超期未检")
    rows = page.get_by_test_id("cylinders").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("2026-11-01")
    expect(rows.nth(1)).to_have_class("refuse")
    expect(page.locator("#pump-state")).to_have_text("加气机已锁定")
    assert {p.body["registry"]["attendant"] for p in station.agent.outbox.unsent(10)} == {"A-012"}

    page.locator("#lang").click()
    expect(headline).to_have_text("Do not fill", timeout=WAIT_MS)
    expect(page.get_by_test_id("reasons")).to_contain_text("Periodic inspection overdue")

    page.locator("#new-vehicle").click()
    expect(headline).to_have_text("Read the cylinder tags", timeout=WAIT_MS)
    station.read(uid_for(2), **vehicle_claims(2))
    expect(headline).to_have_text("Fill", timeout=WAIT_MS)
    expect(panel).to_have_class("green")
    expect(page.locator("#pump-state")).to_have_text("Pump enabled")
    page.locator("#fill-done").click()
    expect(headline).to_have_text("Fill finished", timeout=WAIT_MS)
    assert not station.agent.pump.enabled


def test_override_from_the_page(make_station, page_for) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    station = make_station()
    page = page_for(station)
    message = station.pki.ndef_message(uid_for(0), **vehicle_claims(0))
    station.agent.handle(TagReading(uid_for(0), message, ChipEvidence(Originality.NOT_GENUINE)))
    expect(page.get_by_test_id("headline")).to_have_text("禁止加气", timeout=WAIT_MS)
    page.locator("#override summary").click()
    page.locator("#ov-attendant").fill("A-009")
    page.locator("#ov-supervisor").fill("S-01")
    page.locator("#ov-password").fill("wrong")
    page.locator("#ov-reason").fill("chip replaced, ticket 77")
    page.locator("#ov-submit").click()
    expect(page.locator("#ov-result")).to_have_text("unknown supervisor or wrong password", timeout=WAIT_MS)
    assert not station.agent.pump.enabled
    page.locator("#ov-password").fill(SUPERVISOR_PASSWORD)
    page.locator("#ov-submit").click()  # right at once after a wrong one: the throttle's delay
    expect(page.locator("#ov-result")).to_have_text("too many wrong passwords, try again in 1 s", timeout=WAIT_MS)
    assert not station.agent.pump.enabled
    station.clock.advance(seconds=2)
    page.locator("#ov-password").fill(SUPERVISOR_PASSWORD)
    page.locator("#ov-submit").click()
    expect(page.get_by_test_id("headline")).to_have_text("主管已授权加气", timeout=WAIT_MS)
    assert station.agent.pump.enabled
