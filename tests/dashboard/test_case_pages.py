"""Grid case pages (case_views.py): a grid user's landing page, the list and its filters, one case
taken through every workflow step by form posts (CSRF, refusals shown on the page with 4xx, never
a 500), photo upload and download, overdue cases in red with words, the grid cell page, the scope
(an officer of another cell gets 404 and sees nothing), and the page's buttons agreeing with
services/cases.transition for every state and person. The registry's clock is injected."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.dashboard import case_actions, register_dashboard
from registry_service.errors import RegistryError
from registry_service.models import (
    AuditEntry,
    Case,
    CaseStep,
    DashboardSession,
    GridPerson,
    LoginThrottleEntry,
    Region,
    Role,
    User,
)
from registry_service.principal import Principal, loaded_principal, principal_for_user
from registry_service.services import accounts, cases
from tests.dashboard.helpers import CSRF, page_text, sign_in, signed_in
from tests.dashboard.world import NOW, PASSWORD, Clock

STREET, CELL, OTHER = "410105-01", "410105-01-01", "410103-01-01"
# name, region, duty: two officers of the cell, the street's lead, an officer of another district.
PEOPLE = (("g5a-a", CELL, "officer"), ("g5a-b", CELL, "officer"), ("g5a-lead", STREET, "lead"), ("g5a-out", OTHER, "officer"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


@dataclass(frozen=True)
class World:
    app: Flask
    clock: Clock
    numbers: dict[str, str]  # "work", "late", "soon" -> case number
    data_dir: Path


def _clean(engine: Engine) -> None:
    names = [name for name, _, _ in PEOPLE]
    with engine.begin() as c:
        ids = select(Case.id).where(Case.subject_key.like("g5a:%")).scalar_subquery()
        c.execute(delete(CaseStep).where(CaseStep.case_id.in_(ids)))
        c.execute(delete(Case).where(Case.subject_key.like("g5a:%")))
        users = select(User.id).where(User.username.in_(names)).scalar_subquery()
        c.execute(delete(GridPerson).where(GridPerson.user_id.in_(users)))
        c.execute(delete(DashboardSession).where(DashboardSession.user_id.in_(users)))
        c.execute(delete(AuditEntry).where(AuditEntry.entity_ref.in_(names)))
        c.execute(delete(User).where(User.username.in_(names)))
        c.execute(delete(LoginThrottleEntry))
        c.execute(delete(DashboardSession))


def _people(s: Session) -> None:
    regions = dict(s.execute(select(Region.code, Region.id)).all())
    for name, region, duty in PEOPLE:
        user = accounts.create_user(s, "test", NOW, username=name, role=Role.GRID, password=PASSWORD)
        s.add(GridPerson(region_id=regions[region], user_id=user.id, name=f"网格员{name[-1]}", phone="0371 1234 5678", duty=duty))


def _cases(s: Session) -> dict[str, str]:
    cell = s.scalar(select(Region.id).where(Region.code == CELL))
    assert cell is not None
    opened = {
        "work": cases.open_or_attach(
            s, kind="override", subject_key="g5a:override:1", region_id=cell, now=NOW, detail="强制加气"
        ),
        "late": cases.open_or_attach(s, kind="silent_station", subject_key="g5a:silent:1", region_id=cell, now=NOW),
        "soon": cases.open_or_attach(s, kind="clone_suspect", subject_key="g5a:clone:1", region_id=cell, now=NOW),
    }
    numbers = {key: case.number for key, case in opened.items()}
    cases.sweep_deadlines(s, NOW + timedelta(hours=5))  # the silent station's 4 hours passed: up to the street
    return numbers


@pytest.fixture
def world(seeded: tuple[Engine, str], tmp_path: Path) -> Iterator[World]:
    engine, url = seeded
    _clean(engine)
    clock = Clock()
    app = create_app(RegistryConfig(database_url=url, data_dir=str(tmp_path)), engine=engine, clock=clock)
    register_dashboard(app, secret_key="case-pages-test")
    registry = app.extensions["registry"]
    registry.transaction(_people)
    numbers = registry.transaction(_cases)
    yield World(app, clock, numbers, tmp_path)
    _clean(engine)


def _client(world: World, username: str) -> FlaskClient:
    return signed_in(world.app, username)


def _post(client: FlaskClient, number: str, action: str, **fields: object) -> TestResponse:
    page = page_text(client, f"/dashboard/cases/{number}")
    token = CSRF.search(page)
    assert token, "the case page carries a CSRF token"
    data = {"csrf_token": token.group(1), "action": action, **fields}
    return client.post(f"/dashboard/cases/{number}", data=data, content_type="multipart/form-data")


def _buttons(page: str) -> list[str]:
    return re.findall(r'<button type="submit" name="action" value="([a-z]+)"', page)


def _state(page: str) -> str:
    match = re.search(r'id="case-state" data-state="([a-z]+)"', page)
    assert match
    return match.group(1)


def _rows(page: str, table: str = "cases") -> list[str]:
    start = page.find(f'id="{table}"')
    assert start >= 0, table
    return re.findall(r'data-number="([^"]+)"', page[start : page.find("</table>", start)])


def test_a_case_through_every_step_by_form(world: World) -> None:
    number = world.numbers["work"]
    a, b = _client(world, "g5a-a"), _client(world, "g5a-b")
    assert a.get("/dashboard/").headers["Location"] == "/dashboard/my-cases"  # no longer a 403
    landing = page_text(a, "/dashboard/my-cases?lang=zh_CN")
    assert "我的案件" in landing and number in _rows(landing) and _rows(landing, "assigned") == []
    assert 'href="/dashboard/grid/410105-01-01"' in landing and "/dashboard/weekly-report" in landing
    assert "网格案件" in landing and 'id="site-q"' not in landing  # the nav entry; no search for grid users

    page = page_text(a, f"/dashboard/cases/{number}")
    assert _state(page) == "reported" and _buttons(page) == ["accepted", "note"]
    assert "受理立案" in page and 'data-action="reported"' in page and "强制加气" in page

    refused = _post(a, number, "handled", note="早了")  # not offered: the workflow refuses it
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'id="action-error"' in text and "案件当前状态不能进行这一步" in text
    assert "早了" in text  # the note is kept

    assert _post(a, number, "accepted").status_code == 303
    page = page_text(a, f"/dashboard/cases/{number}")
    assert _state(page) == "accepted" and _buttons(page) == ["dispatched", "note"]
    assert '<option value="g5a-b"' in page and '<option value="g5a-lead"' in page and "g5a-out" not in page

    assert _post(a, number, "dispatched", assignee="g5a-out").status_code == 422  # not an officer here
    assert _post(a, number, "dispatched", assignee="g5a-b", note="请核实").status_code == 303
    page = page_text(a, f"/dashboard/cases/{number}")
    assert 'id="case-assignee">g5a-b<' in page and _buttons(page) == ["note"]  # dispatched to someone else
    forbidden = _post(a, number, "handled", note="我来")
    assert forbidden.status_code == 403 and "案件已派给其他网格员" in forbidden.get_data(as_text=True)

    assert number in _rows(page_text(b, "/dashboard/my-cases"), "assigned")
    no_note = _post(b, number, "handled")
    assert no_note.status_code == 422 and "需要填写办理说明" in no_note.get_data(as_text=True)
    bad_photo = _post(b, number, "handled", note="已处理", photo=(io.BytesIO(b"GIF89a not kept"), "x.gif"))
    assert bad_photo.status_code == 422 and "照片无法保存" in bad_photo.get_data(as_text=True)
    done = _post(b, number, "handled", note="已约谈站长并整改", photo=(io.BytesIO(PNG), "scene.png"))
    assert done.status_code == 303
    page = page_text(b, f"/dashboard/cases/{number}")
    assert _state(page) == "handled" and _buttons(page) == ["note"]  # four eyes: b may not verify
    assert _post(b, number, "verified").status_code == 403
    link = re.search(r'href="(/dashboard/cases/[^"]+/photos/[0-9a-f]{64})"', page)
    assert link and "已约谈站长并整改" in page
    photo = b.get(link.group(1))
    assert photo.status_code == 200 and photo.content_type == "image/png" and photo.data == PNG
    assert list(world.data_dir.glob("case-photos/*/*.png"))

    english = page_text(a, f"/dashboard/cases/{number}?lang=en")
    assert "Timeline" in english and ">Verify<" in english and _buttons(english) == ["verified", "note"]
    assert _post(a, number, "verified").status_code == 303
    assert _post(a, number, "closed", note="结案").status_code == 303
    page = page_text(a, f"/dashboard/cases/{number}")
    assert _state(page) == "closed" and 'id="action-form"' not in page
    steps = re.findall(r'<li data-action="([a-z]+)"', page)
    assert steps == ["reported", "accepted", "dispatched", "handled", "verified", "closed"]
    assert _post(a, number, "note", note="再补一句").status_code == 409  # a closed case takes nothing


def test_an_officer_of_another_cell_sees_nothing(world: World) -> None:
    number = world.numbers["work"]
    out = _client(world, "g5a-out")
    page_text(out, f"/dashboard/cases/{number}", 404)
    everything = page_text(out, "/dashboard/cases")
    assert not set(world.numbers.values()) & set(_rows(everything))
    assert not set(world.numbers.values()) & set(_rows(page_text(out, "/dashboard/my-cases")))
    token = CSRF.search(everything)
    assert token
    post = out.post(f"/dashboard/cases/{number}", data={"csrf_token": token.group(1), "action": "accepted"})
    assert post.status_code == 404
    assert out.post(f"/dashboard/cases/{number}", data={"action": "accepted"}).status_code == 400  # no CSRF token
    page_text(out, f"/dashboard/cases/{number}/photos/{'0' * 64}", 404)
    page_text(out, f"/dashboard/grid/{CELL}", 403)
    # The photo of a case in scope, asked for by an officer out of scope: 404 as if there were none.
    a = _client(world, "g5a-a")
    assert _post(a, number, "note", note="现场照片", photo=(io.BytesIO(PNG), "p.png")).status_code == 303
    link = re.search(r'href="(/dashboard/cases/[^"]+/photos/[0-9a-f]{64})"', page_text(a, f"/dashboard/cases/{number}"))
    assert link and a.get(link.group(1)).status_code == 200
    page_text(out, link.group(1), 404)


def test_overdue_and_past_deadline_are_red_with_words(world: World) -> None:
    # The clone suspect's 8 hours passed and the sweep has not run; the silent station, escalated at
    # 5 hours, has till 9 hours at the street.
    world.clock.advance(hours=8, minutes=30)
    lead = _client(world, "g5a-lead")
    page = page_text(lead, "/dashboard/cases?state=open&lang=zh_CN")
    late, soon = world.numbers["late"], world.numbers["soon"]
    assert {late, soon} <= set(_rows(page))
    row = re.search(rf'<tr data-number="{late}" class="late">.*?</tr>', page, re.S)
    assert row and "已超期" in row.group(0) and "已升级 1 次" in row.group(0)
    row = re.search(rf'<tr data-number="{soon}" class="late">.*?</tr>', page, re.S)
    assert row and "已超过本环节时限" in row.group(0) and "已超期" not in row.group(0)
    detail = page_text(lead, f"/dashboard/cases/{late}?lang=en")
    assert "Overdue" in detail and 'data-action="escalated"' in detail and 'data-code="410105-01"' in detail
    # Escalated to the street: the cell's officers no longer hold it, the street's lead does.
    a = _client(world, "g5a-a")
    page_text(a, f"/dashboard/cases/{late}", 404)
    overdue = page_text(lead, "/dashboard/cases?overdue=true")
    assert late in _rows(overdue) and soon not in _rows(overdue)


def test_filters_and_refused_filters(world: World) -> None:
    bureau = _client(world, "bureau")
    work, late = world.numbers["work"], world.numbers["late"]
    by_kind = _rows(page_text(bureau, "/dashboard/cases?kind=override&state=reported"))
    assert work in by_kind and late not in by_kind
    assert work in _rows(page_text(bureau, f"/dashboard/cases?region={STREET}&since=2026-11-22&until=2026-11-22"))
    assert work not in _rows(page_text(bureau, f"/dashboard/cases?region={OTHER}"))
    assert work not in _rows(page_text(bureau, "/dashboard/cases?since=2026-11-23"))
    assert work not in _rows(page_text(bureau, "/dashboard/cases?state=closed"))
    refused = page_text(bureau, "/dashboard/cases?state=nonsense&region=nowhere&since=2026-13-01&kind=override", 422)
    assert 'id="form-errors"' in refused and refused.count('aria-invalid="true"') == 3
    assert 'value="nowhere"' in refused and '<option value="override" selected>' in refused
    english = page_text(bureau, "/dashboard/cases?state=open&lang=en")
    assert "Grid cases" in english and "Open (not closed)" in english
    assert 'href="/dashboard/weekly-report"' in english
    assert bureau.get("/dashboard/").headers["Location"] == "/dashboard/overview"  # the bureau keeps its overview


def test_the_grid_cell_page(world: World) -> None:
    a = _client(world, "g5a-a")
    page = page_text(a, f"/dashboard/grid/{CELL}?lang=zh_CN")
    assert "网格员a" in page and "网格员b" in page and "网格员" in page and "g5a-lead" not in page
    assert re.search(r'id="figure-reported">(\d+)<', page)
    assert int(re.search(r'id="figure-reported">(\d+)<', page).group(1)) >= 3  # type: ignore[union-attr]
    # The escalated case counts in the cell (found there) but is the street's to handle now.
    assert world.numbers["work"] in _rows(page, "open-cases") and world.numbers["late"] not in _rows(page, "open-cases")
    assert f'href="/dashboard/weekly-report?region={CELL}&amp;week=2026-W47"' in page
    page_text(a, f"/dashboard/grid/{STREET}", 403)  # above its own cell
    bureau = _client(world, "bureau")
    street = page_text(bureau, f"/dashboard/grid/{STREET}?lang=en")
    assert "Grid people" in street and "Lead" in street and f'href="/dashboard/grid/{CELL}"' in street
    assert 'id="children"' in street
    assert world.numbers["late"] in _rows(page_text(bureau, f"/dashboard/grid/{CELL}"), "open-cases")
    page_text(bureau, "/dashboard/grid/nowhere", 404)


def _principals(s: Session) -> dict[str, Principal]:
    found = {u.username: loaded_principal(s, u) for u in s.scalars(select(User).where(User.username.like("g5a-%")))}
    bureau = s.scalar(select(User).where(User.username == "bureau"))
    assert bureau is not None
    return found | {"bureau": principal_for_user(bureau)}


def test_the_buttons_are_what_transition_allows(world: World, seeded: tuple[Engine, str]) -> None:
    """For every state, person and action: shown exactly when services/cases.transition accepts it.
    Each try runs in a transaction that is rolled back."""
    states = ("reported", "accepted", "dispatched", "handled", "verified", "closed")
    with Session(seeded[0]) as s:
        principals = _principals(s)  # plain values: usable in any session
    for state in states:
        with Session(seeded[0]) as s:
            case = _case_in(s, state)
            shown = {name: case_actions.allowed(s, principal, case) for name, principal in principals.items()}
        accepted: dict[str, list[str]] = {name: [] for name in principals}
        for action in cases.ACTIONS:
            s = Session(seeded[0])
            case = _case_in(s, state)
            for name, principal in principals.items():
                try:
                    cases.transition(s, case, action, principal, NOW, "说明")
                except RegistryError:
                    continue  # refused before changing anything
                accepted[name].append(action)
                s.close()  # rolled back: the next person tries on a fresh case
                s = Session(seeded[0])
                case = _case_in(s, state)
            s.close()
        for name in principals:
            assert shown[name] == tuple(accepted[name]), (state, name)


def _case_in(s: Session, state: str) -> Case:
    """A case of the cell in `state`, dispatched to g5a-b and handled by g5a-b where it got that far."""
    cell = s.scalar(select(Region.id).where(Region.code == CELL))
    b = s.scalar(select(User.id).where(User.username == "g5a-b"))
    assert cell is not None and b is not None
    case = cases.open_or_attach(s, kind="override", subject_key="g5a:matrix", region_id=cell, now=NOW)
    order = ("reported", "accepted", "dispatched", "handled", "verified", "closed")
    case.state = state
    if order.index(state) >= order.index("dispatched"):
        case.assignee_user_id = b
    if order.index(state) >= order.index("handled"):
        s.add(CaseStep(case_id=case.id, at=NOW, action="handled", actor="g5a-b", note="done"))
    s.flush()
    return case


def test_a_registry_keeping_no_photos_says_so(world: World, seeded: tuple[Engine, str]) -> None:
    app = create_app(RegistryConfig(database_url=seeded[1]), engine=seeded[0], clock=world.clock)  # no data_dir
    register_dashboard(app, secret_key="case-pages-test")
    client = app.test_client()
    assert sign_in(client, "g5a-a").status_code == 302
    number = world.numbers["work"]
    refused = _post(client, number, "note", note="附照片", photo=(io.BytesIO(PNG), "p.png"))
    assert refused.status_code == 422 and "未配置照片存储" in refused.get_data(as_text=True)
    assert _post(client, number, "note", note="不附照片").status_code == 303
