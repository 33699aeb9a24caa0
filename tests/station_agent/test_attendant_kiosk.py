"""The attendant's screen as a kiosk, in real headless Chromium started with the kiosk's sound flag
(docs/station.md "What the attendant sees"): every state in its colour and shape with the pump state
it claims, colours told apart by luminance, a refusal tone, "not connected, do not fill" when the
agent falls silent or is killed, no horizontal overflow at 1366x768 and 390x844, and no axe-core
violation in Chinese or English. Screenshots go to test-artifacts/attendant/ (ATTENDANT_SCREENSHOTS
overrides: docs/img when refreshing the docs)."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from station_agent.errors import OutboxFullError
from station_agent.tagsource import TagReading
from station_agent.web import AttendantServer
from tag_tools.verdict import ChipEvidence, Originality
from tests.accessibility import axe_violations, describe
from tests.dashboard.browser import chromium_peer
from tests.station_agent.conftest import OVERDUE, SUPERVISOR_PASSWORD, Station, uid_for, vehicle_claims
from tests.station_agent.test_attendant_page import WAIT_MS
from tests.testkit import TestPki

ROOT = Path(__file__).resolve().parents[2]
KIOSK_FLAGS = ("--autoplay-policy=no-user-gesture-required",)  # docs/station.md: the kiosk browser's flags
VIEWPORTS = ((1366, 768), (390, 844))
PUMP_ON, PUMP_OFF, PUMP_UNKNOWN = "加气机已开启", "加气机已锁定", "加气机状态未知"
SILENT_AFTER_S = 2.0  # the bound: "not connected" within 2 s of the agent going away
# Counts each tone the page starts, and the audio's state then ("running": it plays without a tap).
COUNT_TONES = """
window.tones = [];
const startTone = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.tones.push(this.context.state); return startTone.apply(this, args); };
"""
TONES_PER_REFUSAL = 4


def screenshot_dir() -> Path:
    return Path(os.environ.get("ATTENDANT_SCREENSHOTS") or ROOT / "test-artifacts" / "attendant")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_peer(*KIOSK_FLAGS) as browser:
        yield browser


@pytest.fixture
def kiosk(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens the booth page of a station's agent, as the kiosk does, with its tones counted. With
    `axe`, the page's CSP is bypassed so that axe-core can be injected (as the dashboard's tests do)."""
    servers: list[AttendantServer] = []
    pages: list[Any] = []

    def open_page(station: Station, axe: bool = False) -> Any:
        server = AttendantServer(station.agent, "127.0.0.1", 0).start()
        servers.append(server)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, bypass_csp=axe)
        pages.append(page)
        page.add_init_script(COUNT_TONES)
        page.goto(server.url)
        return page

    yield open_page
    for page in pages:
        page.close()
    for server in servers:
        server.stop()


def expect_screen(page: Any, state: str, colour: str, shape: str, pump: str) -> str:
    """The whole screen is in `state`: its colour, its shape, the pump state it claims. Returns the
    screen's background colour as the browser computed it."""
    from playwright.sync_api import expect

    body = page.locator("body")
    expect(body).to_have_attribute("data-state", state, timeout=WAIT_MS)
    expect(body).to_have_class(colour)
    expect(page.get_by_test_id("shape")).to_have_class(f"shape {shape}")
    expect(page.get_by_test_id("pump-state")).to_have_text(pump)
    return str(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))


def tones(page: Any) -> list[str]:
    return list(page.evaluate("() => window.tones"))


def luminance(css: str) -> float:
    """WCAG relative luminance of an rgb(...) colour."""

    def linear(value: str) -> float:
        c = int(value) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v) for v in re.findall(r"\d+", css)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _not_genuine(station: Station, index: int, count: int = 1, plate: str = "豫A8M2K7") -> None:
    """A read refused for a chip that is not genuine: a refusal the default policy lets a supervisor release."""
    message = station.pki.ndef_message(uid_for(index), **vehicle_claims(index, count, plate=plate))
    station.agent.handle(TagReading(uid_for(index), message, ChipEvidence(Originality.NOT_GENUINE)))


