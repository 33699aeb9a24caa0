"""The weekly figures of cases (services/case_figures.py) on hand-made cases with known answers:
ISO weeks bounded by local midnights, closure and on-time rates, average time to close, the
roll-up of a district's subtree to its children or to one level, an empty week, a grid user's
scope; on SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from registry_service.errors import Forbidden, InvalidInput, NotFound
from registry_service.models import GridPerson, Region, RegionLevel, Role, User
from registry_service.principal import Principal
from registry_service.services import case_figures as cf
from registry_service.services import places
from tests.case_rows import case_row
from tests.registry.conftest import World

ZONE = ZoneInfo("Asia/Shanghai")
W48 = cf.Week(2026, 48)  # Monday 23 to Sunday 29 November 2026
NUMBERS = itertools.count(1)
DAY = 86400.0


def local(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


def _add(
    s: Session,
    region: Region,
    opened: datetime,
    accepted: datetime | None = None,
    closed: datetime | None = None,
    overdue: bool = False,
) -> None:
    number = next(NUMBERS)
    s.add(case_row(f"T-{number}", f"cylinder:{number}", region.id, opened, accepted, closed, overdue))


def _world(s: Session) -> None:
    city = places.ensure_region(s, "4101", "郑州市")
    district = places.ensure_region(s, "410105", "金水区", city)
    street = places.ensure_region(s, "410105-003", "经八路街道", district, RegionLevel.STREET)
    cell_a = places.ensure_region(s, "410105-003-07", "第七网格", street)
    cell_b = places.ensure_region(s, "410105-003-08", "第八网格", street)
    cell_c = places.ensure_region(s, "410105-009", "第九网格", district, RegionLevel.CELL)
    other = places.ensure_region(s, "410103", "二七区", city)
    cell_e = places.ensure_region(s, "410103-001-01", "淮河路第一网格", other, RegionLevel.CELL)
    # Accepted and closed in the week, on time: opened at the week's first instant, closed a day later.
    _add(s, cell_a, local(23), local(23, 2), local(24))
    # Opened a minute before the week; accepted and closed in it, late: 3 days and 1 minute to close.
    _add(s, cell_a, local(22, 23, 59), local(23, 1), local(26), overdue=True)
    _add(s, cell_b, local(29, 23, 59))  # the week's last minute: reported, open at its end
    _add(s, cell_b, local(30))  # the next week's first instant: nothing this week
    _add(s, cell_c, local(10), local(10, 1), overdue=True)  # an old case, still open and overdue
    _add(s, cell_c, local(20), local(20, 1), local(30))  # closed at the week's end: open at the end
    _add(s, district, local(25))  # found on the district itself (a station with no cell)
    _add(s, cell_e, local(24), local(24, 1), local(25))  # another district
    _add(s, cell_a, local(1), local(1, 1), local(15))  # over before the week: counts nowhere


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        _world(s)
        s.commit()
        yield s


def _region(s: Session, code: str) -> Region:
    return places.region_by_code(s, code)


def _rows(report: cf.Report) -> dict[str, cf.Figures]:
    return {("=" if row.direct else "") + row.code: row.figures for row in report.rows}


def test_a_week_is_monday_to_sunday_in_local_time() -> None:
    window = W48.window(ZONE)
    assert window.start == datetime(2026, 11, 22, 16, tzinfo=UTC) and window.end == datetime(2026, 11, 29, 16, tzinfo=UTC)
    assert cf.Week.parse("2026-W48") == W48 == cf.Week.parse("2026-11-29") == cf.Week.containing(local(23), ZONE)
    assert cf.Week.containing(datetime(2026, 11, 22, 15, 59, tzinfo=UTC), ZONE) == cf.Week(2026, 47)
    assert W48.code == "2026-W48" and W48.shifted(-1).code == "2026-W47" and cf.Week(2026, 53).shifted(1).code == "2027-W01"
    # Daylight saving: the week in which Berlin's clocks go back is 169 hours long.
    berlin = cf.Week(2026, 43).window(ZoneInfo("Europe/Berlin"))
    assert berlin.end - berlin.start == timedelta(hours=169)


@pytest.mark.parametrize("text", ["2025-W53", "2026-W00", "2026-W7", "1999-W10", "2026-13-01", "W48", ""])
def test_a_week_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        cf.Week.parse(text)


def test_a_district_by_its_children(session: Session) -> None:
    report = cf.report(session, _region(session, "410105"), W48.window(ZONE))
    total = report.total
    assert (total.reported, total.accepted, total.closed, total.closed_on_time, total.open, total.overdue) == (3, 2, 2, 1, 4, 1)
    assert total.closure_rate == 1.0 and total.on_time_rate == 0.5
    assert total.average_close_seconds == pytest.approx((DAY + 3 * DAY + 60) / 2, abs=1)
    rows = _rows(report)
    assert list(rows) == ["410105-003", "410105-009", "=410105"]
    street, cell_c, direct = rows["410105-003"], rows["410105-009"], rows["=410105"]
    assert (street.reported, street.accepted, street.closed, street.open, street.overdue) == (2, 2, 2, 1, 0)
    assert (cell_c.reported, cell_c.accepted, cell_c.closed, cell_c.open, cell_c.overdue) == (0, 0, 0, 2, 1)
    assert (direct.reported, direct.open) == (1, 1) and direct.closure_rate is None
    assert sum((row.figures for row in report.rows), cf.Figures()) == total
    assert [r.code for r in report.trail] == ["4101", "410105"]


def test_a_district_by_its_cells(session: Session) -> None:
    report = cf.report(session, _region(session, "410105"), W48.window(ZONE), level="cell")
    rows = _rows(report)
    assert list(rows) == ["410105-003-07", "410105-003-08", "410105-009", "=410105"]
    a, b = rows["410105-003-07"], rows["410105-003-08"]
    assert (a.reported, a.accepted, a.closed, a.closed_on_time, a.open) == (1, 2, 2, 1, 0)
    assert (b.reported, b.accepted, b.closed, b.open) == (1, 0, 0, 1)
    assert a.as_json() == {
        "reported": 1,
        "accepted": 2,
        "closed": 2,
        "closed_on_time": 1,
        "closure_rate": 1.0,
        "on_time_rate": 0.5,
        "open": 0,
        "overdue": 0,
        "average_close_s": pytest.approx(2 * DAY + 30, abs=1),
    }
    with pytest.raises(InvalidInput):
        cf.report(session, None, W48.window(ZONE), level="planet")


def test_the_whole_registry_and_a_cell(session: Session) -> None:
    everything = cf.report(session, None, W48.window(ZONE))
    assert [row.code for row in everything.rows] == ["4101"] and everything.trail == []
    assert (everything.total.reported, everything.total.closed, everything.total.open) == (4, 3, 4)
    cell = cf.report(session, _region(session, "410105-003-08"), W48.window(ZONE))
    assert cell.rows == [cf.Row("410105-003-08", "第八网格", "cell", cell.total, direct=True)]
    assert (cell.total.reported, cell.total.open) == (1, 1)


def test_an_empty_week_counts_zero_and_has_no_rates(session: Session) -> None:
    report = cf.report(session, _region(session, "410105"), cf.Week(2026, 40).window(ZONE))
    assert report.total == cf.Figures() and report.total.empty
    assert report.total.closure_rate is None and report.total.on_time_rate is None and report.total.average_close_seconds is None
    assert [row.code for row in report.rows] == ["410105-003", "410105-009"]  # every child, with zeros
    assert report.total.as_json()["closure_rate"] is None


def test_found_and_handled_over_days(session: Session) -> None:
    window = cf.Window.of_days(date(2026, 11, 23), date(2026, 11, 29), ZONE)
    assert cf.found_and_handled(session, _region(session, "410105"), window) == (3, 1)
    assert cf.found_and_handled(session, None, window) == (4, 2)


def test_a_grid_user_sees_its_own_subtree_only(session: Session) -> None:
    grid = Principal(1, "officer", Role.GRID, None, None, region_paths=("4101/410105/410105-003",))
    assert cf.region_for(session, None, grid).code == "410105-003"  # type: ignore[union-attr]
    assert cf.region_for(session, "410105-003-07", grid).code == "410105-003-07"  # type: ignore[union-attr]
    for code, who in (
        ("410105", grid),
        ("410105-009", grid),
        (None, replace(grid, region_paths=())),
        ("4101", replace(grid, role=Role.CENTRE)),
    ):
        with pytest.raises(Forbidden):
            cf.region_for(session, code, who)
    bureau = Principal(2, "bureau", Role.BUREAU, None, None)
    with pytest.raises(NotFound):
        cf.region_for(session, "nowhere", bureau)
    assert cf.region_for(session, None, bureau) is None


def test_the_api_answers_the_bureau_and_a_grid_user_in_its_scope(client: FlaskClient, world: World, session: Session) -> None:
    officer = world.add_user("officer", Role.GRID)
    street = _region(session, "410105-003")
    session.add(
        GridPerson(
            region_id=street.id,
            user_id=session.scalars(select(User.id).where(User.username == "officer")).one(),
            name="李四",
            duty="lead",
        )
    )
    session.commit()
    url = "/api/v1/bureau/case-figures"
    body = client.get(url, query_string={"region": "410105", "week": "2026-W48"}, headers=world.auth("bureau")).get_json()
    assert body["week"] == "2026-W48" and body["since"] == "2026-11-22T16:00:00+00:00" and body["timezone"] == "Asia/Shanghai"
    assert body["total"] | {"average_close_s": None} == {
        "reported": 3, "accepted": 2, "closed": 2, "closed_on_time": 1, "closure_rate": 1.0, "on_time_rate": 0.5,
        "open": 4, "overdue": 1, "average_close_s": None,
    }  # fmt: skip
    assert [(r["region"], r["direct"], r["reported"]) for r in body["rows"]] == [
        ("410105-003", False, 2), ("410105-009", False, 0), ("410105-01", False, 0), ("410105", True, 1),
    ]  # fmt: skip
    assert client.get(url, headers=world.auth("bureau")).get_json()["week"] == "2026-W47"  # the clock's week
    grid = {"Authorization": f"Bearer {officer}"}
    mine = client.get(url, query_string={"week": "2026-11-25", "level": "cell"}, headers=grid).get_json()
    assert mine["region"] == "410105-003" and [r["region"] for r in mine["rows"]] == ["410105-003-07", "410105-003-08"]
    assert client.get(url, query_string={"region": "410105"}, headers=grid).status_code == 403
    assert client.get(url, query_string={"week": "2025-W53"}, headers=grid).status_code == 422
    assert client.get(url, query_string={"region": "4101"}, headers=world.auth("centre")).status_code == 403
