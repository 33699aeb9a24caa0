"""The weekly report of cases (case_report_views.py): the printable page in Chinese and English, its
CSV, the overview's found/handled figures, and a grid user kept inside its own subtree. The cases
are hand-made in the seeded demo city; the registry's clock is injected (NOW: Sunday 22 November
2026, 10:00 in Zhengzhou, the last day of ISO week 2026-W47)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from registry_service.models import DashboardSession, GridPerson, Region, Role, User
from registry_service.models.cases import Case
from registry_service.services import accounts
from tests.case_rows import case_row
from tests.dashboard.helpers import ZONE, page_text, sign_in, world_rows
from tests.dashboard.world import NOW, PASSWORD

DISTRICT, STREET, CELL, OTHER = "410105", "410105-01", "410105-01-01", "410103-01-01"
OFFICER = "grid-officer-16"
URL = "/dashboard/weekly-report"


def local(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=ZONE)


def _world(s: Session) -> None:
    ids = dict(s.execute(select(Region.code, Region.id).where(Region.code.in_((STREET, CELL, OTHER)))).all())
    cases = [  # region, opened, accepted, closed, overdue
        (CELL, local(17), local(17, 10), local(18, 0), False),  # closed on time, 15 hours after it was found
        (CELL, local(18), local(18, 10), None, True),  # still open, overdue
        (OTHER, local(19), None, None, False),  # another district
    ]
    for n, (code, opened, accepted, closed, overdue) in enumerate(cases, start=1):
        s.add(case_row(f"W16-{n}", f"report-test:{n}", ids[code], opened, accepted, closed, overdue))
    user = accounts.create_user(s, "test", NOW, username=OFFICER, role=Role.GRID, password=PASSWORD)
    s.add(GridPerson(region_id=ids[STREET], user_id=user.id, name="王五", duty="lead"))


def _clean(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(Case).where(Case.number.like("W16-%")))
        user_ids = select(User.id).where(User.username == OFFICER).scalar_subquery()
        connection.execute(delete(GridPerson).where(GridPerson.user_id.in_(user_ids)))
        connection.execute(delete(DashboardSession).where(DashboardSession.user_id.in_(user_ids)))
        connection.execute(delete(User).where(User.username == OFFICER))


@pytest.fixture
def world(app: Flask, seeded: tuple[Engine, str]) -> Iterator[None]:
    with world_rows(app, seeded[0], _world, _clean):
        yield


def _tile(page: str, name: str) -> str:
    match = re.search(rf'id="total-{name}"><span class="label">[^<]*</span><span class="value">([^<]*)<', page)
    assert match, name
    return match.group(1)


def test_the_report_in_both_languages(client: FlaskClient, world: None) -> None:
    assert sign_in(client, "bureau").status_code == 302
    zh = page_text(client, f"{URL}?region={DISTRICT}&week=2026-W47&lang=zh_CN")
    assert 'lang="zh-CN"' in zh and "案件周报 · 金水区" in zh and "按期结案率" in zh and "立案" in zh
    assert [_tile(zh, n) for n in ("reported", "accepted", "closed", "closure-rate", "on-time-rate", "open", "overdue")] == [
        "2", "2", "1", "50.0%", "100.0%", "1", "1",
    ]  # fmt: skip
    assert _tile(zh, "average-close") == "15.0小时"  # 09:00 on the 17th to midnight on the 18th
    assert f'data-code="{STREET}"' in zh and 'href="/dashboard/weekly-report?region=410105-01&amp;week=2026-W47"' in zh
    assert "week=2026-W46" in zh and "week=2026-W48" in zh and "case_report_print.css" in zh
    en = page_text(client, f"{URL}?region={DISTRICT}&week=2026-11-20&lang=en")
    assert 'lang="en"' in en and "Weekly case report" in en and "On-time closure rate" in en and "2026-W47" in en
    assert _tile(en, "closure-rate") == "50.0%" and _tile(en, "average-close") == "15.0 hr"
    # No week: the clock's; the whole city by default for the bureau, cases of both districts.
    everything = page_text(client, URL)
    assert "2026-W47" in everything and _tile(everything, "reported") == "3"
    page_text(client, f"{URL}?week=2026-W99", 422)
    page_text(client, f"{URL}?region=nowhere", 404)


def test_the_csv_is_the_table_in_the_readers_language(client: FlaskClient, world: None) -> None:
    assert sign_in(client, "bureau").status_code == 302
    response = client.get(f"/dashboard/weekly-report.csv?region={DISTRICT}&week=2026-W47&level=cell&lang=en")
    assert response.status_code == 200 and response.content_type == "text/csv; charset=utf-8"
    assert 'filename="weekly-report-410105-2026-W47.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeffGrid cell or area code,Area,Week,Reported,Accepted,Closed,Closure rate,")
    lines = text.splitlines()
    assert lines[1] == "410105,Total,2026-W47,2,2,1,50.0%,1,100.0%,1,1,15.0"
    assert any(line.startswith(f"{STREET},") and ",2,2,1,50.0%," in line for line in lines[2:])  # seeded streets are cells
    zh = client.get(f"/dashboard/weekly-report.csv?region={DISTRICT}&week=2026-W47&lang=zh_CN").get_data(as_text=True)
    assert "立案" in zh.splitlines()[0] and zh.splitlines()[1].startswith("410105,合计,2026-W47,2,")


def test_the_overview_counts_found_and_handled(client: FlaskClient, world: None) -> None:
    assert sign_in(client, "bureau").status_code == 302
    page = page_text(client, "/dashboard/overview?since=2026-11-16&until=2026-11-22&lang=zh_CN")
    assert "所选期间发现问题 3 件，已处理 1 件。" in page
    assert 'id="weekly-report-link" href="/dashboard/weekly-report?week=2026-W47"' in page
    district = page_text(client, f"/dashboard/overview?since=2026-11-16&until=2026-11-22&region={DISTRICT}&lang=en")
    assert "2 problems found in the period, 1 of them handled." in district


def test_a_grid_user_sees_its_own_subtree_only(app: Flask, client: FlaskClient, world: None) -> None:
    assert sign_in(client, OFFICER).status_code == 302
    mine = page_text(client, f"{URL}?week=2026-W47&lang=zh_CN")  # its street by default
    assert "经八路街道" in mine and _tile(mine, "reported") == "2"
    assert _tile(page_text(client, f"{URL}?region={CELL}&week=2026-W47"), "overdue") == "1"
    for region in (DISTRICT, OTHER, "4101"):
        page_text(client, f"{URL}?region={region}", 403)
        assert client.get(f"/dashboard/weekly-report.csv?region={region}").status_code == 403
    page_text(client, "/dashboard/overview", 403)
    assert app.test_client().get(URL).status_code == 302  # nobody signed in: to the sign-in page
