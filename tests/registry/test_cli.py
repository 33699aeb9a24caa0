"""`cylinder-registry` commands end to end: upgrade, users and tokens, CSV import with per-row
errors, seed-demo determinism, partitions; and `serve` answering over HTTP."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from registry_service import cli
from registry_service.models import AuditEntry, Cylinder, Station, Vehicle
from registry_service.seed import DemoShape, seed_demo
from tests.registry.conftest import DATA, World, empty_all_tables
from tests.registry.served import serving


def run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--database-url", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_users_tokens_and_errors(capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine) -> None:
    assert run(capsys, database_url, "upgrade")[0] == 0
    code, out, _ = run(capsys, database_url, "create-user", "ops", "--role", "bureau")
    assert code == 0 and json.loads(out)["role"] == "bureau"
    code, out, _ = run(capsys, database_url, "issue-token", "ops", "--label", "laptop", "--days", "7")
    issued = json.loads(out)
    assert code == 0 and issued["token"].startswith("cgr_")
    code, _, err = run(capsys, database_url, "create-user", "ops", "--role", "bureau")
    assert code == 1 and "already exists" in err and "Traceback" not in err
    code, _, err = run(capsys, database_url, "create-user", "pump", "--role", "station", "--station", "NOPE")
    assert code == 1 and "no station NOPE" in err
    assert run(capsys, database_url, "revoke-token", str(issued["token_id"]))[0] == 0
    with engine.connect() as c:
        actions = list(c.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["create_user", "issue_token", "revoke_token"]


def test_import_reports_bad_rows_and_loads_the_rest(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, world: World, tmp_path: Path
) -> None:
    def imported(kind: str) -> tuple[int, dict[str, object], list[dict[str, str]]]:
        """The JSON summary and the rejected rows (tests/registry/test_csv_import.py has the words)."""
        rejects = tmp_path / f"{kind}-rejects.csv"
        code, out, _ = run(
            capsys, database_url, "import", kind, str(DATA / f"{kind}.csv"), "--quiet", "--json", "--errors", str(rejects)
        )
        return code, json.loads(out), list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))

    code, report, refused = imported("stations")
    assert code == cli.EXIT_PARTIAL and report["imported"] == 2
    assert [r["code"] for r in refused] == ["ST-CSV-03", "ST-CSV-04"]
    assert "no region 999999" in refused[0]["error"]
    code, report, refused = imported("vehicles")
    assert report["imported"] == 2 and [r["plate"] for r in refused] == ["豫A10003", "", "豫A10004"]
    code, report, refused = imported("cylinders")
    assert report["imported"] == 2, report
    assert [r["serial"] for r in refused] == ["TH2019-3", "TH2019-4", "TH2019-5", "TH2019-6", "TH2019-7"]
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Station).where(Station.code.like("ST-CSV-%"))) == 2
        assert set(c.scalars(select(Vehicle.plate).where(Vehicle.plate.like("豫A1000%")))) == {"豫A10001", "豫A10002"}
        assert set(c.scalars(select(Cylinder.cylinder_id))) == {"156-4101-50001", "156-4101-50002"}
    code, _, err = run(capsys, database_url, "import", "cylinders", str(DATA / "stations.csv"), "--quiet", "--lang", "en")
    assert code == 1 and "lacks the column(s)" in err


def test_seed_demo_is_deterministic_and_realistic(database_url: str, engine: Engine) -> None:
    shape = DemoShape(vehicles=400, stations_per_district=3, event_days=7)
    first = seed_demo(engine, 11, date(2026, 11, 22), shape, progress=False)
    with engine.connect() as c:
        rows_first = c.execute(select(Cylinder.cylinder_id, Cylinder.tag_uid, Cylinder.next_due).order_by(Cylinder.id)).all()
        names = set(c.scalars(select(Station.name)))
    empty_all_tables(engine)
    second = seed_demo(engine, 11, date(2026, 11, 22), shape, progress=False)
    with engine.connect() as c:
        rows_second = c.execute(select(Cylinder.cylinder_id, Cylinder.tag_uid, Cylinder.next_due).order_by(Cylinder.id)).all()
    assert first == second and rows_first == rows_second
    assert first.stations == 30 and first.vehicles == 400 and 400 <= first.cylinders <= 1600
    assert 0.03 < first.overdue / first.cylinders < 0.15
    assert first.past_life > 0 and first.events > 1000
    assert any("金水区" in n for n in names) and any("郑东新区" in n for n in names)
    from registry_service.errors import Conflict

    with pytest.raises(Conflict):
        seed_demo(engine, 11, date(2026, 11, 22), shape, progress=False)


def test_serve_answers_over_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    assert cli.main(["--database-url", url, "upgrade"]) == 0
    with serving(url) as base, urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as response:
        assert json.load(response) == {"status": "ok"}


def test_partitions_command(capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine) -> None:
    code, out, _ = run(capsys, database_url, "partitions", "--days-ahead", "3")
    assert code == 0
    result = json.loads(out)
    if engine.dialect.name == "postgresql":
        from datetime import UTC, datetime, timedelta

        from registry_service import partitions

        with engine.connect() as c:
            present = partitions.existing_partitions(c)
        today = datetime.now(UTC).date()
        assert {partitions.partition_name(today + timedelta(days=d)) for d in range(4)} <= present
    else:
        assert "only on PostgreSQL" in result["note"]
