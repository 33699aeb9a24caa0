"""Cases: every problem the registry detects becomes one, handled in its grid cell (docs/grid.md).

A case moves reported -> accepted -> dispatched -> handled -> verified -> closed; each move, each
repeat of the problem and each escalation is a `case_steps` row (the timeline). `subject_key` says
what the case is about ("cylinder:17", "silent:ST-1"); a partial unique index keeps one open case
per subject, so a repeat attaches to it instead of opening another.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry_service.models.base import Base, UTCDateTime


class CaseKind(enum.StrEnum):
    REFUSED_CYLINDER = "refused_cylinder"
    OVERRIDE = "override"
    CLONE_SUSPECT = "clone_suspect"
    SILENT_STATION = "silent_station"
    UNEXPLAINED_QUANTITY = "unexplained_quantity"
    PATROL_FAILURE = "patrol_failure"


class CaseState(enum.StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    HANDLED = "handled"
    VERIFIED = "verified"
    CLOSED = "closed"


class CaseAction(enum.StrEnum):
    """What a timeline row records: the workflow's moves and what else happened to the case."""

    REPORTED = "reported"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    HANDLED = "handled"
    VERIFIED = "verified"
    CLOSED = "closed"
    REPEAT = "repeat"
    ESCALATED = "escalated"
    NOTE = "note"
    NOTICE = "notice"


_OPEN_SQL = text("state <> 'closed'")
_DUE_SQL = text("due_at IS NOT NULL")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("uq_cases_open_subject", "subject_key", unique=True, postgresql_where=_OPEN_SQL, sqlite_where=_OPEN_SQL),
        Index("ix_cases_handling_state", "handling_region_id", "state"),
        Index("ix_cases_region_opened", "region_id", "opened_at"),
        # The deadline sweep's question (only open cases have a deadline): a few rows, not a year's.
        Index("ix_cases_due", "due_at", postgresql_where=_DUE_SQL, sqlite_where=_DUE_SQL),
        # Open cases newest first (lists of open or overdue cases): overdue ones are old, and walking
        # ix_cases_opened_at past a year of closed cases to reach them cost 180-330 ms (bench_cases.py).
        Index("ix_cases_open_opened", "opened_at", postgresql_where=_OPEN_SQL, sqlite_where=_OPEN_SQL),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # "410105-20261130-0007"
    kind: Mapped[str] = mapped_column(String(32))  # CaseKind
    subject_key: Mapped[str] = mapped_column(String(160))
    state: Mapped[str] = mapped_column(String(16))  # CaseState
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # where it was found
    handling_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # who must act now
    escalations: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    cylinder_pk: Mapped[int | None] = mapped_column(ForeignKey("cylinders.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # deadline of the current step
    # Missed a deadline: stays true once set, it counts against on-time closure (按期结案率).
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    steps: Mapped[list[CaseStep]] = relationship(back_populates="case", order_by="CaseStep.id")


class CaseStep(Base):
    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(16))  # CaseAction
    actor: Mapped[str] = mapped_column(String(80))  # a username, or "system" for the registry
    note: Mapped[str] = mapped_column(String(2000), default="")
    photo_path: Mapped[str | None] = mapped_column(String(300))  # relative to the registry's data dir
    photo_sha256: Mapped[str | None] = mapped_column(String(64))

    case: Mapped[Case] = relationship(back_populates="steps")
