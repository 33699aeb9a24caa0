"""The registry's side of the signed status list (schemas/status-list.md).

`status_index_blocks`: which centre may use which indexes (blocks never overlap; a list's blocks
follow each other from index 0). `status_entries`: one row per index a record used, with its value;
an index nobody used is VALID (0) in the list and can never be used later (its block's centre
lost it). A value only ever goes up, enforced three times: the services update with
`WHERE value < new`, a database trigger refuses a lowering UPDATE (migration 0005), and the signer
refuses to sign a list that lowers an entry. `status_lists`: the last few signed lists, served as
they were signed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime


class StatusIndexBlock(Base):
    __tablename__ = "status_index_blocks"
    __table_args__ = (UniqueConstraint("list_id", "first"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("inspection_centres.id"), index=True)
    list_id: Mapped[int] = mapped_column(Integer)
    first: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusEntry(Base):
    __tablename__ = "status_entries"
    __table_args__ = (
        CheckConstraint("value >= 0 AND value <= 3", name="value_range"),
        # "Did anything change since the last list?" is one index range scan.
        Index("ix_status_entries_list_changed", "list_id", "changed_at"),
    )

    list_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cylinder_pk: Mapped[int] = mapped_column(ForeignKey("cylinders.id"), index=True)
    record_sequence: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(SmallInteger)  # tag_tools.status_list.StatusValue
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusListPublication(Base):
    """One signed Status List Token, byte for byte as the signer returned it."""

    __tablename__ = "status_lists"

    list_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    count: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the packed entries: an unchanged list is not signed again.
    content_sha256: Mapped[str] = mapped_column(String(64))
    ttl_s: Mapped[int] = mapped_column(Integer)
    # The list's iat, taken before its entries were read: changes after it go into the next list.
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