def test_every_state_has_its_shape_colour_and_pump_state(
    make_station: Callable[..., Station], kiosk: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    station = make_station(timezone="Asia/Shanghai")
    agent = station.agent
    page = kiosk(station)
    shape, headline, form = page.get_by_test_id("shape"), page.get_by_test_id("headline"), page.locator("#override")
    backgrounds = {"idle": expect_screen(page, "idle", "grey", "ring", PUMP_OFF)}

    station.read(uid_for(0), **vehicle_claims(0, 3))
    backgrounds["collecting"] = expect_screen(page, "collecting", "blue", "count", PUMP_OFF)
    expect(shape).to_have_text("1/3")
    station.read(uid_for(1), **vehicle_claims(1, 3))
    expect(shape).to_have_text("2/3", timeout=WAIT_MS)
    station.read(uid_for(2), **vehicle_claims(2, 3))
    backgrounds["ready"] = expect_screen(page, "ready", "green", "tick", PUMP_ON)
    assert agent.pump.enabled
    page.locator("#fill-done").click()
    expect_screen(page, "done", "grey", "ring", PUMP_OFF)
    assert not agent.pump.enabled

    due_soon = (station.clock.now + timedelta(days=10)).date()
    station.read(uid_for(3), **vehicle_claims(3, plate="豫A00003", next_due=due_soon))
    expect_screen(page, "ready_warning", "green", "tick", PUMP_ON)
    expect(page.get_by_test_id("reasons")).to_contain_text("气瓶即将到期")
    assert agent.pump.enabled and tones(page) == []  # a fill makes no sound
    page.locator("#fill-done").click()
    # The click is the page's own POST: wait until the agent has ended this fill before the next
    # vehicle's read, or that read arrives while 豫A00003 is still being filled.
    expect_screen(page, "done", "grey", "ring", PUMP_OFF)

    station.read(uid_for(4), **vehicle_claims(4, plate="豫A00004", **OVERDUE))
    backgrounds["refused"] = expect_screen(page, "refused", "red", "cross", PUMP_OFF)
    expect(form).to_be_hidden()  # overdue: the policy lets no supervisor release it
    assert tones(page) == ["running"] * TONES_PER_REFUSAL  # the refusal tone, played without a tap
    page.locator("#new-vehicle").click()
    expect_screen(page, "idle", "grey", "ring", PUMP_OFF)

    _not_genuine(station, 5, plate="豫A00005")
    expect_screen(page, "refused", "red", "cross", PUMP_OFF)
    expect(form).to_be_visible()
    assert len(tones(page)) == 2 * TONES_PER_REFUSAL  # another vehicle refused: sounded again
    station.clock.advance(seconds=121)  # the session window passes: the refusal stays until the next vehicle
    expect(form).to_be_hidden(timeout=WAIT_MS)  # the session is over: nothing to release any more
    expect_screen(page, "refused", "red", "cross", PUMP_OFF)
    expect(headline).to_have_text("禁止加气")
    assert len(tones(page)) == 2 * TONES_PER_REFUSAL

    _not_genuine(station, 5, plate="豫A00005")  # read again: a new session, which may be released
    expect(form).to_be_visible(timeout=WAIT_MS)
    agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "chip replaced, ticket 80")
    backgrounds["overridden"] = expect_screen(page, "overridden", "green", "tick", PUMP_ON)
    assert agent.pump.enabled
    page.locator("#new-vehicle").click()
    expect_screen(page, "idle", "grey", "ring", PUMP_OFF)

    station.read(uid_for(6), **vehicle_claims(6, 2, plate="豫A00006"))
    expect_screen(page, "collecting", "blue", "count", PUMP_OFF)
    station.clock.advance(seconds=121)
    expect_screen(page, "expired", "red", "cross", PUMP_OFF)
    assert len(tones(page)) == 4 * TONES_PER_REFUSAL

    def broken(*args: object) -> None:
        raise OutboxFullError("database or disk is full")

    monkeypatch.setattr(agent.assessor, "assess", broken)
    station.read(uid_for(7), **vehicle_claims(7))
    backgrounds["fault"] = expect_screen(page, "fault", "red", "cross", PUMP_OFF)
    expect(headline).to_have_text("系统故障，禁止加气")
    local = station.clock.now.astimezone(ZoneInfo("Asia/Shanghai"))  # the station's clock face, not UTC
    expect(page.get_by_test_id("reasons")).to_contain_text(f"站控程序出错（{local:%H:%M} 起）")
    assert "Error" not in page.locator("body").inner_text()  # no exception's name on the screen
    assert len(tones(page)) == 5 * TONES_PER_REFUSAL

    monitor = make_station(mode="monitor")
    watching = kiosk(monitor)
    monitor.read(uid_for(8), **vehicle_claims(8, **OVERDUE))
    expect_screen(watching, "would_refuse", "green", "tick", PUMP_ON)  # monitor mode blocks nothing
    expect(watching.get_by_test_id("headline")).to_have_text("监测模式：本应禁止加气")
    assert monitor.agent.pump.enabled and tones(watching) == []

    # Told apart by luminance, not hue alone: fill and do-not-fill at least 3:1, and "keep reading"
    # unlike both. Every fill state has one colour, every stop state another.
    fill, stop, wait = backgrounds["ready"], backgrounds["refused"], backgrounds["collecting"]
    assert backgrounds["overridden"] == fill and backgrounds["fault"] == stop
    assert contrast(fill, stop) >= 3.0, (fill, stop)
    assert contrast(wait, fill) >= 2.0 and contrast(wait, stop) >= 2.0, (wait, fill, stop)
    assert contrast(backgrounds["idle"], fill) >= 3.0


