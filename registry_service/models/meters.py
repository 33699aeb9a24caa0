"""The registry's last reading of each pump's totaliser (the dispenser's running total of gas).

Every station report that carries a `totaliser` (schemas/station-fault-report.md) moves it; an
agent_started report whose reading is above it by more than the tolerance is gas dispensed while
the agent was stopped (services/meters.py). One row per pump, updated in place.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class PumpMeter(Base):
    __tablename__ = "pump_meters"
    __table_args__ = (UniqueConstraint("station_id", "pump"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    pump: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(8))  # kg | Nm3
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the station's clock (the report's occurred_at)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the registry's clock
