"""`cylinder-tag` end to end, as a separate process with no terminal and no standard input,
the way scripts at inspection centres and CI drive it."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.station_agent.spanish import install_spanish
from tests.testkit import TYPICAL_UID, typical_record

ROOT_SECRET = "root-secret-DO-NOT-PRINT-7f3a"
CENTRE_SECRET = "centre-secret-DO-NOT-PRINT-91c2"
NOW = "2026-11-22T08:00:00+00:00"
UID = TYPICAL_UID.hex().upper()


def cylinder_tag(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("cylinder-tag", path=str(Path(sys.executable).parent))
    assert executable is not None, "cylinder-tag is not installed next to this Python"
    env = {**os.environ, "ROOT_PASS": ROOT_SECRET, "CENTRE_PASS": CENTRE_SECRET}
    result = subprocess.run([executable, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=60)
    for stream in (result.stdout, result.stderr):
        assert ROOT_SECRET not in stream and CENTRE_SECRET not in stream
        assert "Traceback" not in stream
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("bureau")
    root, centre = ["--passphrase-env", "ROOT_PASS"], ["--passphrase-env", "CENTRE_PASS"]
    cylinder_tag("ca", "init", "--dir", str(work / "ca"), "--now", "2025-01-01T00:00:00Z", *root)
    cylinder_tag("centre", "keygen", "--dir", str(work / "centre"), "--centre-id", "ZZTJ01", "--region", "410105", *centre)
    cylinder_tag(
        "ca",
        "issue",
        "--dir",
        str(work / "ca"),
        "--csr",
        str(work / "centre/centre.csr.pem"),
        "--out",
        str(work / "centre/cert.pem"),
        "--now",
        "2025-01-02T00:00:00Z",
        *root,
    )
    cylinder_tag("trustlist", "build", "--dir", str(work / "ca"), "--out", str(work / "trust.cose"), "--now", NOW, *root)
    inspection = typical_record(TYPICAL_UID, __import__("datetime").datetime.fromisoformat(NOW)).to_json()
    del inspection["issued_at"], inspection["centre_id"]
    (work / "inspection.json").write_text(json.dumps(inspection, ensure_ascii=False), encoding="utf-8")
    cylinder_tag(
        "sign",
        "--json",
        str(work / "inspection.json"),
        "--key",
        str(work / "centre/centre-key.pem"),
        "--cert",
        str(work / "centre/cert.pem"),
        "--out",
        str(work / "record.ndef"),
        "--now",
        NOW,
        *centre,
    )
    return work


def trust_args(work: Path) -> list[str]:
    return ["--trust-list", str(work / "trust.cose"), "--root-cert", str(work / "ca/root-cert.pem"), "--now", NOW]


def test_key_files_are_encrypted_and_private(bureau: Path) -> None:
    for key in (bureau / "ca/root-key.pem", bureau / "centre/centre-key.pem"):
        text = key.read_text()
        assert "ENCRYPTED PRIVATE KEY" in text
        assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_verify_allows_and_prints_json(bureau: Path) -> None:
    result = cylinder_tag("verify", str(bureau / "record.ndef"), "--uid", UID, *trust_args(bureau), "--json")
    verdict = json.loads(result.stdout)
    assert verdict["decision"] == "allow" and verdict["record"]["plate"] == "豫A8M2K7"


def test_verify_refuses_moved_record_with_exit_code_1(bureau: Path) -> None:
    result = cylinder_tag("verify", str(bureau / "record.ndef"), "--uid", "04000000000001", *trust_args(bureau), check=False)
    assert result.returncode == 1 and "uid_mismatch" in result.stdout and "禁止加气" in result.stdout


def test_verify_english_text(bureau: Path) -> None:
    result = cylinder_tag("verify", str(bureau / "record.ndef"), "--uid", UID, *trust_args(bureau), "--lang", "en")
    assert result.stdout.startswith("ALLOW  Fill")


def test_revocation_reaches_stations_through_the_next_trust_list(bureau: Path, tmp_path: Path) -> None:
    work = tmp_path / "copy"
    shutil.copytree(bureau, work)
    cylinder_tag(
        "ca",
        "revoke",
        "--dir",
        str(work / "ca"),
        "--cert",
        str(work / "centre/cert.pem"),
        "--reason",
        "key-compromise",
        "--now",
        NOW,
    )
    cylinder_tag(
        "trustlist",
        "build",
        "--dir",
        str(work / "ca"),
        "--out",
        str(work / "trust.cose"),
        "--now",
        NOW,
        "--passphrase-env",
        "ROOT_PASS",
    )
    shown = json.loads(
        cylinder_tag(
            "trustlist", "show", str(work / "trust.cose"), "--root-cert", str(work / "ca/root-cert.pem"), "--json"
        ).stdout
    )
    assert shown["sequence"] == 2 and shown["centres"] == [] and shown["revoked"][0]["reason"] == "key_compromise"
    result = cylinder_tag("verify", str(work / "record.ndef"), "--uid", UID, *trust_args(work), "--json", check=False)
    assert result.returncode == 1 and json.loads(result.stdout)["reasons"] == ["signer_revoked"]


def test_revocations_file_condemns_a_cylinder(bureau: Path, tmp_path: Path) -> None:
    (tmp_path / "rev.json").write_text(json.dumps({"cylinders": {"156-4101-19012345": "scrapped"}}))
    result = cylinder_tag(
        "verify",
        str(bureau / "record.ndef"),
        "--uid",
        UID,
        *trust_args(bureau),
        "--revocations",
        str(tmp_path / "rev.json"),
        "--json",
        check=False,
    )
    assert result.returncode == 1 and json.loads(result.stdout)["reasons"] == ["cylinder_revoked"]
    (tmp_path / "bad.json").write_text('{"cylinders": {"x": "lost"}}')
    result = cylinder_tag(
        "verify",
        str(bureau / "record.ndef"),
        "--uid",
        UID,
        *trust_args(bureau),
        "--revocations",
        str(tmp_path / "bad.json"),
        check=False,
    )
    assert result.returncode == 3 and result.stderr.count("\n") == 1


def test_show_prints_both_languages(bureau: Path) -> None:
    out = cylinder_tag("show", str(bureau / "record.ndef")).stdout
    assert "Next inspection due" in out and "下次检验日期" in out and "NOT verified" in out
    assert json.loads(cylinder_tag("show", str(bureau / "record.ndef"), "--json").stdout)["size_on_tag"] < 504
    english = cylinder_tag("show", str(bureau / "record.ndef"), "--lang", "en").stdout
    assert "Next inspection due" in english and "下次" not in english and "未验证" not in english


def test_lang_takes_the_installed_languages(bureau: Path) -> None:
    result = cylinder_tag("verify", str(bureau / "record.ndef"), "--uid", UID, *trust_args(bureau), "--lang", "es", check=False)
    assert result.returncode == 2 and "(choose from 'en', 'zh', 'zh_CN')" in result.stderr
    chinese = cylinder_tag("verify", str(bureau / "record.ndef"), "--uid", UID, *trust_args(bureau), "--lang", "zh_CN")
    assert chinese.stdout.startswith("ALLOW  可以加气")


def test_a_spanish_catalogue_alone_adds_spanish(bureau: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_spanish(tmp_path / "locale", monkeypatch, ("tag",))  # cylinder_tag's process inherits the path
    out = cylinder_tag("show", str(bureau / "record.ndef"), "--lang", "es").stdout
    lines = out.splitlines()
    assert any(re.fullmatch(r"Next inspection due +Próxima inspección: 20\d\d-\d\d-\d\d", line) for line in lines), out
    assert any(re.fullmatch(r"Plate +Plate: 豫A8M2K7", line) for line in lines), out  # not translated yet: English
    result = cylinder_tag(
        "verify", str(bureau / "record.ndef"), "--uid", "04000000000001", *trust_args(bureau), "--lang", "es", check=False
    )
    assert result.returncode == 1 and result.stdout.startswith("REFUSE  No cargar")


def test_batch_reports_bad_rows_and_signs_the_rest(bureau: Path, tmp_path: Path) -> None:
    base = json.loads((bureau / "inspection.json").read_text(encoding="utf-8"))
    rows = []
    for i in range(5):
        row = {**base, "cylinder_id": f"156-4101-{100 + i}", "tag_uid": f"04A2C4D2E15A{i:02X}"}
        rows.append(row)
    rows[1]["vin"] = "BAD"
    rows[3]["next_due"] = "not-a-date"
    with (tmp_path / "batch.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(base))
        writer.writeheader()
        writer.writerows(rows)
    result = cylinder_tag(
        "sign",
        "--csv",
        str(tmp_path / "batch.csv"),
        "--key",
        str(bureau / "centre/centre-key.pem"),
        "--cert",
        str(bureau / "centre/cert.pem"),
        "--out",
        str(tmp_path / "out"),
        "--errors",
        str(tmp_path / "errors.csv"),
        "--now",
        NOW,
        "--passphrase-env",
        "CENTRE_PASS",
        check=False,
    )
    assert result.returncode == 3
    assert "signed 3 of 5 rows" in result.stdout
    assert ":3: " in result.stderr and ":5: " in result.stderr
    assert len(list((tmp_path / "out").glob("*.ndef"))) == 3
    # The refused rows themselves, with the reason in an error column (tests/tag_tools/test_clerk_csv.py).
    errors = list(csv.DictReader((tmp_path / "errors.csv").open(encoding="utf-8-sig")))
    assert [e["cylinder_id"] for e in errors] == ["156-4101-101", "156-4101-103"]
    assert errors[0]["error"].startswith("vin") and errors[1]["error"].startswith("next_due")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "/nonexistent/record.ndef"], 3, "cannot read record"),
        (["ca", "init", "--dir", "{tmp}/ca2"], 4, "no terminal"),
        (
            [
                "sign",
                "--json",
                "{work}/inspection.json",
                "--key",
                "{work}/centre/centre-key.pem",
                "--cert",
                "{work}/centre/cert.pem",
                "--out",
                "{tmp}/r.ndef",
                "--passphrase-env",
                "ROOT_PASS",
            ],
            4,
            "wrong passphrase",
        ),
        (
            [
                "verify",
                "{work}/record.ndef",
                "--uid",
                "zz",
                "--trust-list",
                "{work}/trust.cose",
                "--root-cert",
                "{work}/ca/root-cert.pem",
            ],
            3,
            "not hexadecimal",
        ),
        (
            [
                "verify",
                "{work}/record.ndef",
                "--uid",
                UID,
                "--trust-list",
                "{work}/trust.cose",
                "--root-cert",
                "{work}/record.ndef",
            ],
            5,
            "not an X.509",
        ),
        (["show", "{work}/trust.cose"], 3, "not a well-formed NDEF message"),
        (
            ["ca", "issue", "--dir", "{work}/ca", "--csr", "{work}/record.ndef", "--out", "{tmp}/x.pem"],
            3,
            "certificate signing request",
        ),
    ],
)
def test_errors_are_one_line_with_documented_codes(
    bureau: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    args = [a.format(work=bureau, tmp=tmp_path) for a in args]
    result = cylinder_tag(*args, check=False)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_help_documents_exit_codes() -> None:
    assert "exit codes: 0 ok, 1 refused" in cylinder_tag("--help").stdout


def _sign_inspected_on(bureau: Path, tmp_path: Path, inspected: str, now: str, *extra: str) -> subprocess.CompletedProcess[str]:
    inspection = {**json.loads((bureau / "inspection.json").read_text(encoding="utf-8")), "inspected": inspected}
    (tmp_path / "early.json").write_text(json.dumps(inspection, ensure_ascii=False), encoding="utf-8")
    return cylinder_tag(
        "sign",
        "--json",
        str(tmp_path / "early.json"),
        "--key",
        str(bureau / "centre/centre-key.pem"),
        "--cert",
        str(bureau / "centre/cert.pem"),
        "--out",
        str(tmp_path / "early.ndef"),
        "--now",
        now,
        "--passphrase-env",
        "CENTRE_PASS",
        *extra,
        check=False,
    )


def test_sign_uses_the_centres_local_date_not_utc(bureau: Path, tmp_path: Path) -> None:
    """07:30 in Zhengzhou on 22 November is still 21 November in UTC: the centre signs that
    morning's inspection (its certificate says CN, so Asia/Shanghai); in UTC it could not."""
    morning = "2026-11-22T07:30:00+08:00"
    signed = _sign_inspected_on(bureau, tmp_path, "2026-11-22", morning)
    assert signed.returncode == 0, signed.stderr
    shown = json.loads(cylinder_tag("show", str(tmp_path / "early.ndef"), "--json").stdout)["claims"]
    assert shown["inspected"] == "2026-11-22" and shown["issued_at"] == "2026-11-21T23:30:00Z"
    in_utc = _sign_inspected_on(bureau, tmp_path, "2026-11-22", morning, "--timezone", "UTC")
    assert in_utc.returncode == 3 and "after the day of issue 2026-11-21 in UTC" in in_utc.stderr
    tomorrow = _sign_inspected_on(bureau, tmp_path, "2026-11-23", morning)
    assert tomorrow.returncode == 3 and "cannot be issued before its inspection" in tomorrow.stderr  # in any zone


