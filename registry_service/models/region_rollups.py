"""Per-region day totals (revision 0017): what the overview's daily chart reads at national size.

region_day_totals: the scans of every station under a region (its subtree, the region's own
stations included) per local day, one column per outcome, for every region at every level of the
grid. A year of the whole country is 365 rows per top-level region instead of 3.65 M station day
totals. Rolled by a scheduled job from scan_day_totals (services/region_rollups.py), never by
ingest: the region rows are shared by thousands of stations, and upserting them with every upload
would make them the hottest rows of the registry.

region_rollup_state: one row (id 1), the last local day the region totals hold (`rolled_until`).
Later days, and the days listed in late_scan_days, are read from scan_day_totals.

late_scan_days: a station's upload that added scans to a day before its own day of receipt marks
(station, day) in the same statement (services/rollups.py); the job rolls the day again and
removes the mark. One row per station and day, like scan_day_totals: no row shared by stations.

region_rollup_stations: the grid place each station was rolled with, one row per station and
region above it (`up` levels above; 0 is the station's own region). A station whose region
differs from its `up = 0` row has moved since: its days are rolled again (the job), and until
then the reader does not use the region totals at all (services/region_rollups.rolled).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class RegionDayTotal(Base):
    __tablename__ = "region_day_totals"
    # The key serves the reader (one region, or the top-level ones, over a range of days); the
    # day index the job's delete of the days it rolls again.
    __table_args__ = (Index("ix_region_day_totals_day", "day"),)

    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)
    allowed: Mapped[int] = mapped_column(BigInteger)
    refused: Mapped[int] = mapped_column(BigInteger)
    overridden: Mapped[int] = mapped_column(BigInteger)
    would_refuse: Mapped[int] = mapped_column(BigInteger)


class RegionRollupState(Base):
    __tablename__ = "region_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    rolled_until: Mapped[date | None] = mapped_column(Date)
    rolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LateScanDay(Base):
    __tablename__ = "late_scan_days"
    __table_args__ = (Index("ix_late_scan_days_day", "day"),)

    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Raised by every marking upload: the job removes a mark only if it is still the one it read.
    marks: Mapped[int] = mapped_column(BigInteger)


class RegionRollupStation(Base):
    __tablename__ = "region_rollup_stations"
    # The stations summed into one region (the reader's check for stations moved out of it).
    __table_args__ = (Index("ix_region_rollup_stations_region", "region_id"),)

    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    up: Mapped[int] = mapped_column(Integer)
