"""One row of `cylinder-registry import grid-people FILE` (the framework is csv_import.py).

Columns: region (its code), username (the grid user; created without a password when missing),
name, phone, duty (officer | lead; default officer for a cell, lead above). A re-imported person
(same region and user) is updated. docs/grid.md describes the file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from registry_service.models.grid import DUTIES
from registry_service.services import grid_people
from tag_tools import clerk_cells
from tag_tools.clerk_cells import RowCells

COLUMNS: Final = ("region", "username", "name", "phone", "duty")
REQUIRED: Final = ("region", "name")


def grid_person_row(session: Session, cells: RowCells, now: datetime, actor: str) -> None:
    region = cells.get("region", clerk_cells.text, required=True)
    username = cells.get("username", clerk_cells.text)
    name = cells.get("name", clerk_cells.text, required=True)
    phone = cells.get("phone", clerk_cells.text)
    duty = cells.get("duty", clerk_cells.one_of(*DUTIES))
    cells.done()
    assert region is not None and name is not None  # required: done() refused the row otherwise
    grid_people.add_person(
        session,
        actor,
        now,
        region_code=region,
        name=name,
        username=username.strip() if username else None,
        phone=phone.strip() if phone else None,
        duty=duty.lower() if duty else None,
    )
