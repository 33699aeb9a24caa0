"""Migration 0019 on SQLite and PostgreSQL: station_id in the keys of scan_events (every daily
partition's too), station_faults, heartbeat_history and station_alarms, 64-bit ids on PostgreSQL,
the rows kept both ways, and a downgrade that refuses, changing nothing, what the old keys cannot
hold. (Autogenerate's comparison does not look at primary keys: they are checked here.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from registry_service import migrate, partitions
from registry_service.errors import Conflict
from registry_service.models import HeartbeatHistory, Region, RegionLevel, ScanEvent, StationAlarm, StationFault
from tests.registry.conftest import scan_event_row

BEYOND_32_BITS = 3_000_000_000
TABLES = ("scan_events", "station_faults", "heartbeat_history", "station_alarms")


def _fault(station_id: int, ident: uuid.UUID, at: datetime) -> dict[str, Any]:
    return {"report_uuid": ident, "station_id": station_id, "kind": "station_fault", "code": "reader_lost", "received_at": at}


def _heartbeat(station_id: int, at: datetime) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "pump": 1,
        "received_at": at,
        "sent_at": at,
        "agent_version": "1",
        "policy_mode": "enforce",
        "policy_sha256": "0" * 64,
        "status_list_sequences": {},
        "reader": "ok",
        "interlock": "ok",
        "pump_enabled": True,
        "outbox_backlog": 0,
        "faults": [],
    }


def _keys(engine: Engine) -> dict[str, tuple[tuple[str, ...], set[tuple[str, ...]]]]:
    """Each table's primary key and unique keys."""
    found = inspect(engine)
    return {
        table: (
            tuple(found.get_pk_constraint(table)["constrained_columns"]),
            {tuple(unique["column_names"]) for unique in found.get_unique_constraints(table)},
        )
        for table in TABLES
    }


def _id_types(engine: Engine) -> dict[str, str]:
    found = inspect(engine)
    return {table: str(next(c["type"] for c in found.get_columns(table) if c["name"] == "id")) for table in TABLES[1:3]}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0) for table in TABLES}


def _partition_keys(connection: Connection) -> dict[str, tuple[str, bool]]:
    """PostgreSQL: each partition's primary key, and whether it is attached to the parent's."""
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_constraintdef(k.oid), k.conparentid = p.oid "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' "
            "JOIN pg_constraint p ON p.conrelid = i.inhparent AND p.contype = 'p' "
            "WHERE i.inhparent = 'scan_events'::regclass"
        )
    )
    return {name: (definition, attached) for name, definition, attached in rows}


OLD = {
    "scan_events": (("event_uuid", "occurred_at"), set()),
    "station_faults": (("id",), {("report_uuid",)}),
    "heartbeat_history": (("id",), set()),
    "station_alarms": (("id",), {("report_uuid",)}),
}


def _new(postgresql: bool) -> dict[str, tuple[tuple[str, ...], set[tuple[str, ...]]]]:
    ids = ("station_id", "id") if postgresql else ("id",)  # SQLite keeps its rowid key
    return {
        "scan_events": (("station_id", "event_uuid", "occurred_at"), set()),
        "station_faults": (ids, {("station_id", "report_uuid")}),
        "heartbeat_history": (ids, set()),
        "station_alarms": (("id",), {("station_id", "report_uuid")}),
    }


