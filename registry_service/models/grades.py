"""Station grades (A-D) and patrols against the fixed checklist (docs/grid.md, "Station grades and patrols").

`station_grades` keeps every computation (one row per station per `grade-stations` run): the grade,
the figures it was computed from and the measures that decided it, so a station can be told why,
and a change of grade can be traced. The current grade of a station is its newest row.

`patrols` holds each patrol a grid officer or the bureau recorded: who, when, and the result of
every checklist item by its code (the words are the dashboard catalogue's). Failed items open or
attach to a `patrol_failure` case (services/patrols.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class StationGrade(Base):
    __tablename__ = "station_grades"
    __table_args__ = (Index("ix_station_grades_station_computed", "station_id", "computed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    grade: Mapped[str] = mapped_column(String(1))  # "A".."D"
    # {"overrides_per_1000": 2.5, "fills": 1200, "overrides": 3, "refusals_handled": 0.9, ...}
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    deciding: Mapped[list[str]] = mapped_column(JSON)  # the measures at the station's grade
    patrol_interval_days: Mapped[int] = mapped_column(Integer)


class Patrol(Base):
    __tablename__ = "patrols"
    __table_args__ = (Index("ix_patrols_station_at", "station_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    officer: Mapped[str] = mapped_column(String(80))  # the username, kept as it was
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    results: Mapped[dict[str, str]] = mapped_column(JSON)  # {item code: "pass" | "fail" | "na"}
    notes: Mapped[dict[str, str]] = mapped_column(JSON)  # {item code: what the officer wrote}
    failed: Mapped[int] = mapped_column(Integer)  # items that failed
    passed: Mapped[bool] = mapped_column(Boolean)  # no item failed
