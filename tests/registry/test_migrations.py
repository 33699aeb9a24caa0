"""Migrations give exactly the models' schema, on SQLite and PostgreSQL, and keep data across
downgrade/upgrade. Partitioning of scan_events is checked on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, func, insert, inspect, select, text

from registry_service import migrate, partitions
from registry_service.models import Region, RegionLevel, ScanEvent, Station, StationFault, Vehicle
from tests.registry.conftest import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
        yield engine
        engine.dispose()
        return
    url = create_pg_database("registry_migration")
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_pg_database(url)


def test_upgrade_head_matches_models_and_comparison_can_fail(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    assert migrate.current_revision(fresh_engine) == "0005"
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
        c.execute(insert(StationFault), [{"report_uuid": uuid.uuid4(), "station_id": 1, "kind": "station_fault",
                                          "code": "reader_lost", "received_at": datetime.now(UTC), "detail": ""}])
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
    url = create_pg_database("registry_migration")
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_pg_database(url)


def _event(station_id: int, at: datetime) -> dict[str, object]:
    return {
        "event_uuid": uuid.uuid4(),
        "occurred_at": at,
        "received_at": at,
        "station_id": station_id,
        "decision": "allow",
        "outcome": "allowed",
        "reasons": "",
        "reason_mask": 0,
    }


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
        c.execute(insert(ScanEvent), [_event(1, old), _event(1, old + timedelta(hours=1))])
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
        c.execute(text("INSERT INTO stations (id, code, name, region_id, monitor_mode, active) VALUES (1, 'S', 'S', 1, false, true)"))
        c.execute(text("INSERT INTO scan_events (event_uuid, occurred_at, received_at, station_id, decision, outcome, reasons, "
                       "reason_mask, decided_offline) VALUES (:id, :at, :at, 1, 'allow', 'allowed', '', 0, false)"),
                  {"id": uuid.uuid4() if fresh_engine.dialect.name == "postgresql" else uuid.uuid4().hex,
                   "at": at if fresh_engine.dialect.name == "postgresql" else at.replace(tzinfo=None)})
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
