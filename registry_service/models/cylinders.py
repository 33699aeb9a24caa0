"""Cylinders, the vehicles they are fitted to, the centres that inspect them, their inspections
(with the signed record exactly as written to the tag) and revocations.

Revocation ids only grow, so a station's delta sync is "everything after the id I last saw".
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry_service.models.base import Base, UTCDateTime, str_enum


class CylinderState(enum.StrEnum):
    ACTIVE = "active"
    CONDEMNED = "condemned"
    SCRAPPED = "scrapped"
    STOLEN = "reported_stolen"


class RevocationKind(enum.StrEnum):
    CONDEMNED = "condemned"
    SCRAPPED = "scrapped"
    STOLEN = "reported_stolen"
    SUPERSEDED = "superseded"


class InspectionCentre(Base):
    __tablename__ = "inspection_centres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The centre id carried in its certificate and in every record it signs.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    certificates: Mapped[list[CentreCertificate]] = relationship(back_populates="centre")


class CentreCertificate(Base):
    __tablename__ = "centre_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("inspection_centres.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    kid: Mapped[str] = mapped_column(String(16), index=True)  # first 8 bytes of it, hex
    subject: Mapped[str] = mapped_column(String(400))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    pem: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    centre: Mapped[InspectionCentre] = relationship(back_populates="certificates")


class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plate: Mapped[str] = mapped_column(String(32), unique=True)
    vin: Mapped[str | None] = mapped_column(String(32), unique=True)
    use: Mapped[str] = mapped_column(String(16), default="private")  # taxi, private, bus, ...
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    cylinders: Mapped[list[Cylinder]] = relationship(back_populates="vehicle", order_by="Cylinder.position")


class Cylinder(Base):
    __tablename__ = "cylinders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Canonical ISO 21007-2 style text id ("CN:ISSUER:NUMBER"); what tags and stations use.
    cylinder_id: Mapped[str] = mapped_column(String(80), unique=True)
    serial: Mapped[str] = mapped_column(String(64))
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    kind: Mapped[str] = mapped_column(String(16), default="CNG-1")
    working_pressure_bar: Mapped[float | None] = mapped_column(Float)
    capacity_l: Mapped[float | None] = mapped_column(Float)
    manufactured_on: Mapped[date] = mapped_column(Date)
    end_of_life: Mapped[date] = mapped_column(Date, index=True)
    next_due: Mapped[date | None] = mapped_column(Date, index=True)
    last_result: Mapped[str | None] = mapped_column(String(16))  # pass / fail
    state: Mapped[CylinderState] = mapped_column(str_enum(CylinderState), default=CylinderState.ACTIVE)
    tag_uid: Mapped[str | None] = mapped_column(String(20), index=True)  # hex, upper case
    # Highest record sequence issued for this cylinder; older ones are superseded.
    record_sequence: Mapped[int] = mapped_column(Integer, default=0)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=1)

    vehicle: Mapped[Vehicle | None] = relationship(back_populates="cylinders")


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("centre_id", "report_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cylinder_pk: Mapped[int] = mapped_column(ForeignKey("cylinders.id"), index=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("inspection_centres.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("centre_certificates.id"))
    report_number: Mapped[str] = mapped_column(String(64))
    inspected_on: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16))
    next_due: Mapped[date | None] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tag_uid: Mapped[str] = mapped_column(String(20))
    record: Mapped[bytes] = mapped_column(LargeBinary)  # the NDEF message as written to the tag
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Revocation(Base):
    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the delta-sync cursor
    cylinder_pk: Mapped[int] = mapped_column(ForeignKey("cylinders.id"), index=True)
    cylinder_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[RevocationKind] = mapped_column(str_enum(RevocationKind))
    # For `superseded`: records with a sequence below this are no longer valid.
    below_sequence: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TrustListPublication(Base):
    """A trust list the bureau signed offline; stored verbatim and served to stations."""

    __tablename__ = "trust_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    list_sequence: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
