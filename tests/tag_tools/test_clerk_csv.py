"""A centre clerk's CSV, as Chinese Excel and WPS save it: GBK, GB18030 or UTF-8 with a BOM, CRLF.

The reader (tag_tools.clerk_csv) must never put a wrong plate on a tag: a GBK file whose only
Chinese characters are 豫 is valid UTF-8 too, and read as UTF-8 it would sign `ԥA8M2K7`. Row
errors are in the clerk's words, name the column and show the value; `--errors` gives back the
refused rows as typed, which the clerk corrects and signs again.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tag_tools import clerk_cells, clerk_csv, pki
from tag_tools.claims import InspectionResult
from tag_tools.clerk_csv import ClerkFileError
from tag_tools.cli.main import main as cylinder_tag
from tag_tools.keys import write_private_key
from tag_tools.record import decode_unverified
from tests.catalogues import assert_catalogues_complete
from tests.testkit import TYPICAL_UID, TestPki, typical_record

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PASSPHRASE = "centre-secret-for-clerk-tests"
PLATES = ("豫A8M2K7", "京A12345", "粤BD12345", "豫AD5521")
# How each encoding reaches us: Chinese Excel's "CSV (逗号分隔)" is GBK (code page 936), its
# "CSV UTF-8" has a BOM; GB18030 is what a Chinese Windows with a GB18030 code page writes.
EXCEL_ENCODINGS = {"GBK": "gbk", "GB18030": "gb18030", "UTF-8 with BOM": "utf-8-sig"}


def excel_csv(rows: list[list[str]], encoding: str) -> bytes:
    """Rows as Excel writes them: CRLF line ends, quotes only where needed, in `encoding`."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def inspection(plate: str, number: int, **changes: str) -> dict[str, str]:
    fields = typical_record(TYPICAL_UID, NOW).to_json()
    del fields["issued_at"], fields["centre_id"]
    fields |= {"plate": plate, "cylinder_id": f"156-4101-{7000 + number}", "tag_uid": f"04A2C4D2E17A{number:02X}"}
    return {k: str(v) for k, v in (fields | changes).items()}


def batch(rows: list[dict[str, str]]) -> list[list[str]]:
    columns = list(rows[0])
    return [columns, *([row[c] for c in columns] for row in rows)]


# Reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", EXCEL_ENCODINGS)
def test_every_excel_export_reads_the_same_plates(label: str) -> None:
    rows = [["plate", "vin", "use", "region"], *([p, "", "taxi", ""] for p in PLATES), ["粤B12345", "", "private", "天河区"]]
    table = clerk_csv.read(excel_csv(rows, EXCEL_ENCODINGS[label]))
    assert table.columns == ("plate", "vin", "use", "region")
    assert [r.cells["plate"] for r in table.rows] == [*PLATES, "粤B12345"]
    assert table.rows[-1].cells["region"] == "天河区" and [r.line for r in table.rows] == [2, 3, 4, 5, 6]
    assert table.encoding == ("UTF-8" if label.startswith("UTF-8") else "GB18030")


def test_a_gbk_file_whose_only_chinese_is_豫_is_not_read_as_utf8() -> None:
    data = excel_csv([["plate", "vin", "use"], ["豫A8M2K7", "", "taxi"], ["豫AD5521", "", "bus"]], "gbk")
    assert "ԥA8M2K7" in data.decode("utf-8")  # the trap is real: these GBK bytes are valid UTF-8
    table = clerk_csv.read(data)
    assert table.encoding == "GB18030" and [r.cells["plate"] for r in table.rows] == ["豫A8M2K7", "豫AD5521"]


def test_without_a_plate_column_the_odd_characters_decide() -> None:
    # 豫 read from GBK as UTF-8 is the Cyrillic ԥ, which no Chinese clerk's file holds.
    data = excel_csv([["code", "name", "region"], ["ST-1", "豫", "410105-01"]], "gbk")
    assert clerk_csv.decode(data) == ("code,name,region\r\nST-1,豫,410105-01\r\n", "GB18030")


def test_a_utf8_file_that_is_also_valid_gb18030_stays_utf8() -> None:
    data = excel_csv([["plate", "name"], ["豫A12345", "é"], ["京A12345", "x"], ["粤B12345", "y"]], "utf-8")
    assert data.decode("gb18030").startswith("plate,name\r\n璞獳12345,茅\r\n浜珹12345")  # valid, and wrong
    table = clerk_csv.read(data)
    assert table.encoding == "UTF-8" and [r.cells for r in table.rows][:2] == [
        {"plate": "豫A12345", "name": "é"},
        {"plate": "京A12345", "name": "x"},
    ]


