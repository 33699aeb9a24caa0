"""Migrations give exactly the models' schema, on SQLite and PostgreSQL, and keep data across
downgrade/upgrade. Partitioning of scan_events is checked on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, func, insert, inspect, select, text

from registry_service import migrate, partitions
from registry_service.models import Cylinder, Region, RegionLevel, ScanEvent, Station, StationFault, Vehicle
from tests.registry.conftest import scan_event_row
from tests.registry.pg_cluster import create_database, drop_database


def test_upgrade_head_matches_models_and_comparison_can_fail(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    assert migrate.current_revision(fresh_engine) == "0021"
    assert migrate.schema_differences(fresh_engine) == []
    with fresh_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_scan_events_plate_time"))
    differences = migrate.schema_differences(fresh_engine)
    assert differences and "ix_scan_events_plate_time" in repr(differences)


def test_downgrade_then_upgrade_keeps_data(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    with fresh_engine.begin() as c:
        c.execute(insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}])
        c.execute(
            text(
                "INSERT INTO stations (id, code, name, region_id, monitor_mode, active) VALUES (1, 'ST-1', '一站', 1, true, true)"
            )
        )
        c.execute(insert(Vehicle), [{"plate": "豫A00001", "use": "taxi"}])
        c.execute(
            insert(StationFault),
            [
                {
                    "report_uuid": uuid.uuid4(),
                    "station_id": 1,
                    "kind": "station_fault",
                    "code": "reader_lost",
                    "received_at": datetime.now(UTC),
                    "detail": "",
                }
            ],
        )
    migrate.downgrade(fresh_engine, "0002")
    assert "station_faults" not in inspect(fresh_engine).get_table_names()
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(StationFault)) == 0  # the table came back, empty
    migrate.downgrade(fresh_engine, "0001")
    assert "monitor_mode" not in {col["name"] for col in inspect(fresh_engine).get_columns("stations")}
    with fresh_engine.connect() as c:
        assert c.execute(text("SELECT code, name FROM stations")).all() == [("ST-1", "一站")]
    migrate.upgrade(fresh_engine)
    assert migrate.schema_differences(fresh_engine) == []
    with fresh_engine.connect() as c:
        assert c.execute(select(Station.code, Station.monitor_mode)).all() == [("ST-1", False)]
        assert c.scalar(select(Vehicle.plate)) == "豫A00001"
        assert c.scalar(select(Region.path)) == "4101"
    migrate.downgrade(fresh_engine, "base")
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(fresh_engine)
    assert migrate.schema_differences(fresh_engine) == []


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """PostgreSQL only: partitioning and the audit trigger do not exist on SQLite."""
    url = create_database("registry_migration")
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_database(url)


def test_scan_events_are_partitioned_by_day_on_postgresql(pg_engine: Engine) -> None:
    fresh_engine = pg_engine
    migrate.upgrade(fresh_engine)
    with fresh_engine.begin() as c:
        assert (
            c.scalar(
                text(
                    "SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                    "WHERE c.relname = 'scan_events'"
                )
            )
            == "r"
        )
        names = partitions.existing_partitions(c)
        assert partitions.DEFAULT in names and partitions.partition_name(date.today()) in names
        c.execute(insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}])
        c.execute(
            text("INSERT INTO stations (id, code, name, region_id, monitor_mode, active) VALUES (1, 'S', 'S', 1, false, true)")
        )
        old_day = date.today() - timedelta(days=40)
        old = datetime(old_day.year, old_day.month, old_day.day, 12, tzinfo=UTC)
        c.execute(insert(ScanEvent), [scan_event_row(1, old), scan_event_row(1, old + timedelta(hours=1))])
        assert c.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 2
    with fresh_engine.begin() as c:
        created = partitions.ensure_daily_partitions(c, old_day, days_ahead=0)
        assert created == [partitions.partition_name(old_day)]
        assert c.scalar(text(f"SELECT count(*) FROM {partitions.DEFAULT}")) == 0
        assert c.scalar(text(f"SELECT count(*) FROM {partitions.partition_name(old_day)}")) == 2
        assert partitions.ensure_daily_partitions(c, old_day, days_ahead=0) == []
        assert partitions.drop_partitions_before(c, old_day + timedelta(days=1)) == [partitions.partition_name(old_day)]
        assert c.scalar(text("SELECT count(*) FROM scan_events")) == 0
    assert migrate.schema_differences(fresh_engine) == []


def test_audit_log_is_append_only_on_postgresql(pg_engine: Engine) -> None:
    fresh_engine = pg_engine
    migrate.upgrade(fresh_engine)
    with fresh_engine.begin() as c:
        c.execute(
            text("INSERT INTO audit_log (at, actor, action, entity, entity_ref, detail) VALUES (now(), 'x', 'a', 'e', 'r', '{}')")
        )
    for statement in ("UPDATE audit_log SET actor = 'y'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with fresh_engine.begin() as c:
                c.execute(text(statement))


def test_0004_adds_the_clock_columns_to_stored_events_and_removes_them_again(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine, "0003")
    at = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    with fresh_engine.begin() as c:
        c.execute(insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}])
        c.execute(
            text("INSERT INTO stations (id, code, name, region_id, monitor_mode, active) VALUES (1, 'S', 'S', 1, false, true)")
        )
        c.execute(
            text(
                "INSERT INTO scan_events (event_uuid, occurred_at, received_at, station_id, decision, outcome, reasons, "
                "reason_mask, decided_offline) VALUES (:id, :at, :at, 1, 'allow', 'allowed', '', 0, false)"
            ),
            {
                "id": uuid.uuid4() if fresh_engine.dialect.name == "postgresql" else uuid.uuid4().hex,
                "at": at if fresh_engine.dialect.name == "postgresql" else at.replace(tzinfo=None),
            },
        )
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as c:
        stored = c.execute(select(ScanEvent)).one()
    assert stored.occurred_at == at and stored.station_time is None and stored.clock_offset_ms is None
    assert stored.clock_skewed is False  # an old row: its occurred_at was the station's clock, unflagged
    migrate.downgrade(fresh_engine, "0003")
    columns = {col["name"] for col in inspect(fresh_engine).get_columns("scan_events")}
    assert not columns & {"station_time", "clock_offset_ms", "clock_skewed"}
    with fresh_engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM scan_events")) == 1
    migrate.upgrade(fresh_engine)
    assert migrate.schema_differences(fresh_engine) == []


def test_0007_rewrites_stored_identifiers_and_leaves_conflicts_for_the_bureau(
    fresh_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate.upgrade(fresh_engine, "0006")
    at = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    cylinder = {"serial": "S", "manufactured_on": date(2019, 6, 1), "end_of_life": date(2034, 5, 31)}
    with fresh_engine.begin() as c:
        c.execute(insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}])
        c.execute(
            text("INSERT INTO stations (id, code, name, region_id, monitor_mode, active) VALUES (1, 'S', 'S', 1, false, true)")
        )
        c.execute(
            insert(Vehicle),
            [
                {"id": 1, "plate": "豫ａ１２３４５", "vin": "lsvau2180n2183744", "use": "taxi"},  # full-width, lower case
                {"id": 2, "plate": "豫A·22222", "vin": None, "use": "taxi"},
                {"id": 3, "plate": "粤B12345", "vin": None, "use": "taxi"},  # already canonical ...
                {"id": 4, "plate": "粤b 12345", "vin": None, "use": "taxi"},  # ... so this one would collide with it
                {"id": 5, "plate": "TEST-PLATE", "vin": None, "use": "taxi"},  # not a plate: left, reported
            ],
        )
        c.execute(
            insert(Cylinder),
            [
                {"id": 1, "cylinder_id": "156-04101-7", "tag_uid": "04:a1:b2:c3", "vehicle_id": 1, **cylinder},
                {"id": 2, "cylinder_id": "１５６－４１０１－８", "tag_uid": "04A1B2C4", "vehicle_id": 2, **cylinder},
            ],
        )
        c.execute(
            insert(ScanEvent),
            [
                {**scan_event_row(1, at), "plate": "豫ａ１２３４５", "cylinder_id": "156-04101-7", "tag_uid": "04a1b2c3"},
                {**scan_event_row(1, at), "plate": "豫A12345", "cylinder_id": None, "tag_uid": None},
            ],
        )
    capsys.readouterr()
    migrate.upgrade(fresh_engine)
    err = capsys.readouterr().err
    with fresh_engine.connect() as c:
        assert dict(c.execute(select(Vehicle.id, Vehicle.plate)).all()) == {
            1: "豫A12345",
            2: "豫A22222",
            3: "粤B12345",
            4: "粤b 12345",
            5: "TEST-PLATE",
        }
        assert c.scalar(select(Vehicle.vin).where(Vehicle.id == 1)) == "LSVAU2180N2183744"
        assert dict(c.execute(select(Cylinder.id, Cylinder.cylinder_id)).all()) == {1: "156-4101-7", 2: "156-4101-8"}
        assert c.scalar(select(Cylinder.tag_uid).where(Cylinder.id == 1)) == "04A1B2C3"
        assert set(c.execute(select(ScanEvent.plate, ScanEvent.cylinder_id, ScanEvent.tag_uid)).all()) == {
            ("豫A12345", "156-4101-7", "04A1B2C3"),
            ("豫A12345", None, None),
        }
    assert "CONFLICT vehicles.plate" in err and "'粤b 12345'" in err and "id 3" in err
    assert "vehicles.plate: 1 value(s) are not valid identifiers" in err and "TEST-PLATE" in err
    assert migrate.schema_differences(fresh_engine) == []
