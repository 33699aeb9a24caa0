"""Issue 16's end-to-end story in Chromium, with the registry's clock injected (nobody waits):

a station in 二七区 uploads refused scans of two 金水区 taxis (one overdue cylinder, one past its life)
-> a case for each opens in the vehicles' home cell, not the station's -> the cell's officer signs
in, accepts, dispatches and handles the first -> the second's deadline passes (the clock moves a
day on; services.cases.sweep_deadlines runs as the sweeper would) -> it escalates to the district
and shows in red on the lead's and the bureau's pages -> a passing inspection of the first cylinder
arrives through the API -> the first case closes itself, verified -> the weekly report counts both
-> the officer of the station's own cell sees neither -> the owner's notice reaches a real local
SMTP server (aiosmtpd) exactly once though delivery runs twice. Then a patrol on a 360 px phone:
the failed item opens a case the patrol page links to.

Screenshots for docs/bureau.md and docs/grid.md: DASHBOARD_SCREENSHOTS=docs/img.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from registry_service import grading_rules, migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.dashboard import register_dashboard
from registry_service.db import make_engine, make_session_factory
from registry_service.models import Case, Region, Vehicle
from registry_service.notify.delivery import deliver_due
from registry_service.notify.smtp import SmtpSender, SmtpSettings
from registry_service.services import accounts, cases, grades, notices
from tests.dashboard.browser import chromium_peer, screenshot, serve
from tests.dashboard.browser import sign_in as browser_sign_in
from tests.registry.conftest import Clock, World
from tests.registry.helpers import add_vehicle, post_events, refused
from tests.registry.test_notices import Inbox, free_port
from tests.testkit import TestPki

START = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # Monday 09:00 in Zhengzhou, ISO week 2026-W47
PASSWORD = "correct-horse-battery"
UID = bytes.fromhex("04A2C4D2E15A80")
PLATE_A, PLATE_B, CYLINDER_B = "豫A8M2K7", "豫A22222", "156-4101-77"
HOME_CELL, DISTRICT, STATION = "410105-01", "410105", "ST-EQ-01"  # the taxis' cell; the station is in 410103-01
OWNER = "owner@example.cn"
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 360, "height": 740}


@dataclass
class Story:
    app: Flask
    world: World
    clock: Clock
    pki: TestPki
    engine: Engine


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    folder = tmp_path_factory.mktemp("grid-story")
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    engine = make_engine(RegistryConfig(database_url=url))
    migrate.upgrade(engine)
    clock, pki = Clock(START), TestPki.create(START)
    config = RegistryConfig(
        database_url=url, bureau_root_pem=pki.root_certificate_pem, token_cache_s=0, data_dir=str(folder / "data")
    )
    app = create_app(config, engine=engine, clock=clock)
    register_dashboard(app, secret_key="grid-story-secret")
    world = World(app, clock).build()  # 410105 > 410105-01 (ST-JS-01), 410103 > 410103-01 (ST-EQ-01); officer "grid"
    world.tokens["grid2"] = world.add_grid_person("grid2", "410103-01")  # the station's own cell
    world.tokens["lead"] = world.add_grid_person("lead", DISTRICT, duty="lead")

    def people(s: Session) -> None:
        for name in ("bureau", "grid", "grid2", "lead"):
            accounts.set_password(s, "test", clock(), username=name, password=PASSWORD)

    world.registry.transaction(people)
    yield Story(app, world, clock, pki, engine)
    engine.dispose()


def _submit_inspection(story: Story, sequence: int, report: str) -> None:
    message = story.pki.ndef_message(UID, sequence=sequence, report_number=report)
    response = story.app.test_client().post(
        "/api/v1/inspections", json={"record": base64.b64encode(message).decode()}, headers=story.world.auth("centre")
    )
    assert response.status_code == 201, response.json


def _fleet(story: Story) -> None:
    """Two 金水区 taxis (home cell 410105-01), the first with an owner who agreed to e-mail."""
    client, world = story.app.test_client(), story.world
    put = client.put(
        "/api/v1/trust-list", data=story.pki.trust_list_bytes, content_type="application/cose", headers=world.auth("bureau")
    )
    assert put.status_code == 201
    _submit_inspection(story, 3, "2026-ZZ-000001")  # registers cylinder A on PLATE_A
    add_vehicle(world, PLATE_B, [{"cylinder_id": CYLINDER_B, "end_of_life": date(2026, 1, 1)}])

    def homes(s: Session) -> None:
        cell = s.scalar(select(Region.id).where(Region.code == HOME_CELL))
        s.execute(update(Vehicle).where(Vehicle.plate.in_((PLATE_A, PLATE_B))).values(region_id=cell))
        keep = story.clock().date() + timedelta(days=365)
        notices.upsert_contact(
            s, notices.ContactIn(PLATE_A, "email", OWNER, True, "dmv-2026", story.clock(), keep), story.clock()
        )

    world.registry.transaction(homes)


def _case_rows(story: Story) -> dict[str, Any]:
    def work(s: Session) -> dict[str, Any]:
        rows = s.execute(
            select(Case.reason, Case.number, Case.state, Case.overdue, Region.code).join(Region, Region.id == Case.region_id)
        ).all()
        return {str(reason): (number, state, overdue, region) for reason, number, state, overdue, region in rows}

    return story.world.registry.transaction(work)


def _tile(page: Any, name: str) -> str:
    return str(page.locator(f"#total-{name} .value").inner_text())


def _is_red(page: Any, selector: str) -> bool:
    red, green, blue = (int(v) for v in re.findall(r"\d+", page.eval_on_selector(selector, "e => getComputedStyle(e).color"))[:3])
    return red > 150 and red > 2 * green and red > 2 * blue


def _new_page(browser: Any, viewport: dict[str, int], base_url: str, user: str) -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    browser_sign_in(page, base_url, user, PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard/(?!sign-in)"))
    return page


def _act(page: Any, action: str, note: str = "") -> None:
    if note:
        page.fill("#f-note", note)
    page.click(f"#do-{action}")
    page.wait_for_selector(f"#case-state[data-state='{action}']")


def test_a_refused_overdue_cylinder_becomes_a_case_handled_closed_and_counted(story: Story) -> None:
    _fleet(story)
    uploaded = post_events(
        story.app.test_client(),
        story.world,
        STATION,
        [
            refused(story.clock(), ["inspection_overdue"], cylinder_id=str(story.pki.record(UID).cylinder_id), plate=PLATE_A),
            refused(story.clock(), ["past_service_life"], cylinder_id=CYLINDER_B, plate=PLATE_B),
        ],
        who="station2",
    )
    assert uploaded.status_code == 200, uploaded.json
    opened = _case_rows(story)
    (first, *_), (second, *_) = opened["overdue"], opened["past_life"]
    assert {row[3] for row in opened.values()} == {HOME_CELL}  # the vehicles' home cell, not the station's

    with serve(story.app) as base_url, chromium_peer() as browser:
        # The cell's officer finds both on its page and takes the first through to handled.
        officer = _new_page(browser, DESKTOP, base_url, "grid")
        officer.goto(f"{base_url}/dashboard/my-cases")
        assert officer.locator(f"tr[data-number='{first}']").count() >= 1
        assert officer.locator(f"tr[data-number='{second}']").count() >= 1
        officer.goto(f"{base_url}/dashboard/cases?region={HOME_CELL}")
        officer.click(f"#cases tr[data-number='{first}'] a")
        officer.wait_for_url(re.compile(re.escape(first)))
        _act(officer, "accepted", "已立案")
        _act(officer, "dispatched")
        _act(officer, "handled", "已联系车主，车辆停驶送检")
        screenshot(officer, "16-case-detail")
        officer.context.close()

        # A day later: the second case was never accepted; the sweeper escalates it to the district.
        story.clock.advance(hours=25)
        escalated = story.world.registry.transaction(lambda s: [c.number for c in cases.sweep_deadlines(s, story.clock())])
        assert escalated == [second]
        lead = _new_page(browser, DESKTOP, base_url, "lead")
        lead.goto(f"{base_url}/dashboard/cases?overdue=true")
        row = f"#cases tr[data-number='{second}']"
        assert lead.locator(row).get_attribute("class") == "late" and _is_red(lead, f"{row} td:first-child a")
        lead.goto(f"{base_url}/dashboard/cases/{second}")
        assert lead.locator("#case-handling").get_attribute("data-code") == DISTRICT
        assert lead.locator("#timeline li[data-action='escalated']").count() == 1
        lead.context.close()

        # The first cylinder passes its inspection: the registry closes the case, verified.
        _submit_inspection(story, 4, "2026-ZZ-000002")
        after = _case_rows(story)
        assert after["overdue"][1:3] == ("closed", False) and after["past_life"][1:3] == ("reported", True)

        bureau = _new_page(browser, DESKTOP, base_url, "bureau")
        bureau.goto(f"{base_url}/dashboard/cases/{first}")
        assert bureau.locator("#case-state").get_attribute("data-state") == "closed"
        assert bureau.locator("#timeline li[data-action='verified']").count() == 1
        bureau.goto(f"{base_url}/dashboard/cases?region={DISTRICT}")
        assert _is_red(bureau, f"#cases tr[data-number='{second}'] td:first-child a")
        assert bureau.locator(f"#cases tr[data-number='{first}']").get_attribute("class") != "late"
        screenshot(bureau, "15-case-list")
        bureau.goto(f"{base_url}/dashboard/weekly-report?region={DISTRICT}&week=2026-W47")
        figures = {n: _tile(bureau, n) for n in ("reported", "accepted", "closed", "on-time-rate", "open", "overdue")}
        assert figures == {"reported": "2", "accepted": "1", "closed": "1", "on-time-rate": "100.0%", "open": "1", "overdue": "1"}
        screenshot(bureau, "20-weekly-report")
        bureau.goto(f"{base_url}/dashboard/grid/{HOME_CELL}")
        screenshot(bureau, "17-grid-cell")

        # The officer of the station's own cell: neither case exists for it.
        other = _new_page(browser, DESKTOP, base_url, "grid2")
        for number in (first, second):
            response = other.goto(f"{base_url}/dashboard/cases/{number}")
            assert response is not None and response.status == 404
        for listing in ("/dashboard/my-cases", "/dashboard/cases", "/dashboard/cases?state=closed"):
            other.goto(base_url + listing)
            assert first not in other.content() and second not in other.content()
        other.context.close()

        # A patrol on a phone: the failed item opens a case in the station's cell, linked from the patrol.
        phone = _new_page(browser, PHONE, base_url, "grid")
        phone.goto(f"{base_url}/dashboard/patrol?station=ST-JS-01")
        for item in grading_rules.DEFAULT_CHECKLIST:
            phone.check(f"input[name='result-{item}'][value='{'fail' if item == 'no_bypass' else 'pass'}']")
        phone.click("#item-no_bypass summary")
        phone.fill("#note-no_bypass", "加气机旁有短接开关")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(phone, "19-patrol-form-phone")
        phone.click("#patrol-submit")
        phone.wait_for_url(re.compile(r"/dashboard/patrols/\d+$"))
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.click("li[data-item='no_bypass'] a.case-link")
        phone.wait_for_url(re.compile(r"/dashboard/cases/"))
        assert phone.locator("#case-state").get_attribute("data-state") == "reported"
        phone.context.close()

        # The daily grading, as `grade-stations` runs it: the patrolled station's failed item grades it down.
        story.world.registry.transaction(
            lambda s: grades.compute_grades(s, story.clock(), grading_rules.GradingRules(), utc_offset_hours=8)
        )
        bureau.goto(f"{base_url}/dashboard/station-grades")
        assert bureau.locator("table.grades tr[data-station]").count() == 3
        assert bureau.locator("table.grades tr[data-station='ST-JS-01']").get_attribute("data-grade") == "B"
        screenshot(bureau, "18-station-grades")
        bureau.context.close()

    # The owner of the first taxi is told once, though delivery runs twice (two rounds, or two nodes).
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        senders: dict[str, Any] = {"email": SmtpSender(SmtpSettings("127.0.0.1", port, security="none", timeout_s=5))}
        sessions = make_session_factory(story.engine)
        rounds = [deliver_due(sessions, senders, story.clock()).sent for _ in range(2)]
    finally:
        controller.stop()
    assert rounds == [1, 0] and len(inbox.messages) == 1
    assert inbox.messages[0]["To"] == OWNER and PLATE_A in str(inbox.messages[0]["Subject"])