@pytest.mark.parametrize(
    "data",
    [
        "plate,vin\r\n豫A12345,\r\n".encode("utf-16"),  # Excel's "Unicode text"
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe",  # an .xlsx workbook
        codecs.BOM_UTF8 + "plate\r\n京A12345\r\n".encode("gbk"),  # starts as UTF-8, is not
        b"plate\r\n\x80\x80\r\n",
    ],
)
def test_what_is_neither_utf8_nor_gbk_is_refused_saying_how_to_save_it(data: bytes) -> None:
    with pytest.raises(ClerkFileError) as english:
        clerk_csv.read(data, "en")
    assert 'Save it again as UTF-8: in Excel, File → Save As → "CSV UTF-8 (Comma delimited) (*.csv)"' in str(english.value)
    with pytest.raises(ClerkFileError, match="请另存为 UTF-8"):
        clerk_csv.read(data, "zh")


def test_a_workbook_that_happens_to_decode_is_refused_as_not_text() -> None:
    with pytest.raises(ClerkFileError, match="not CSV text"):
        clerk_csv.read(b"PK\x03\x04\x00\x00plate\r\n", "en")


def test_lines_are_the_files_lines_and_blank_rows_are_skipped() -> None:
    text = 'plate,vin,use\r\n豫A00001,,taxi\r\n\r\n,,\r\n"豫A00002",,"a\r\nb"\r\n豫A00003,,taxi,,\r\n豫A00004,,taxi,extra\r\n'
    table = clerk_csv.read(text.encode("gbk"))
    assert [(r.line, r.cells["plate"]) for r in table.rows] == [
        (2, "豫A00001"),
        (5, "豫A00002"),
        (7, "豫A00003"),
        (8, "豫A00004"),
    ]
    assert table.rows[1].cells["use"] == "a\r\nb" and table.rows[2].extra == () and table.rows[3].extra == ("extra",)
    with pytest.raises(clerk_cells.RowError, match="more cells than the first line has columns: extra"):
        clerk_cells.RowCells(table.rows[3], "en").done()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "the file is empty"),
        ("\r\n\r\n", "the file is empty"),
        ("plate,vin,plate\r\n", "names the column(s) plate more than once"),
        ("plate,,vin\r\n", "column 2 of the first line has no name"),
        ("vin,use\r\n", "lacks the column(s) plate"),
        ("plate,colour\r\n", "unknown column(s) colour; the columns are plate, vin, use"),
    ],
)
def test_the_first_line_must_name_the_columns(text: str, complaint: str) -> None:
    with pytest.raises(ClerkFileError, match=re.escape(complaint)):
        clerk_csv.check_columns(clerk_csv.read(text.encode(), "en"), ("plate",), ("plate", "vin", "use"), "en")


def test_too_many_rows_are_refused_before_any_is_used() -> None:
    with pytest.raises(ClerkFileError, match="more than 2 rows"):
        clerk_csv.read(b"plate\r\nA\r\nB\r\nC\r\n", "en", max_rows=2)


# Cells in the clerk's words ----------------------------------------------------------------------


def _row(**cells: str) -> clerk_csv.ClerkRow:
    return clerk_csv.ClerkRow(2, tuple(cells.values()), dict(cells))


@pytest.mark.parametrize(
    ("column", "parse", "value", "english"),
    [
        ("next_due", clerk_cells.day, "2026/11/25", "next_due: 2026/11/25 is not a date like 2026-11-25"),
        ("next_due", clerk_cells.day, "2026-02-30", "next_due: 2026-02-30 is not a date like 2026-11-25"),
        ("next_due", clerk_cells.day, "20261125", "next_due: 20261125 is not a date like 2026-11-25"),
        ("plate", clerk_cells.plate, "ԥA8M2K7", "plate: ԥA8M2K7 is not a number plate like 豫A12345, 豫AD12345 or 豫A1234学"),
        ("plate", clerk_cells.plate, "豫AO1234", "plate: 豫AO1234 is not a number plate: Chinese plates have no letter I or O"),
        ("vin", clerk_cells.vin, "LSVAU2180N218374", "vin: LSVAU2180N218374 is not a VIN: 17 letters and digits"),
        ("cylinder_id", clerk_cells.cylinder_id, "156/4101/1", "cylinder_id: 156/4101/1 is not a cylinder ID like 156-4101-"),
        (
            "tag_uid",
            clerk_cells.tag_uid,
            "4.12346E+12",
            "tag_uid: 4.12346E+12 is not a tag UID: 8, 14 or 20 hex digits like 04A2C4D2E15A80 (Excel turned it into a "
            "number: format the column as Text and type it again)",
        ),
        ("result", clerk_cells.result, "通过", "result: 通过 is not 合格, 不合格, pass or fail"),
        (
            "kind",
            clerk_cells.cylinder_kind,
            "CNG-5",
            "kind: CNG-5 is not a cylinder kind: CNG-1, CNG-2, CNG-3, CNG-4, LNG or LPG",
        ),
        ("sequence", clerk_cells.whole_number, "3.0", "sequence: 3.0 is not a whole number"),
        ("latitude", clerk_cells.decimal_in(-90, 90), "north", "latitude: north is not a number from -90 to 90"),
        ("use", clerk_cells.one_of("taxi", "bus"), "spaceship", "use: spaceship is not one of taxi, bus"),
        ("issued_at", clerk_cells.moment, "2026-11-22 08:00", "issued_at: 2026-11-22 08:00 is not a time with its zone like"),
        ("serial", clerk_cells.text, "TH\x07", "serial: TH\\x07 contains a character that is not text"),
    ],
)
def test_a_bad_cell_is_named_with_its_value(column: str, parse: Any, value: str, english: str) -> None:
    cells = clerk_cells.RowCells(_row(**{column: value}), "en")
    assert cells.get(column, parse) is None
    with pytest.raises(clerk_cells.RowError) as refused:
        cells.done()
    assert str(refused.value).startswith(english), str(refused.value)
    assert "isoformat" not in str(refused.value) and "Traceback" not in str(refused.value)


