"""What the bureau's pages read instead of scanning scan_events: counts and clone suspects, kept
up to date in the transaction that stores each new event (services/rollups.py, services/clones.py).

scan_day_counts: scans per local day (the bureau's reporting time zone, report_utc_offset_hours),
station, outcome and reason bits. A city's year is tens of thousands of rows, not millions of
events; the reason bits stay in the key so that "refusals for an overdue inspection" is still a
roll-up question. The station's grid cell (region_id) is in the key too: a by-area sum needs no
join, and a Citus deployment can distribute the table on station_id or region_id (both are in
every unique key). There is no foreign key, as on scan_events: the per-row check would cost more
than the upsert.

scan_day_totals, scan_month_totals (revision 0016): the same scans per station and local day, and
per station and local month (`month` is its first day), as one row with a column per outcome and
no reason bits. A national year is 35 M day-count rows (10,000 stations, about ten outcome and
reason combinations a day) but 3.65 M day totals and 120,000 month totals: the overview's
unfiltered questions (per station, per day, per area) are answered from these, whole months from
the month totals and the days at either end from the day totals; a filter on reason bits still
reads scan_day_counts (services/queries.py). Kept with the day counts (services/rollups.py).

clone_suspects: one row per suspect a rule found when the event arrived. `slot` says what one
suspect is about, so that a recomputation replaces it instead of adding another: the event's UUID
for the rules over two consecutive scans (impossible travel, read counter, fills within an hour),
the local day for "too many fills per day" (its event is the day's latest fill, which moves as
fills arrive).

clone_arrivals (revision 0020): the uploads whose new scans the clone watch has not judged yet. The
watch runs as a job beside the requests, not in the upload's transaction, so that an upload never
reads other stations' scans (on Citus a cross-shard read per upload) nor waits on suspect and case
locks (services/clones.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime, str_enum
from registry_service.models.events import Outcome


class ScanDayCount(Base):
    __tablename__ = "scan_day_counts"
    __table_args__ = (Index("ix_scan_day_counts_station_day", "station_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome), primary_key=True)
    reason_mask: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)


class _OutcomeTotals:
    """Scans of one station in one period, in all and per outcome (Outcome's values as columns)."""

    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)
    allowed: Mapped[int] = mapped_column(BigInteger)
    refused: Mapped[int] = mapped_column(BigInteger)
    overridden: Mapped[int] = mapped_column(BigInteger)
    would_refuse: Mapped[int] = mapped_column(BigInteger)


class ScanDayTotal(_OutcomeTotals, Base):
    __tablename__ = "scan_day_totals"
    __table_args__ = (Index("ix_scan_day_totals_station_day", "station_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class ScanMonthTotal(_OutcomeTotals, Base):
    __tablename__ = "scan_month_totals"
    __table_args__ = (Index("ix_scan_month_totals_station_month", "station_id", "month"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day


class CloneSuspect(Base):
    __tablename__ = "clone_suspects"
    __table_args__ = (
        Index("ix_clone_suspects_at", "at"),
        Index("ix_clone_suspects_station_at", "station_id", "at"),
    )

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_type: Mapped[str] = mapped_column(String(16), primary_key=True)  # "tag_uid" or "cylinder_id"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    slot: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The scan that made it a suspect (scan_events' key: station_id, event_uuid, occurred_at) and the one before it.
    event_uuid: Mapped[uuid.UUID] = mapped_column(Uuid)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    station_id: Mapped[int] = mapped_column(Integer)
    previous_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_station_id: Mapped[int | None] = mapped_column(Integer)
    # The rule's facts by name (services/clones.py DETAILS); a day as ISO text.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)


class CloneArrival(Base):
    """An upload whose new scans the clone watch has still to judge (services/clones.py): written
    in the upload's transaction, taken and deleted by the watch's next round. Keyed by the
    station, like scan_events, so that Citus could distribute it beside them (docs/scaling.md)."""

    __tablename__ = "clone_arrivals"
    __table_args__ = (Index("ix_clone_arrivals_received_at", "received_at"),)

    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arrival_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The upload's receipt time: its new scans are the station's scans with this received_at.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The earliest new scan's occurred_at less the watch's horizon: how far back to read.
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    tags: Mapped[list[str]] = mapped_column(JSON)  # the new scans' tag UIDs
    cylinders: Mapped[list[str]] = mapped_column(JSON)  # and cylinder IDs
