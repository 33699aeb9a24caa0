"""Case rows written straight to the database, for the tests of what is counted over cases (the
weekly figures, their dashboard page): the state follows the times given, as the workflow leaves it."""

from __future__ import annotations

from datetime import datetime

from registry_service.models import Case, CaseState


def case_row(
    number: str,
    subject_key: str,
    region_id: int,
    opened: datetime,
    accepted: datetime | None = None,
    closed: datetime | None = None,
    overdue: bool = False,
) -> Case:
    """A refused_cylinder case found and handled in `region_id`: closed, accepted or reported."""
    state = CaseState.CLOSED if closed else CaseState.ACCEPTED if accepted else CaseState.REPORTED
    return Case(
        number=number,
        kind="refused_cylinder",
        subject_key=subject_key,
        state=state.value,
        region_id=region_id,
        handling_region_id=region_id,
        opened_at=opened,
        state_since=closed or accepted or opened,
        overdue=overdue,
        accepted_at=accepted,
        closed_at=closed,
        last_seen_at=opened,
    )
