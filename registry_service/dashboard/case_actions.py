"""What a case page offers the signed-in person: the workflow actions services/cases.transition
would accept from it now, and the grid officers a case can be dispatched to.

The page shows only these, so a button is never a dead end; the form's POST still goes through
transition, which decides (a colleague may have moved the case meanwhile: 409 on the page).
tests/dashboard/test_case_pages.py checks `allowed` against transition for every state and role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.models import Case, CaseAction, CaseState, CaseStep, GridPerson, Region, Role, User
from registry_service.principal import Principal
from registry_service.services import cases

# Why the page refused an action: the "case_error" message family (i18n.FAMILIES).
CASE_ERRORS: Final = ("wrong_state", "forbidden", "note_required", "bad_assignee", "bad_photo", "photos_off", "invalid")
# What a person may ask for: the workflow's steps, then a note (the buttons: the "case_do" family).
ACTIONS: Final = cases.ACTIONS


@dataclass(frozen=True)
class Officer:
    """A grid user a case can be dispatched to."""

    username: str
    name: str
    region: str  # the code of the region it is a grid person of


def allowed(session: Session, principal: Principal, case: Case) -> tuple[str, ...]:
    """The actions (cases.ACTIONS, in workflow order) `principal` may take on `case` now."""
    if case.state == CaseState.CLOSED or principal.role not in (Role.BUREAU, Role.GRID):
        return ()
    if not cases.visible(session, principal, case):
        return ()
    found: list[str] = []
    for action, (start, _) in cases.TRANSITIONS.items():
        if case.state != start:
            continue
        if action == CaseAction.HANDLED and principal.role is Role.GRID:
            if case.assignee_user_id is not None and case.assignee_user_id != principal.user_id:
                continue  # dispatched to another officer
        if action == CaseAction.VERIFIED and _last_handler(session, case) == principal.username:
            continue  # four eyes: not the one who handled it
        found.append(action)
    found.append(CaseAction.NOTE.value)
    return tuple(found)


def officers(session: Session, case: Case) -> list[Officer]:
    """Active grid users whose scope holds the case's handling region: people of that region or of
    a region above it (whose subtree holds it), nearest first."""
    path = session.scalar(select(Region.path).where(Region.id == case.handling_region_id))
    if path is None:
        return []
    parts = path.split("/")
    above = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    rows = list(
        session.execute(
            select(User.username, GridPerson.name, Region.code, Region.path)
            .join(GridPerson, GridPerson.user_id == User.id)
            .join(Region, Region.id == GridPerson.region_id)
            .where(Region.path.in_(above), User.role == Role.GRID, User.active.is_(True))
        )
    )
    rows.sort(key=lambda row: (above.index(row.path), row.name, row.username))
    seen: set[str] = set()
    found = []
    for row in rows:
        if row.username not in seen:
            seen.add(row.username)
            found.append(Officer(row.username, row.name, row.code))
    return found


def _last_handler(session: Session, case: Case) -> str | None:
    return session.scalar(
        select(CaseStep.actor)
        .where(CaseStep.case_id == case.id, CaseStep.action == CaseAction.HANDLED.value)
        .order_by(CaseStep.id.desc())
        .limit(1)
    )