def test_0019_puts_the_station_in_the_keys_keeps_the_rows_and_refuses_a_lossy_downgrade(fresh_engine: Engine) -> None:
    postgresql = fresh_engine.dialect.name == "postgresql"
    migrate.upgrade(fresh_engine, "0018")
    assert _keys(fresh_engine) == OLD
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(days=40)  # PostgreSQL: in the DEFAULT partition (no daily one that far back)
    shared, report = uuid.uuid4(), uuid.uuid4()
    with fresh_engine.begin() as c:
        c.execute(insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}])
        c.execute(
            text(
                "INSERT INTO stations (id, code, name, region_id, monitor_mode, active) "
                "VALUES (1, 'S1', 'S1', 1, false, true), (2, 'S2', 'S2', 1, false, true)"
            )
        )
        c.execute(insert(ScanEvent), [scan_event_row(1, now, shared), scan_event_row(1, old), scan_event_row(2, now)])
        c.execute(insert(StationFault), [_fault(1, report, now), _fault(2, uuid.uuid4(), now)])
        c.execute(insert(HeartbeatHistory), [_heartbeat(1, now)])
        c.execute(
            insert(StationAlarm),
            [{"station_id": 1, "kind": "unexplained_quantity", "source": "agent", "opened_at": now, "report_uuid": report}],
        )
        prebuilt = None
        if postgresql:  # a partition whose new key was built beforehand (CONCURRENTLY, on a live registry)
            partition = sorted(partitions.existing_partitions(c) - {partitions.DEFAULT})[0]
            c.execute(text(f"CREATE UNIQUE INDEX {partition}_station_key ON {partition} (station_id, event_uuid, occurred_at)"))
            prebuilt = (partition, c.scalar(text(f"SELECT '{partition}_station_key'::regclass::oid")))
    kept = _counts(fresh_engine)
    assert kept == {"scan_events": 3, "station_faults": 2, "heartbeat_history": 1, "station_alarms": 1}

    migrate.upgrade(fresh_engine)
    assert migrate.current_revision(fresh_engine) == "0021" and migrate.schema_differences(fresh_engine) == []
    assert _keys(fresh_engine) == _new(postgresql) and _counts(fresh_engine) == kept
    if postgresql:
        assert _id_types(fresh_engine) == {"station_faults": "BIGINT", "heartbeat_history": "BIGINT"}
        with fresh_engine.begin() as c:
            keys = _partition_keys(c)
            assert set(keys) == partitions.existing_partitions(c) and partitions.DEFAULT in keys
            assert set(keys.values()) == {("PRIMARY KEY (station_id, event_uuid, occurred_at)", True)}
            assert prebuilt is not None
            partition, index = prebuilt  # adopted as the partition's key, not built again
            assert c.scalar(text(f"SELECT conindid FROM pg_constraint WHERE conname = '{partition}_pkey'")) == index
            # A sequence past 32 bits numbers rows: the ids and the sequences are 64-bit.
            c.execute(text(f"SELECT setval(pg_get_serial_sequence('heartbeat_history', 'id'), {BEYOND_32_BITS})"))
    with fresh_engine.begin() as c:
        ident = c.execute(insert(HeartbeatHistory).returning(HeartbeatHistory.id), [_heartbeat(2, now)]).scalar_one()
        assert ident == BEYOND_32_BITS + 1 if postgresql else ident == 2  # SQLite: still numbered by the rowid
        c.execute(insert(StationFault), [_fault(1, uuid.uuid4(), now)])  # numbered too
        # Another station's event and report with the same UUID (and time): theirs, stored.
        c.execute(insert(ScanEvent), [scan_event_row(2, now, shared)])
        c.execute(insert(StationFault), [_fault(2, report, now)])
    for table, row in ((ScanEvent, scan_event_row(1, now, shared)), (StationFault, _fault(2, report, now))):
        with pytest.raises(IntegrityError):  # the same station's again: a duplicate
            with fresh_engine.begin() as c:
                c.execute(insert(table), [row])

    migrate.downgrade(fresh_engine, "0019")  # 0020 (the clone watch's queue) keeps nothing this test holds
    with pytest.raises(Conflict, match="scan_events: 1 event UUID"):
        migrate.downgrade(fresh_engine, "0018")
    assert migrate.current_revision(fresh_engine) == "0019" and _keys(fresh_engine) == _new(postgresql)
    with fresh_engine.begin() as c:
        c.execute(delete(ScanEvent).where(ScanEvent.station_id == 2, ScanEvent.event_uuid == shared))
    with pytest.raises(Conflict, match="station_faults: 1 report UUID"):
        migrate.downgrade(fresh_engine, "0018")
    with fresh_engine.begin() as c:
        c.execute(delete(StationFault).where(StationFault.station_id == 2, StationFault.report_uuid == report))
    if postgresql:
        with pytest.raises(Conflict, match=f"heartbeat_history: id {BEYOND_32_BITS + 1} does not fit"):
            migrate.downgrade(fresh_engine, "0018")
        with fresh_engine.begin() as c:
            c.execute(delete(HeartbeatHistory).where(HeartbeatHistory.id == ident))
    expected = {**kept, "station_faults": 3, "heartbeat_history": 1 if postgresql else 2}
    assert _counts(fresh_engine) == expected

    migrate.downgrade(fresh_engine, "0018")
    assert migrate.current_revision(fresh_engine) == "0018" and _keys(fresh_engine) == OLD
    assert _counts(fresh_engine) == expected
    if postgresql:
        assert _id_types(fresh_engine) == {"station_faults": "INTEGER", "heartbeat_history": "INTEGER"}
        with fresh_engine.begin() as c:
            assert set(_partition_keys(c).values()) == {("PRIMARY KEY (event_uuid, occurred_at)", True)}
            c.execute(insert(HeartbeatHistory), [_heartbeat(1, now)])  # the sequence set back within 32 bits
    migrate.upgrade(fresh_engine)
    assert migrate.schema_differences(fresh_engine) == [] and _keys(fresh_engine) == _new(postgresql)
    with fresh_engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(ScanEvent).where(ScanEvent.event_uuid == shared)) == 1
