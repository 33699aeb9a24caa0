"""`cylinder-registry import` reads a clerk's CSV as Chinese Excel saves it (GBK, GB18030 or UTF-8
with a BOM, CRLF), prints a summary, and writes the rejected rows as typed, with an error column, to
a file the clerk corrects and imports again (tag_tools.clerk_csv, tag_tools.clerk_cells)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from registry_service import cli
from registry_service.csv_import import import_csv
from registry_service.models import Cylinder, Station, Vehicle
from tests.registry.conftest import DATA, World

NOW = datetime(2026, 11, 22, tzinfo=UTC)
PLATES = ["豫A8M2K7", "京A12345", "粤BD12345", "粤B12345F"]


def excel_csv(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--database-url", url, "import", *args, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def plates(engine: Engine) -> set[str]:
    with engine.connect() as c:
        return set(c.scalars(select(Vehicle.plate)))


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_an_excel_export_imports_the_right_plates(engine: Engine, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "vehicles.csv"
    path.write_bytes(excel_csv([["plate", "vin", "use", "region"], *([p, "", "taxi", ""] for p in PLATES)], encoding))
    report = import_csv(sessionmaker(engine), "vehicles", path, NOW, "test", progress=False)
    assert report.errors == [] and report.imported == 4
    assert plates(engine) == set(PLATES)


def test_a_gbk_file_of_豫_plates_only_imports_豫_not_ԥ(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "vehicles.csv"
    path.write_bytes(excel_csv([["plate", "use"], ["豫A8M2K7", "taxi"], ["豫AD5521", "bus"]], "gbk"))
    assert path.read_bytes().decode("utf-8") == "plate,use\r\nԥA8M2K7,taxi\r\nԥAD5521,bus\r\n"  # the trap
    code, out, _ = run(capsys, database_url, "vehicles", str(path), "--lang", "en")
    assert code == cli.EXIT_OK and out == "vehicles.csv: 2 rows read, 2 imported, 0 rejected\n"
    assert plates(engine) == {"豫A8M2K7", "豫AD5521"} and not (tmp_path / "vehicles-rejects.csv").exists()


def test_rejected_rows_go_to_a_file_beside_the_input_and_import_once_corrected(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, world: World, tmp_path: Path
) -> None:
    source = tmp_path / "vehicles.csv"
    shutil.copy(DATA / "vehicles.csv", source)  # rows 4-6: use spaceship, no plate, a VIN already taken
    code, out, err = run(capsys, database_url, "vehicles", str(source))
    rejects = tmp_path / "vehicles-rejects.csv"
    assert code == cli.EXIT_PARTIAL and err == ""
    assert out.splitlines() == [
        "vehicles.csv：读取 5 行，导入 2 行，拒绝 3 行",
        f"被拒绝的行及原因已写入 {rejects}（请在该文件中改正后再次导入）",
    ]
    header, *refused = csv.reader(io.StringIO(rejects.read_bytes().decode("utf-8-sig"), newline=""))
    assert header == ["plate", "vin", "use", "region", "error"]
    assert refused == [
        ["豫A10003", "", "spaceship", "", "use：spaceship 不是以下之一：private, taxi, bus, truck, other"],
        ["", "", "private", "", "plate：为空，但必须填写"],
        ["豫A10004", "LSVAU2180N2183744", "taxi", "", "VIN LSVAU2180N2183744 is registered to 豫A10001"],
    ]

    # The clerk corrects the rows in Excel and saves the same file (GBK, error column kept).
    refused[0][2], refused[1][0], refused[2][1] = "other", "豫A10005", ""
    rejects.write_bytes(excel_csv([header, *refused], "gbk"))
    code, out, _ = run(capsys, database_url, "vehicles", str(rejects), "--lang", "en")
    assert code == cli.EXIT_OK and out == "vehicles-rejects.csv: 3 rows read, 3 imported, 0 rejected\n"
    assert {p for p in plates(engine) if p.startswith("豫A1000")} == {f"豫A1000{n}" for n in range(1, 6)}


def test_cells_are_refused_in_the_clerks_words_and_the_summary_can_be_json(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, tmp_path: Path
) -> None:
    columns = ["cylinder_id", "serial", "manufactured_on", "end_of_life", "next_due", "tag_uid", "plate", "position"]
    rows = [
        ["156-4101-60001", "S-1", "2019-06-01", "2034-05-31", "2026/11/25", "", "", ""],
        ["156-4101-60002", "S-2", "2019-06-01", "2034-05-31", "2027-06-01", "4.12346E+12", "豫I12345", "0x1"],
        ["156-4101-60003", "S-3", "2019-06-01", "2034-05-31", "2027-06-01", "04A1A2A3A4A5A7", "", ""],
    ]
    source = tmp_path / "cylinders.csv"
    source.write_bytes(excel_csv([columns, *rows], "gb18030"))
    errors = tmp_path / "out" / "refused.csv"
    errors.parent.mkdir()
    code, out, _ = run(capsys, database_url, "cylinders", str(source), "--errors", str(errors), "--lang", "en", "--json")
    assert code == cli.EXIT_PARTIAL
    assert json.loads(out) == {"kind": "cylinders", "read": 3, "imported": 1, "rejected": 2, "rejects_file": str(errors)}
    refused = list(csv.DictReader(io.StringIO(errors.read_bytes().decode("utf-8-sig"), newline="")))
    assert [r["error"] for r in refused] == [
        "next_due: 2026/11/25 is not a date like 2026-11-25",
        "tag_uid: 4.12346E+12 is not a tag UID: 8, 14 or 20 hex digits like 04A2C4D2E15A80 (Excel turned it into a number: "
        "format the column as Text and type it again); plate: 豫I12345 is not a number plate: Chinese plates have no letter "
        "I or O (is it 1 or 0?); position: 0x1 is not a whole number",
    ]
    with engine.connect() as c:
        assert list(c.scalars(select(Cylinder.cylinder_id))) == ["156-4101-60003"]


def test_a_file_that_is_not_utf8_or_gbk_is_refused_whole(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, tmp_path: Path
) -> None:
    source = tmp_path / "stations.csv"
    source.write_bytes("code,name,region\r\nST-U16,统一站,410105-01\r\n".encode("utf-16"))
    code, out, err = run(capsys, database_url, "stations", str(source), "--lang", "en")
    assert code == cli.EXIT_ERROR and out == ""
    assert err.startswith("cylinder-registry: stations.csv: the file is neither UTF-8 nor GBK text. Save it again as UTF-8")
    with engine.connect() as c:
        assert list(c.scalars(select(Station.code))) == []
    assert not (tmp_path / "stations-rejects.csv").exists()
