"""Checks a grid officer made with the handheld verifier (docs/handheld.md): one row per check,
recorded as a patrol observation.

The phone makes the check's UUID when the officer records it, possibly offline, and uploads it
later: the UUID is unique, so an upload retried after a lost answer stores nothing twice. The
verdict is the phone's (decision and reason codes, as tag_tools.verify gives them); the registry
keeps it as the officer's observation and does not recompute it. `region_id` is where the check
counts for the grid (the cylinder's home cell, else the officer's cell) and `case_id` the case the
officer opened from it, if any.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class HandheldCheck(Base):
    __tablename__ = "handheld_checks"
    __table_args__ = (Index("ix_handheld_checks_officer_checked", "officer_user_id", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)  # made by the phone
    officer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    officer: Mapped[str] = mapped_column(String(80))  # the username, kept as it was
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the registry's clock
    source: Mapped[str] = mapped_column(String(8))  # "tag" (read and verified) or "lookup" (typed ID)
    cylinder_id: Mapped[str | None] = mapped_column(String(64), index=True)  # None: no readable record
    tag_uid: Mapped[str | None] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(24))  # allow | allow_with_warning | refuse
    reasons: Mapped[list[str]] = mapped_column(JSON)  # reason codes, in the verifier's order
    status_checked: Mapped[bool] = mapped_column(Boolean)  # the status list said something about it
    place: Mapped[str] = mapped_column(String(200))  # what the officer typed: "出租车站 经三路"
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
