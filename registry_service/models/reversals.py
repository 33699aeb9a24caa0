"""Condemnation reversals: the bureau's audited decision that a condemned cylinder may be
re-inspected and re-issued.

A reversal never touches the old record: its status-list entry stays revoked and the cylinder stays
condemned. It only lets the next record a centre submits for the cylinder (new sequence, new status
index) make the cylinder active again (services/inspections.py); `reissued_sequence` names that
record once it arrives.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class CondemnationReversal(Base):
    __tablename__ = "condemnation_reversals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cylinder_pk: Mapped[int] = mapped_column(ForeignKey("cylinders.id"), index=True)
    cylinder_id: Mapped[str] = mapped_column(String(80))
    revocation_id: Mapped[int] = mapped_column(ForeignKey("revocations.id"))  # the condemnation reversed
    reason: Mapped[str] = mapped_column(String(400))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reissued_sequence: Mapped[int | None] = mapped_column(Integer)
    reissued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
