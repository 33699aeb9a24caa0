"""People of the grid: who is responsible for each region (定人、定岗、定责).

A grid person is a name and a phone on a region, and usually a `grid` user who signs in. A grid
user's scope is every region it is a grid person of, with its subtree (docs/grid.md).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry_service.models.accounts import User
from registry_service.models.base import Base
from registry_service.models.places import Region

# The duty of a grid person: officers work cells, a lead answers for a level above.
DUTY_OFFICER: Final = "officer"
DUTY_LEAD: Final = "lead"
DUTIES: Final = (DUTY_OFFICER, DUTY_LEAD)


class GridPerson(Base):
    __tablename__ = "grid_people"
    __table_args__ = (UniqueConstraint("region_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    duty: Mapped[str] = mapped_column(String(16))  # DUTIES

    region: Mapped[Region] = relationship()
    user: Mapped[User | None] = relationship()
