"""Station grades and patrols on the dashboard (grade_views.py): the grades page with its filters and
patrol due dates, the phone-sized patrol form (every item answered, failed items opening cases the
page links to), the patrols list and a grid user kept to its own cells. The seeded demo city's
stations are graded at the injected clock's NOW; the 360 px phone width is checked in Chromium by
test_accessibility.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from registry_service import grading_rules
from registry_service.models import (
    AuditEntry,
    Case,
    CaseStep,
    DashboardSession,
    GridPerson,
    Patrol,
    Region,
    Role,
    Station,
    StationGrade,
    User,
)
from registry_service.services import accounts, grades
from tests.dashboard.helpers import CSRF, page_text, signed_in, world_rows
from tests.dashboard.world import NOW, PASSWORD

OFFICERS = {"grid-g5-jinshui": "410105", "grid-g5-erqi": "410103"}  # district leads: their stations' subtrees
STATION = "ST-410105-01"
CHECKLIST = grading_rules.DEFAULT_CHECKLIST
URL = "/dashboard/station-grades"


def _world(s: Session) -> None:
    for username, region in OFFICERS.items():
        user = accounts.create_user(s, "test", NOW, username=username, role=Role.GRID, password=PASSWORD)
        region_id = s.scalar(select(Region.id).where(Region.code == region))
        s.add(GridPerson(region_id=region_id, user_id=user.id, name=username, duty="lead"))
    grades.compute_grades(s, NOW, grading_rules.GradingRules(), utc_offset_hours=8)


def _clean(engine: Engine) -> None:
    with engine.begin() as c:
        users = select(User.id).where(User.username.in_(OFFICERS)).scalar_subquery()
        cases = select(Case.id).where(Case.subject_key.like("patrol:%")).scalar_subquery()
        c.execute(delete(CaseStep).where(CaseStep.case_id.in_(cases)))
        c.execute(delete(Case).where(Case.subject_key.like("patrol:%")))
        c.execute(delete(Patrol))
        c.execute(delete(StationGrade))
        c.execute(delete(AuditEntry).where(AuditEntry.actor_id.in_(users)))
        c.execute(delete(GridPerson).where(GridPerson.user_id.in_(users)))
        c.execute(delete(DashboardSession).where(DashboardSession.user_id.in_(users)))
        c.execute(delete(User).where(User.username.in_(OFFICERS)))


@pytest.fixture
def world(app: Flask, seeded: tuple[Engine, str]) -> Iterator[None]:
    with world_rows(app, seeded[0], _world, _clean):
        yield


def _stations(page: str) -> list[str]:
    grades_table = page.split('id="grades"', 1)[1].split('id="patrols-due"', 1)[0]
    return re.findall(r'<tr data-station="([^"]+)" data-grade', grades_table)


def _answers(failed: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {f"result-{item}": "fail" if item in failed else "pass" for item in CHECKLIST if item not in skip}


def _post(client: FlaskClient, station: str, form: dict[str, str]) -> tuple[int, str, str]:
    token = CSRF.search(page_text(client, "/dashboard/patrol"))
    assert token
    response = client.post("/dashboard/patrol", data={"csrf_token": token.group(1), "station": station, **form})
    return response.status_code, response.headers.get("Location", ""), response.get_data(as_text=True)


def test_the_grades_page_shows_figures_deciding_measures_and_due_patrols(
    app: Flask, world: None, seeded: tuple[Engine, str]
) -> None:
    bureau = signed_in(app, "bureau")
    with seeded[0].connect() as c:
        everyone = sorted(c.scalars(select(Station.code).where(Station.active.is_(True))))
        worst = c.execute(select(StationGrade.grade, StationGrade.deciding).order_by(StationGrade.grade.desc())).first()
    assert worst is not None
    zh = page_text(bureau, f"{URL}?lang=zh_CN")
    assert "站点评级" in zh and "每千次加气强制放行" in zh and "应巡查站点" in zh and "从未巡查" in zh
    assert sorted(_stations(zh)) == everyone  # one page: every graded station, worst first
    assert f'data-grade="{worst.grade}"' in zh.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    for measure in worst.deciding:  # the deciding measures are named and their figures marked
        assert f'num nowrap decided" data-measure="{measure}"' in zh
    en = page_text(bureau, f"{URL}?region=410105&lang=en")
    assert "Station grades" in en and "Deciding measures" in en and "Hours dark" in en and "Never patrolled" in en
    assert _stations(en) == sorted((s for s in everyone if s.startswith("ST-410105-")), key=lambda s: s)
    only = page_text(bureau, f"{URL}?grade={worst.grade}")
    assert _stations(only) and all(
        f'data-grade="{worst.grade}"' in row for row in only.split("<tr data-station")[1:] if "data-grade" in row
    )
    page_text(bureau, f"{URL}?grade=E", 422)
    page_text(bureau, f"{URL}?region=nowhere", 404)
    page_text(signed_in(app, "centre1"), URL, 403)


def test_a_patrol_with_failed_items_opens_cases_and_links_to_them(app: Flask, world: None, seeded: tuple[Engine, str]) -> None:
    officer = signed_in(app, "grid-g5-jinshui")
    form = page_text(officer, f"/dashboard/patrol?station={STATION}&lang=zh_CN")
    assert form.count('type="radio"') == 3 * len(CHECKLIST) and "联锁无软管、开关或接线旁路" in form
    assert 'name="note-no_bypass"' in form and 'name="viewport" content="width=device-width' in form
    # One item unanswered: the form again, as typed, with the item marked; nothing stored.
    status, _, page = _post(officer, STATION, {**_answers(skip=("clock_correct",)), "note-no_bypass": "旁路开关"})
    assert status == 422 and 'id="patrol-refused"' in page and 'id="item-clock_correct" aria-invalid="true"' in page
    assert "旁路开关" in page and 'value="pass" checked' in page
    with seeded[0].connect() as c:
        assert c.scalar(select(Patrol.id)) is None
    status, location, _ = _post(
        officer, STATION, {**_answers(failed=("no_bypass", "clock_correct")), "note-no_bypass": "旁路开关"}
    )
    assert status == 302 and re.fullmatch(r"/dashboard/patrols/\d+", location)
    with seeded[0].connect() as c:
        cases = dict(c.execute(select(Case.reason, Case.number).where(Case.kind == "patrol_failure")).all())
        cell = c.scalar(select(Region.code).join(Station, Station.region_id == Region.id).where(Station.code == STATION))
        case_cells = set(c.scalars(select(Region.code).join(Case, Case.region_id == Region.id)))
    assert set(cases) == {"no_bypass", "clock_correct"} and cell in case_cells
    detail = page_text(officer, location + "?lang=en")
    assert "2 items failed" in detail and "No hose, switch or wiring around the interlock" in detail and "旁路开关" in detail
    for number in cases.values():
        assert f'href="/dashboard/cases/{number}"' in detail or f'<span class="case-link mono">{number}</span>' in detail
    listed = page_text(officer, "/dashboard/patrols?failed=1&lang=en")
    assert "1 patrol" in listed and f'href="{location}"' in listed
    # The grades page now shows the patrol and the next one's due date (the station's interval on).
    row = page_text(officer, f"{URL}?region=410105").split(f'<tr data-station="{STATION}"', 1)[1].split("</tr>", 1)[0]
    assert "从未巡查" not in row and "现在应巡查" not in row and "2026" in row
    # Another district's lead: not its station, not its patrol.
    other = signed_in(app, "grid-g5-erqi")
    page_text(other, f"/dashboard/patrol?station={STATION}", 403)
    page_text(other, location, 404)
    assert "0 patrols" in page_text(other, "/dashboard/patrols?lang=en") and STATION not in page_text(other, URL)
    status, _, _ = _post(officer, "ST-410103-01", _answers())
    assert status == 403


def test_the_bureau_patrols_anywhere_and_the_form_lists_stations_due(app: Flask, world: None) -> None:
    bureau = signed_in(app, "bureau")
    start = page_text(bureau, "/dashboard/patrol?lang=en")
    assert 'name="station"' in start and "Patrols due" in start and "ST-410103-01" in start
    page_text(bureau, "/dashboard/patrol?station=ST-NOPE", 404)
    status, location, _ = _post(bureau, "ST-410103-01", _answers())
    assert status == 302
    page = page_text(bureau, location + "?lang=en")
    assert "All passed" in page and "Case" not in page.split('id="results"', 1)[1]
    lead = signed_in(app, "grid-g5-jinshui")
    due = page_text(lead, "/dashboard/patrol?lang=en")
    assert "ST-410105-01" in due and "ST-410103-01" not in due  # its own stations only
