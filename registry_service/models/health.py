"""Station health: each pump's latest heartbeat, a thinned history of them, and station alarms.

A heartbeat arrives every minute from every pump (schemas/station-heartbeat.md). Only the latest
is kept per (station, pump) in `pump_heartbeats`, updated in place; `heartbeat_history` gets a row
when something other than the send time, the backlog or the clock offset changed, or at least
hourly (services/station_health.py), so a year of a 10,000-station fleet is tens of millions of
rows, not five billion.

`station_alarms` holds what the bureau must act on: a station gone silent during its opening hours
(the registry's own finding) and gas dispensed that no allowed session explains (from a station's
report, or the registry's comparison of meter readings across an agent restart).

Keys (migration 0019): `heartbeat_history` has the primary key (station_id, id) with a 64-bit id,
and an alarm raised by a report is unique by (station_id, report_uuid) like the report itself, so
that Citus could distribute them by station_id (docs/scaling.md). On SQLite heartbeat_history keeps
`id INTEGER PRIMARY KEY` (the rowid, 64-bit, the only key SQLite numbers itself); the migrations
build the schema, never these models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class _HeartbeatFields:
    """What one heartbeat says (schemas/station-heartbeat.md), shared by the latest and the history."""

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    pump: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the registry's clock
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the station's clock
    agent_version: Mapped[str] = mapped_column(String(64))
    policy_mode: Mapped[str] = mapped_column(String(16))
    policy_sequence: Mapped[int | None] = mapped_column(BigInteger)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    trust_list_sequence: Mapped[int | None] = mapped_column(BigInteger)
    status_list_sequences: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"<list id>": sequence}
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)
    reader: Mapped[str] = mapped_column(String(8))  # ok | lost
    interlock: Mapped[str] = mapped_column(String(8))  # ok | fault
    pump_enabled: Mapped[bool] = mapped_column(Boolean)
    outbox_backlog: Mapped[int] = mapped_column(BigInteger)
    last_fill_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the station's clock
    totaliser: Mapped[float | None] = mapped_column(Float)
    totaliser_unit: Mapped[str | None] = mapped_column(String(8))  # kg | Nm3
    faults: Mapped[list[str]] = mapped_column(JSON)  # active fault codes


class PumpHeartbeat(_HeartbeatFields, Base):
    """The latest heartbeat of each pump, updated in place."""

    __tablename__ = "pump_heartbeats"
    # No index on received_at: it changes with every heartbeat, and an indexed column keeps every
    # update from being HOT (migration 0021, which also gives the table fillfactor 50).
    __table_args__ = (UniqueConstraint("station_id", "pump"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    history_at: Mapped[datetime] = mapped_column(UTCDateTime)  # received_at of the newest history row


class HeartbeatHistory(_HeartbeatFields, Base):
    """Heartbeats that said something new, and one an hour at least."""

    __tablename__ = "heartbeat_history"
    __table_args__ = (
        PrimaryKeyConstraint("station_id", "id"),
        Index("ix_heartbeat_history_station_received", "station_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), autoincrement=True)


class StationAlarm(Base):
    __tablename__ = "station_alarms"
    __table_args__ = (
        UniqueConstraint("station_id", "report_uuid"),  # agent source: idempotent, per station as the report
        Index("ix_station_alarms_station_opened", "station_id", "opened_at"),
        Index("ix_station_alarms_kind_cleared", "kind", "cleared_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    pump: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # silent | unexplained_quantity
    source: Mapped[str] = mapped_column(String(16))  # registry | agent
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the registry's clock
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    silent_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # silent: the last heartbeat before
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    report_uuid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
