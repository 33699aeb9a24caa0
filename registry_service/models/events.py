"""Scan events: one row per refuel attempt reported by a station. The big table.

Sized for 20 M rows a day. On PostgreSQL the table is range-partitioned by day on occurred_at
(migration 0001 and `cylinder-registry partitions`), so the primary key includes occurred_at; it
starts with station_id (migration 0019), the column Citus would distribute the table by, which every
unique key of a distributed table must contain (docs/scaling.md). An event is a station's: the
same UUID from another station is another event.
Only the columns the bureau filters on are indexed; the "problem fills" partial index keeps
refused/overridden attempts (a few per cent of rows) cheap to aggregate.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, PrimaryKeyConstraint, SmallInteger, String, Uuid, false, text
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime, str_enum


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"
    OVERRIDDEN = "overridden"  # refused by the check, filled anyway (attendant, supervisor and reason)
    WOULD_REFUSE = "would_refuse"  # monitor mode: the check would have refused, nothing blocked


PROBLEM_OUTCOMES = (Outcome.REFUSED, Outcome.OVERRIDDEN)
FILL_OUTCOMES = (Outcome.ALLOWED, Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE)
_PROBLEM_SQL = text("outcome IN ('refused', 'overridden')")
_SKEWED_SQL = text("clock_skewed")


class ScanEvent(Base):
    __tablename__ = "scan_events"
    __table_args__ = (
        PrimaryKeyConstraint("station_id", "event_uuid", "occurred_at"),
        Index("ix_scan_events_station_time", "station_id", "occurred_at"),
        Index("ix_scan_events_cylinder_time", "cylinder_pk", "occurred_at"),
        # By the cylinder ID as scanned, registered or not: the clone rules find a cylinder's
        # previous scan by it as each event arrives (migration 0008).
        Index("ix_scan_events_cylinder_id_time", "cylinder_id", "occurred_at"),
        Index("ix_scan_events_tag_time", "tag_uid", "occurred_at"),
        Index("ix_scan_events_plate_time", "plate", "occurred_at"),
        Index("ix_scan_events_time", "occurred_at"),
        Index(
            "ix_scan_events_problems",
            "station_id",
            "occurred_at",
            "reason_mask",
            "outcome",
            postgresql_where=_PROBLEM_SQL,
            sqlite_where=_PROBLEM_SQL,
        ),
        # Events from stations with a wrong clock: few, and what the bureau asks about by themselves.
        Index("ix_scan_events_skewed", "station_id", "occurred_at", postgresql_where=_SKEWED_SQL, sqlite_where=_SKEWED_SQL),
    )

    event_uuid: Mapped[uuid.UUID] = mapped_column(Uuid)
    # When it happened by the registry's reckoning: the station's clock corrected by the offset it
    # measured, or the receipt time when its clock is impossible (services/events.py).
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The station's clock reading as sent (NULL on rows stored before migration 0004, whose
    # occurred_at is that reading), its clock minus the registry's as it measured it (ms; NULL:
    # unknown), and whether its clock was off by more than the tolerance or impossible.
    station_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)
    clock_skewed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # No foreign keys on this table: a per-row referential check costs more than the insert itself
    # at 20 M rows a day; station_id comes from the authenticated station, cylinder_pk from a lookup.
    station_id: Mapped[int] = mapped_column(Integer)
    pump_number: Mapped[int | None] = mapped_column(SmallInteger)
    # Resolved at ingestion when the tag's cylinder id is registered.
    cylinder_pk: Mapped[int | None] = mapped_column(Integer)
    cylinder_id: Mapped[str | None] = mapped_column(String(80))
    tag_uid: Mapped[str | None] = mapped_column(String(20))
    read_counter: Mapped[int | None] = mapped_column(Integer)
    record_sequence: Mapped[int | None] = mapped_column(Integer)
    plate: Mapped[str | None] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome))
    reasons: Mapped[str] = mapped_column(String(400), default="")
    reason_mask: Mapped[int] = mapped_column(BigInteger, default=0)
    attendant: Mapped[str | None] = mapped_column(String(64))
    # Decided by the station without reaching the registry (its cached trust list and revocations).
    decided_offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Overrides only: who authorised the fill and the reason they typed.
    supervisor: Mapped[str | None] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(String(200))
    # The attendant's session on the station (groups the events of one shift at one pump).
    session_id: Mapped[str | None] = mapped_column(String(64))