def test_a_silent_agent_turns_the_screen_to_do_not_fill(make_station: Callable[..., Station], kiosk: Callable[..., Any]) -> None:
    from playwright.sync_api import expect

    station = make_station()
    page = kiosk(station)
    station.read(uid_for(0), **vehicle_claims(0))
    expect_screen(page, "ready", "green", "tick", PUMP_ON)
    with station.agent.changed:  # the agent hangs (or the link is cut): no snapshot, no beat
        went_silent = time.monotonic()
        expect(page.locator("body")).to_have_attribute("data-state", "disconnected", timeout=SILENT_AFTER_S * 1000)
        assert time.monotonic() - went_silent <= SILENT_AFTER_S
        expect_screen(page, "disconnected", "red", "cross", PUMP_UNKNOWN)
        expect(page.get_by_test_id("headline")).to_have_text("未连接，禁止加气")
        expect(page.get_by_test_id("cylinders").locator("tbody tr")).to_have_count(0)
        assert tones(page) == ["running"] * TONES_PER_REFUSAL
    expect_screen(page, "ready", "green", "tick", PUMP_ON)  # it answers again: the screen follows


def _agent_config(tmp_path: Path, reads: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(
        f"""
[station]
code = "ST-JS-01"
pump = 1
state_dir = "{tmp_path / "state"}"
[reader]
path = "file:{reads}"
[interlock]
path = "log:"
[trust]
root_certificate = "{tmp_path / "root.pem"}"
initial_trust_list = "{tmp_path / "trust-list.cose"}"
[policy]
timezone = "Asia/Shanghai"
[attendant]
listen = "127.0.0.1:0"
""",
        encoding="utf-8",
    )
    return path


def _page_url(agent: subprocess.Popen[bytes], wait_s: float = 30.0) -> str | None:
    """The booth page's address, from the line `station-agent run` prints once it serves it."""
    assert agent.stdout is not None
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and agent.poll() is None:
        if select.select([agent.stdout], [], [], 0.2)[0]:
            found = re.search(r"attendant page (http://\S+)", agent.stdout.readline().decode())
            if found:
                return found.group(1)
    return None


def test_killing_the_agent_turns_the_screen_to_do_not_fill_within_2_s(tmp_path: Path, browser: Any) -> None:
    """`station-agent run` as a process, killed with SIGKILL while its pump is on."""
    from playwright.sync_api import expect

    pki = TestPki.create(datetime.now(UTC))  # the agent judges by the real clock
    (tmp_path / "root.pem").write_bytes(pki.root_certificate_pem)
    (tmp_path / "trust-list.cose").write_bytes(pki.trust_list_bytes)
    reads = tmp_path / "reads.jsonl"
    message = pki.ndef_message(uid_for(0), **vehicle_claims(0))
    reads.write_text(f'{{"uid": "{uid_for(0).hex()}", "ndef": "{message.hex()}", "originality": "genuine"}}\n', encoding="utf-8")
    config = _agent_config(tmp_path, reads)
    config.chmod(0o600)
    log = tmp_path / "agent.log"
    agent = subprocess.Popen(
        [sys.executable, "-m", "station_agent.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        cwd=ROOT,
    )
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        url = _page_url(agent)
        assert url, f"the agent did not start: {log.read_text(encoding='utf-8')}"
        page.add_init_script(COUNT_TONES)
        page.goto(url)
        expect_screen(page, "ready", "green", "tick", PUMP_ON)
        os.kill(agent.pid, signal.SIGKILL)
        killed = time.monotonic()
        expect(page.locator("body")).to_have_attribute("data-state", "disconnected", timeout=SILENT_AFTER_S * 1000)
        assert time.monotonic() - killed <= SILENT_AFTER_S
        expect_screen(page, "disconnected", "red", "cross", PUMP_UNKNOWN)
        expect(page.get_by_test_id("headline")).to_have_text("未连接，禁止加气")
        assert len(tones(page)) == TONES_PER_REFUSAL
    finally:
        page.close()
        if agent.poll() is None:
            agent.kill()
        agent.wait(10)
        if agent.stdout is not None:
            agent.stdout.close()


def _fits(page: Any, name: str, screenshots: bool) -> None:
    """No page wider than the screen, at both sizes; with `screenshots`, a picture of each."""
    directory = screenshot_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= width, f"{name} at {width}x{height}: {wide} px wide"
        if screenshots:
            page.screenshot(path=str(directory / f"{name}-{width}.png"))
    page.set_viewport_size({"width": 1366, "height": 768})


def _check_every_language(page: Any, look: str) -> None:
    """Fits both screens and passes axe in zh, then in en (the language button), and back to zh.
    Screenshots in zh only: they cost time, and the words are checked either way."""
    from playwright.sync_api import expect

    for language in ("zh", "en"):
        expect(page.locator("html")).to_have_attribute("lang", language)
        _fits(page, f"attendant-{look}-{language}", screenshots=language == "zh")
        violations = axe_violations(page)
        assert not violations, f"{look} ({language}):\n{describe(violations)}"
        page.locator("#lang").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh")


def test_every_look_fits_the_screen_and_passes_axe_in_both_languages(
    make_station: Callable[..., Station], kiosk: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    station = make_station()
    page = kiosk(station, axe=True)
    expect_screen(page, "idle", "grey", "ring", PUMP_OFF)
    _check_every_language(page, "idle")

    station.read(uid_for(0), **vehicle_claims(0, 3))
    expect_screen(page, "collecting", "blue", "count", PUMP_OFF)
    _check_every_language(page, "keep-reading")

    # The fullest screen: a vehicle of three, two of its chips not genuine, and the override form
    # (the policy lets a supervisor release a chip that is not genuine).
    _not_genuine(station, 1, 3)
    _not_genuine(station, 2, 3)
    expect_screen(page, "refused", "red", "cross", PUMP_OFF)
    expect(page.locator("#override")).to_be_visible()
    _check_every_language(page, "refused")

    station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "chip replaced, ticket 81")
    expect_screen(page, "overridden", "green", "tick", PUMP_ON)
    _check_every_language(page, "fill")

    with station.agent.changed:  # silence: the page's own state
        expect_screen(page, "disconnected", "red", "cross", PUMP_UNKNOWN)
        _check_every_language(page, "disconnected")

    expect_screen(page, "overridden", "green", "tick", PUMP_ON)
    page.locator("#shift").fill("")  # an empty attendant code is answered, in words
    page.locator("#shift-set").click()
    expect(page.locator("#shift-result")).to_have_text("请填写加气员工号", timeout=WAIT_MS)
    expect(page.locator("#shift")).to_have_attribute("aria-invalid", "true")
    assert station.agent.attendant == "A-007"
    violations = axe_violations(page)
    assert not violations, describe(violations)
