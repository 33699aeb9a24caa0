"""Vehicle owners' contacts and the notification outbox (docs/grid.md, "Telling vehicle owners").

An owner contact is personal data: it carries the consent it was given under, where it came from
and the day it must be deleted by (`retain_until`; services/notices.purge_contacts). A notice is one
message an owner is to get; its `dedupe_key` is unique, so planning the same notice twice (a second
run of the daily pass, a second registry node, a repeat refusal) inserts nothing. A notice row
holds no address: the sender looks the contact up when it sends, and that read is audited.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class NoticeKind(enum.StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    REFUSED = "refused"


class NoticeState(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at)
    SENT = "sent"
    FAILED = "failed"  # gave up: attempts used up, a permanent refusal, or the contact was purged
    NO_CONSENT = "no_consent"  # the owner has no consented contact: nothing is sent


class OwnerContact(Base):
    __tablename__ = "owner_contacts"
    __table_args__ = (UniqueConstraint("vehicle_id", "channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # Channel
    address: Mapped[str] = mapped_column(String(254))  # an e-mail address, or a phone number in E.164 form
    consent: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))  # where the consent was given: "dmv-2026", "taxi-company", ...
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last day the contact may be kept; the purge deletes it after that (indexed: it runs daily).
    retain_until: Mapped[date] = mapped_column(Date, index=True)


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        # What the delivery loop asks for: pending notices whose next attempt has come.
        Index("ix_notices_state_next_attempt", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "<kind>:<vehicle id>:<cylinder pk>:<due date or case number>": one notice per fact, ever.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # NoticeKind
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    cylinder_pk: Mapped[int | None] = mapped_column(ForeignKey("cylinders.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # The contact it goes to; NULL for no_consent, and after that contact was purged.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("owner_contacts.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(8))  # Channel; NULL for no_consent
    state: Mapped[str] = mapped_column(String(16))  # NoticeState
    due_on: Mapped[date | None] = mapped_column(Date)  # the cylinder's next_due the notice speaks of
    reason: Mapped[str | None] = mapped_column(String(64))  # the refusal reason code, for "refused"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A node that claimed the notice for sending holds it until lease_until; another node skips it.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(300), default="", server_default="")
