"""Central station policies (schemas/station-policy.md).

`station_policies`: what the bureau set, for one station or for one region (a city, district or
grid cell: every station below it that has no nearer policy), with who set it and when. A term left
NULL is not set centrally (the station's file decides it); `overridable` is the sorted reason codes
joined by commas ("" is a set: no refusal may be overridden).

`policy_documents`: the signed documents published for each station, byte for byte as the list
signer returned them. The sequence is global (one counter for every station) and only goes up; the
station serves the newest and refuses any lower one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class StationPolicyRow(Base):
    __tablename__ = "station_policies"
    __table_args__ = (CheckConstraint("(station_id IS NULL) <> (region_id IS NULL)", name="one_scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), unique=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), unique=True)
    mode: Mapped[str | None] = mapped_column(String(8))  # "enforce" | "monitor"
    warning_days: Mapped[int | None] = mapped_column(Integer)
    overridable: Mapped[str | None] = mapped_column(String(2000))
    min_refill_interval_s: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(400), default="")
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PolicyDocument(Base):
    __tablename__ = "policy_documents"
    __table_args__ = (Index("ix_policy_documents_station_sequence", "station_id", "sequence"),)

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    terms_sha256: Mapped[str] = mapped_column(String(64))  # tag_tools.station_policy.terms_sha256
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the registry's clock
