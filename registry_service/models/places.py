"""Where things are: the bureau's grid hierarchy, stations and their pumps.

`Region.path` is a materialised path ("4101/410105/410105-03"): "everything in this district"
is one prefix match, whatever the depth, and an index on path serves it.
"""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry_service.models.base import Base, str_enum


class RegionLevel(enum.StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"  # 街道: between district and cell (issue 16); levels need not be contiguous
    CELL = "cell"


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id])


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # monitor: the station logs would-refuse verdicts but does not block (roll-out phase).
    monitor_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "06:00-22:00" or "06:00-12:00,14:00-22:00" in the registry's default_timezone; None: open around
    # the clock. A silent station is an alarm only while it is open (services/station_health.py).
    opening_hours: Mapped[str | None] = mapped_column(String(100))

    region: Mapped[Region] = relationship()
    pumps: Mapped[list[Pump]] = relationship(back_populates="station", order_by="Pump.number")


class Pump(Base):
    __tablename__ = "pumps"
    __table_args__ = (UniqueConstraint("station_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(100), default="")

    station: Mapped[Station] = relationship(back_populates="pumps")