def test_sign_refuses_an_unknown_timezone(bureau: Path, tmp_path: Path) -> None:
    result = _sign_inspected_on(bureau, tmp_path, "2026-11-22", NOW, "--timezone", "Mars/Olympus")
    assert result.returncode == 3 and "not an IANA time zone" in result.stderr and result.stderr.count("\n") == 1


def test_sign_with_a_status_block_numbers_records_and_never_reuses_an_index(bureau: Path, tmp_path: Path) -> None:
    base = json.loads((bureau / "inspection.json").read_text(encoding="utf-8"))
    rows = [{**base, "cylinder_id": f"156-4101-{200 + i}", "tag_uid": f"04A2C4D2E16A{i:02X}"} for i in range(4)]
    rows[1]["next_due"] = "not-a-date"  # a bad row takes no index
    with (tmp_path / "batch.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(base))
        writer.writeheader()
        writer.writerows(rows)
    block = tmp_path / "block.json"
    block.write_text(json.dumps({"list_id": 0, "next": 40, "end": 42}))
    result = cylinder_tag(
        "sign", "--csv", str(tmp_path / "batch.csv"), "--key", str(bureau / "centre/centre-key.pem"),
        "--cert", str(bureau / "centre/cert.pem"), "--out", str(tmp_path / "out"), "--status-block", str(block),
        "--now", NOW, "--passphrase-env", "CENTRE_PASS", check=False,
    )  # fmt: skip
    assert result.returncode == 3 and "signed 2 of 4 rows" in result.stdout
    assert ":3: " in result.stderr and ":5: " in result.stderr and "used up" in result.stderr
    assert json.loads(block.read_text()) == {"list_id": 0, "next": 42, "end": 42}
    claims = [
        json.loads(cylinder_tag("show", str(f), "--json").stdout)["claims"] for f in sorted((tmp_path / "out").glob("*.ndef"))
    ]
    assert [c["status_ref"] for c in claims] == [{"list_id": 0, "index": 40}, {"list_id": 0, "index": 41}]
    block.write_text('{"list_id": 0, "next": 5}')
    broken = cylinder_tag(
        "sign", "--json", str(bureau / "inspection.json"), "--key", str(bureau / "centre/centre-key.pem"),
        "--cert", str(bureau / "centre/cert.pem"), "--out", str(tmp_path / "one.ndef"), "--status-block", str(block),
        "--now", NOW, "--passphrase-env", "CENTRE_PASS", check=False,
    )  # fmt: skip
    assert broken.returncode == 3 and "status block file" in broken.stderr and not (tmp_path / "one.ndef").exists()
