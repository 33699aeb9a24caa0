"""One row of `cylinder-registry import owner-contacts FILE` (the framework is csv_import.py).

Columns: plate, channel (email | sms), address, consent (yes/no, 是/否, true/false, 1/0), source
(where the consent was given), consented_at (a date or a time with its zone), retain_until (the last
day the contact may be kept: the purge deletes it after that). A re-imported contact is updated, so
a file that says consent "no" withdraws it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Final

from sqlalchemy.orm import Session

from registry_service.services import notices
from tag_tools import clerk_cells
from tag_tools.clerk_cells import CellProblem, RowCells

COLUMNS: Final = ("plate", "channel", "address", "consent", "source", "consented_at", "retain_until")
REQUIRED: Final = ("plate", "channel", "address", "consent", "source", "retain_until")
_YES: Final = ("yes", "是", "true", "1", "y")
_NO: Final = ("no", "否", "false", "0", "n")


def consented_at(value: str) -> datetime:
    """A day (taken as 00:00 UTC) or a time with its zone."""
    try:
        return datetime.combine(clerk_cells.day(value), time(), UTC)
    except CellProblem:
        return datetime.fromisoformat(clerk_cells.moment(value).replace("Z", "+00:00").replace("z", "+00:00"))


def owner_contact_row(session: Session, cells: RowCells, now: datetime, actor: str) -> None:
    plate = cells.get("plate", clerk_cells.plate, required=True)
    channel = cells.get("channel", clerk_cells.one_of("email", "sms"), required=True)
    address = cells.get("address", clerk_cells.text, required=True)
    consent = cells.get("consent", clerk_cells.one_of(*_YES, *_NO), required=True)
    source = cells.get("source", clerk_cells.text, required=True)
    given_at = cells.get("consented_at", consented_at)
    retain_until = cells.get("retain_until", clerk_cells.day, required=True)
    cells.done()
    assert plate and channel and address and consent and source and retain_until  # required: done() refused the row otherwise
    notices.upsert_contact(
        session,
        notices.ContactIn(
            plate=plate,
            channel=channel,
            address=address,
            consent=consent in _YES,
            source=source,
            consented_at=given_at,
            retain_until=retain_until,
        ),
        now,
    )