def test_row_errors_are_in_chinese_by_default_and_name_every_bad_cell() -> None:
    cells = clerk_cells.RowCells(_row(next_due="2026/11/25", plate="豫I12345", serial=""), clerk_csv.DEFAULT_LANGUAGE)
    cells.get("next_due", clerk_cells.day)
    cells.get("plate", clerk_cells.plate)
    cells.get("serial", clerk_cells.text, required=True)
    with pytest.raises(clerk_cells.RowError) as refused:
        cells.done()
    assert str(refused.value) == (
        "next_due：2026/11/25 不是 2026-11-25 这样的日期; "
        "plate：豫I12345 不是号牌：号牌中没有字母 I 和 O（是数字 1 或 0 吗？）; serial：为空，但必须填写"
    )


@pytest.mark.parametrize(
    ("typed", "result"),
    [
        ("合格", InspectionResult.PASSED),
        ("不合格", InspectionResult.FAILED),
        ("pass", InspectionResult.PASSED),
        ("FAIL", InspectionResult.FAILED),
        ("passed", InspectionResult.PASSED),
        ("failed", InspectionResult.FAILED),
    ],
)
def test_results_are_合格_不合格_pass_or_fail(typed: str, result: InspectionResult) -> None:
    assert clerk_cells.result(typed) is result


def test_a_long_or_unprintable_value_is_shown_clipped_and_escaped() -> None:
    assert clerk_csv.shown("豫A12345") == "豫A12345"
    assert clerk_csv.shown("a\nb") == "a\\nb"
    assert clerk_csv.shown("x" * 100) == "x" * 39 + "…"


def test_the_clerk_catalogues_are_complete() -> None:
    used: set[str] = set()
    for source in ("tag_tools/clerk_csv.py", "tag_tools/clerk_cells.py", "registry_service/cli.py"):
        used |= set(re.findall(r'"((?:file|row|cell|import)\.[a-z_]+)"', (ROOT / source).read_text(encoding="utf-8")))
    assert {"file.encoding", "cell.date", "cell.plate", "import.summary"} <= used
    assert_catalogues_complete(clerk_csv.DOMAIN, used)


# Signing a batch -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("centre")
    test_pki = TestPki.create(NOW)
    write_private_key(folder / "centre-key.pem", test_pki.centre_key, PASSPHRASE.encode())
    (folder / "cert.pem").write_bytes(pki.certificate_to_pem(test_pki.centre_certificate))
    return folder


