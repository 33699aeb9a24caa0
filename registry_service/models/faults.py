"""Station fault reports: what a station could not deliver or could not do, told to the registry.

One row per report (schemas/station-fault-report.md). The registry stores every report it is
sent, also one it cannot fully read (`malformed`, with the report's own JSON in `raw`), because a
station that is already failing must never lose the account of its failure to a validation error.
A few per station per day at most: one plain table, indexed for the bureau's "this station, newest
first" and "everything recent" questions.

Keys (migration 0019): a report is a station's, unique by (station_id, report_uuid), and the
primary key is (station_id, id) with a 64-bit id, so that Citus could distribute the table by
station_id (docs/scaling.md). On SQLite the table keeps `id INTEGER PRIMARY KEY` (the rowid,
64-bit, the only key SQLite numbers itself); the migrations build the schema, never these models.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class StationFault(Base):
    __tablename__ = "station_faults"
    __table_args__ = (
        PrimaryKeyConstraint("station_id", "id"),
        # The station's report_id, or one derived from the report's bytes: a re-sent report is a duplicate.
        UniqueConstraint("station_id", "report_uuid"),
        Index("ix_station_faults_station_received", "station_id", "received_at"),
        Index("ix_station_faults_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), autoincrement=True)
    report_uuid: Mapped[uuid.UUID] = mapped_column(Uuid)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    pump: Mapped[int | None] = mapped_column(Integer)
    schema_version: Mapped[int | None] = mapped_column(Integer)
    # None where the report's value was missing or unreadable (then `malformed` is set).
    kind: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the station's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the registry's clock
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str] = mapped_column(String(1000), default="")
    subject_id: Mapped[str | None] = mapped_column(String(64))
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw: Mapped[str | None] = mapped_column(Text)
    malformed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Metered reports (kind station_event): gas dispensed and the totaliser's reading, in `unit`.
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(8))
    totaliser: Mapped[float | None] = mapped_column(Float)
