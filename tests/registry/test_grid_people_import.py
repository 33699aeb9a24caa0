"""`cylinder-registry import grid-people FILE`: grid people on their regions, grid users created
without a password when missing, bad rows reported while the rest load, re-imports update."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from registry_service import cli
from registry_service.models import GridPerson, Region, RegionLevel, Role, User
from registry_service.principal import loaded_principal
from registry_service.services import accounts, grid_people, places
from tests.registry.module_database import sqlite_module_database

NOW = datetime(2026, 11, 30, tzinfo=UTC)


# SQLite only: the import is the framework's (tests/registry/test_csv_import.py covers both databases).
database_url, migrated_engine = sqlite_module_database("grid")


@pytest.fixture
def grid_regions(engine: Engine) -> Engine:
    with sessionmaker(engine).begin() as s:
        city = places.ensure_region(s, "4101", "郑州市")
        district = places.ensure_region(s, "410105", "金水区", city)
        street = places.ensure_region(s, "410105-003", "经八路街道", district, RegionLevel.STREET)
        places.ensure_region(s, "410105-003-07", "第七网格", street)
        accounts.create_user(s, "test", NOW, username="zhang", role=Role.BUREAU)
    return engine


def _csv(rows: list[list[str]], encoding: str = "gbk") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def _people(engine: Engine) -> list[tuple[str, str | None, str, str | None, str, str | None]]:
    with sessionmaker(engine)() as s:
        rows = s.execute(
            select(Region.code, User.username, GridPerson.name, GridPerson.phone, GridPerson.duty, User.role)
            .join(Region, Region.id == GridPerson.region_id)
            .outerjoin(User, User.id == GridPerson.user_id)
            .order_by(Region.code, GridPerson.name)
        )
        return [(r, u, n, p, d, role.value if role else None) for r, u, n, p, d, role in rows]


def test_people_load_users_are_made_and_bad_rows_are_reported(
    capsys: pytest.CaptureFixture[str], database_url: str, grid_regions: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "grid.csv"
    path.write_bytes(
        _csv(
            [
                ["region", "username", "name", "phone", "duty"],
                ["410105-003-07", "wang.officer", "王网格员", "13800000000", ""],
                ["410105", "li.lead", "李主任", "0371-6588 0000", "lead"],
                ["410105-003", "", "赵站长", "", ""],
                ["410105-999", "nobody", "无此网格", "", ""],  # unknown region
                ["410105-003-07", "zhang", "张三", "", ""],  # a bureau user cannot be a grid person
                ["410105-003-07", "x", "", "", ""],  # no name
                ["410105-003-07", "y", "某某", "call me", ""],  # not a phone
                ["410105-003-07", "z", "某某", "", "boss"],  # not a duty
            ]
        )
    )
    code = cli.main(["--database-url", database_url, "import", "grid-people", str(path), "--quiet", "--lang", "en"])
    out, _ = capsys.readouterr()
    assert code == cli.EXIT_PARTIAL and out.startswith("grid.csv: 8 rows read, 3 imported, 5 rejected"), out
    rejects = (tmp_path / "grid-rejects.csv").read_bytes().decode("utf-8-sig")
    assert [line.split(",")[1] for line in rejects.splitlines()[1:]] == ["nobody", "zhang", "x", "y", "z"]
    assert _people(grid_regions) == [
        ("410105", "li.lead", "李主任", "0371-6588 0000", "lead", "grid"),
        ("410105-003", None, "赵站长", None, "lead", None),
        ("410105-003-07", "wang.officer", "王网格员", "13800000000", "officer", "grid"),
    ]
    with sessionmaker(grid_regions)() as s:
        assert s.scalar(select(User.password_hash).where(User.username == "wang.officer")) is None

    # Imported again, changed: the same people, updated (no second row), and a second region for li.lead.
    path.write_bytes(
        _csv(
            [
                ["region", "username", "name", "phone"],
                ["410105", "li.lead", "李主任", "13900000000"],
                ["410105-003", "li.lead", "李主任", ""],
            ]
        )
    )
    assert cli.main(["--database-url", database_url, "import", "grid-people", str(path), "--quiet"]) == cli.EXIT_OK
    capsys.readouterr()
    people = _people(grid_regions)
    assert ("410105", "li.lead", "李主任", "13900000000", "lead", "grid") in people and len(people) == 4
    with sessionmaker(grid_regions)() as s:
        user = s.scalars(select(User).where(User.username == "li.lead")).one()
        assert loaded_principal(s, user).region_paths == ("4101/410105", "4101/410105/410105-003")


def test_grid_codes_in_the_gb_t_2260_style() -> None:
    assert grid_people.grid_code_problem("410105", RegionLevel.DISTRICT, "4101") is None
    assert grid_people.grid_code_problem("410105-003", RegionLevel.STREET, "410105") is None
    assert grid_people.grid_code_problem("410105-003-07", RegionLevel.CELL, "410105-003") is None
    assert grid_people.grid_code_problem("410105-07", RegionLevel.CELL, "410105") is None  # a cell right under its district
    assert grid_people.grid_code_problem("JS-7", RegionLevel.CELL, "410105") is not None
    assert grid_people.grid_code_problem("410103-003-07", RegionLevel.CELL, "410105-003") is not None  # another district's
    assert grid_people.grid_code_problem("4101", RegionLevel.CITY, None) is None


def test_a_street_sits_between_district_and_cell(grid_regions: Engine) -> None:
    def levels(s: Session) -> dict[str, str]:
        return {code: level.value for code, level in s.execute(select(Region.code, Region.level))}

    with sessionmaker(grid_regions)() as s:
        assert levels(s) == {"4101": "city", "410105": "district", "410105-003": "street", "410105-003-07": "cell"}