def sign(centre: Path, batch_file: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    argv = ["sign", "--csv", str(batch_file), "--key", str(centre / "centre-key.pem"), "--cert", str(centre / "cert.pem")]
    argv += ["--out", str(out), "--now", NOW.isoformat(), "--passphrase-env", "CLERK_TEST_PASS", *extra]
    code = cylinder_tag(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def signed_plates(out: Path) -> dict[str, str]:
    return {
        str(decoded.record.cylinder_id): decoded.record.plate
        for decoded in (decode_unverified(f.read_bytes()) for f in sorted(out.glob("*.ndef")))
    }


@pytest.mark.parametrize("label", EXCEL_ENCODINGS)
def test_an_excel_batch_signs_the_right_plates_and_refuses_a_non_plate_by_line(
    label: str, centre: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_TEST_PASS", PASSPHRASE)
    rows = [inspection(plate, n, result="合格") for n, plate in enumerate(PLATES)]
    rows.insert(2, inspection("豫A8M2", 9))  # line 4: not a plate
    (tmp_path / "batch.csv").write_bytes(excel_csv(batch(rows), EXCEL_ENCODINGS[label]))
    code, out, err = sign(centre, tmp_path / "batch.csv", tmp_path / "out", capsys)
    assert code == 3 and "signed 4 of 5 rows" in out, err
    assert signed_plates(tmp_path / "out") == {
        "156-4101-7000": "豫A8M2K7",
        "156-4101-7001": "京A12345",
        "156-4101-7002": "粤BD12345",
        "156-4101-7003": "豫AD5521",
    }
    assert f"{tmp_path / 'batch.csv'}:4: plate：豫A8M2 不是 豫A12345、豫AD12345 或 豫A1234学 这样的号牌" in err.splitlines()


def test_a_batch_fixed_in_its_errors_file_signs_when_sent_again(
    centre: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_TEST_PASS", PASSPHRASE)
    rows = [
        inspection("豫A8M2K7", 20, result="合格"),
        inspection("豫A3Q7T1", 21, next_due="2029/10/22", result="不合格"),
        inspection("豫AO1234", 22, result="pass"),
        inspection("粤BD12345", 23, result="fail", tag_uid="4.12346E+12"),
    ]
    (tmp_path / "batch.csv").write_bytes(excel_csv(batch(rows), "gbk"))
    errors = tmp_path / "batch-errors.csv"
    code, out, err = sign(centre, tmp_path / "batch.csv", tmp_path / "out", capsys, "--errors", str(errors))
    assert code == 3 and "signed 1 of 4 rows" in out, err
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in err.splitlines() if line.startswith(str(tmp_path))] == [
        "3",
        "4",
        "5",
    ]

    data = errors.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and b"\r\n" in data  # what Excel opens as UTF-8
    returned = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, *refused = returned
    assert header == [*rows[0], "error"]  # the batch's columns in its order, then the reason
    assert [r[:-1] for r in refused] == [[row[c] for c in rows[0]] for row in rows[1:]]  # the rows as typed
    assert [r[-1] for r in refused] == [
        "next_due：2029/10/22 不是 2026-11-25 这样的日期",
        "plate：豫AO1234 不是号牌：号牌中没有字母 I 和 O（是数字 1 或 0 吗？）",
        "tag_uid：4.12346E+12 不是标签 UID：应为 8、14 或 20 位十六进制数字，如 04A2C4D2E15A80"
        "（Excel 把它变成了数字：请把该列设为“文本”格式后重新输入）",
    ]

    # The clerk corrects the cells in Excel and saves the same file again (as GBK, error column kept).
    column = {name: i for i, name in enumerate(header)}
    refused[0][column["next_due"]] = "2029-10-22"
    refused[1][column["plate"]] = "豫A01234"
    refused[2][column["tag_uid"]] = "04A2C4D2E17A23"
    errors.write_bytes(excel_csv([header, *refused], "gbk"))
    code, out, err = sign(centre, errors, tmp_path / "out", capsys, "--errors", str(tmp_path / "again-errors.csv"))
    assert code == 0 and "signed 3 of 3 rows" in out, err
    assert signed_plates(tmp_path / "out") == {
        "156-4101-7020": "豫A8M2K7",
        "156-4101-7021": "豫A3Q7T1",
        "156-4101-7022": "豫A01234",
        "156-4101-7023": "粤BD12345",
    }
    results = {
        str(d.record.cylinder_id): d.record.result
        for d in map(decode_unverified, map(Path.read_bytes, (tmp_path / "out").glob("*.ndef")))
    }
    assert results["156-4101-7021"] is InspectionResult.FAILED and results["156-4101-7022"] is InspectionResult.PASSED
    assert (tmp_path / "again-errors.csv").read_bytes().decode("utf-8-sig") == ",".join(header) + "\r\n"


def test_a_batch_with_an_unknown_column_is_refused_whole(
    centre: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_TEST_PASS", PASSPHRASE)
    rows = [inspection("豫A8M2K7", 30) | {"nextdue": "2029-10-22"}]
    (tmp_path / "batch.csv").write_bytes(excel_csv(batch(rows), "utf-8-sig"))
    code, _, err = sign(centre, tmp_path / "batch.csv", tmp_path / "out", capsys)
    assert code == 3 and not (tmp_path / "out").exists()
    assert err.count("\n") == 1 and "第一行有未知的列：nextdue" in err and str(tmp_path / "batch.csv") in err
