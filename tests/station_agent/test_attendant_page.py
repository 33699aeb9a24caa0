"""The booth page in real headless Chromium (Debian's /usr/bin/chromium through Playwright): it
follows reads by itself, shows the reason in Chinese, switches to English (or any installed
language), and its buttons work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station_agent.tagsource import TagReading
from station_agent.web import AttendantServer
from tag_tools.verdict import ChipEvidence, Originality
from tests.dashboard.browser import chromium_peer
from tests.station_agent.conftest import OVERDUE, SUPERVISOR_PASSWORD, Station, uid_for, vehicle_claims
from tests.station_agent.spanish import install_spanish

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


def test_page_follows_reads_in_chinese_and_english(make_station: Callable[..., Station], page_for: Any) -> None:
    from playwright.sync_api import expect

    station = make_station()
    page = page_for(station)
    screen, headline = page.locator("body"), page.get_by_test_id("headline")
    expect(headline).to_have_text("请读取气瓶标签", timeout=WAIT_MS)
    expect(screen).to_have_class("grey")
    expect(page).to_have_title("加气机气瓶核验")
    expect(page.locator("#lang")).to_have_text("English")
    expect(page.locator("#shift")).to_have_value("A-007")
    page.locator("#shift").fill("A-012")  # the attendant on shift enters their code
    page.locator("#shift-set").click()
    deadline = time.monotonic() + WAIT_MS / 1000
    while station.agent.attendant != "A-012":  # the POST has landed before the reads below
        assert time.monotonic() < deadline
        time.sleep(0.02)
    page.wait_for_function("() => fetch('/api/state').then(r => r.json()).then(s => s.attendant === 'A-012')", timeout=WAIT_MS)

    station.read(uid_for(0), **vehicle_claims(0, 2))  # first of two cylinders: blue, keep reading
    expect(headline).to_contain_text("请继续读取本车其他气瓶", timeout=WAIT_MS)
    expect(headline).to_contain_text("1/2")
    expect(screen).to_have_class("blue")
    expect(page.get_by_test_id("shape")).to_have_text("1/2")
    expect(page.get_by_test_id("plate")).to_have_text("豫A8M2K7")

    station.read(uid_for(1), **vehicle_claims(1, 2, **OVERDUE))  # the second one is overdue: red
    expect(headline).to_have_text("禁止加气", timeout=WAIT_MS)
    expect(screen).to_have_class("red")
    expect(page.get_by_test_id("reasons")).to_contain_text("气瓶超期未检")
    rows = page.get_by_test_id("cylinders").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("2026-11-01")
    expect(rows.nth(1)).to_have_class("refuse")
    expect(page.get_by_test_id("pump-state")).to_have_text("加气机已锁定")
    assert {p.body["registry"]["attendant"] for p in station.agent.outbox.unsent(10)} == {"A-012"}

    page.locator("#lang").click()
    expect(headline).to_have_text("Do not fill", timeout=WAIT_MS)
    expect(page.get_by_test_id("reasons")).to_contain_text("Periodic inspection overdue")

    page.locator("#new-vehicle").click()
    expect(headline).to_have_text("Read the cylinder tags", timeout=WAIT_MS)
    station.read(uid_for(2), **vehicle_claims(2))
    expect(headline).to_have_text("Fill", timeout=WAIT_MS)
    expect(screen).to_have_class("green")
    expect(page.get_by_test_id("pump-state")).to_have_text("Pump enabled")
    page.locator("#fill-done").click()
    expect(headline).to_have_text("Fill finished", timeout=WAIT_MS)
    assert not station.agent.pump.enabled


def test_override_from_the_page(make_station: Callable[..., Station], page_for: Any) -> None:
    from playwright.sync_api import expect

    station = make_station()
    page = page_for(station)
    message = station.pki.ndef_message(uid_for(0), **vehicle_claims(0))
    station.agent.handle(TagReading(uid_for(0), message, ChipEvidence(Originality.NOT_GENUINE)))
    expect(page.get_by_test_id("headline")).to_have_text("禁止加气", timeout=WAIT_MS)
    # The policy lets a supervisor release a chip that is not genuine: the form is offered, with labels.
    expect(page.get_by_label("加气员工号")).to_have_value("A-007")  # the attendant on shift, to change
    page.get_by_label("加气员工号").fill("A-009")
    page.get_by_label("主管工号").fill("S-01")
    page.get_by_label("主管密码").fill("wrong")
    page.get_by_label("授权原因（必填）").fill("chip replaced, ticket 77")
    page.locator("#ov-submit").click()
    # Refusals in the attendant's words, not the agent's English.
    expect(page.locator("#ov-result")).to_have_text("主管工号或密码错误", timeout=WAIT_MS)
    expect(page.locator("#ov-password")).to_have_value("")
    assert not station.agent.pump.enabled
    page.locator("#ov-password").fill(SUPERVISOR_PASSWORD)
    page.locator("#ov-submit").click()  # right at once after a wrong one: the throttle's delay
    expect(page.locator("#ov-result")).to_have_text("密码错误次数过多，请 1 秒后再试", timeout=WAIT_MS)
    page.locator("#lang").click()
    expect(page.locator("#ov-result")).to_have_text("Too many wrong passwords: try again in 1 s")
    page.locator("#lang").click()
    assert not station.agent.pump.enabled
    station.clock.advance(seconds=2)
    page.locator("#ov-password").fill(SUPERVISOR_PASSWORD)
    page.locator("#ov-submit").click()
    expect(page.get_by_test_id("headline")).to_have_text("主管已授权加气", timeout=WAIT_MS)
    expect(page.locator("#ov-result")).to_have_text("OK")  # the form's fields are gone; the result stays
    expect(page.locator("#ov-fields")).to_be_hidden()
    assert station.agent.pump.enabled
    page.locator("#new-vehicle").click()  # the next vehicle: the form closes
    expect(page.locator("#override")).to_be_hidden(timeout=WAIT_MS)
    assert not station.agent.pump.enabled


def test_the_language_button_cycles_through_every_installed_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_station: Callable[..., Station], page_for: Any
) -> None:
    from playwright.sync_api import expect

    install_spanish(tmp_path / "locale", monkeypatch)  # a catalogue directory, no code: Spanish is offered
    station = make_station()
    page = page_for(station)
    headline, button = page.get_by_test_id("headline"), page.locator("#lang")
    expect(headline).to_have_text("请读取气瓶标签", timeout=WAIT_MS)
    expect(button).to_have_text("English")  # each language by its own name, the next one a click shows
    button.click()
    expect(headline).to_have_text("Read the cylinder tags", timeout=WAIT_MS)
    expect(button).to_have_text("Español")
    button.click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(button).to_have_text("中文")

    station.read(uid_for(0), **vehicle_claims(0, 2))
    expect(headline).to_have_text("Lea los demás cilindros del vehículo (leídos 1/2)", timeout=WAIT_MS)
    station.read(uid_for(1), **vehicle_claims(1, 2, **OVERDUE))
    expect(headline).to_have_text("No cargar", timeout=WAIT_MS)
    expect(page.get_by_test_id("reasons")).to_contain_text("Inspección periódica vencida")
    expect(page.get_by_test_id("cylinders").locator("tbody tr").nth(1)).to_contain_text("No cargar")
    expect(page.locator("#pump-state")).to_have_text("Surtidor bloqueado")
    expect(page.locator("header [data-t='page.pump']")).to_have_text("Surtidor")
    # Not translated yet: English.
    expect(page.get_by_test_id("cylinders").locator("th").first).to_have_text("Cylinder")
    expect(page.locator("#fill-done")).to_have_text("Fill finished")
    expect(page).to_have_title("Cylinder check at the pump")
    button.click()
    expect(headline).to_have_text("禁止加气", timeout=WAIT_MS)
