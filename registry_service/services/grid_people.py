"""The grid's people: who answers for each region (定人、定岗、定责), and grid codes (docs/grid.md).

A grid person is a region, a name, a phone and a duty ("officer" for a cell, "lead" above), usually
with a `grid` user who signs in; that user's scope is every region it is a grid person of, with
the subtree below (services/grid_scope.py). The user is created, without a password, when a grid
person names a user name that does not exist yet; the administrator gives it a token or a password
with the account commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service import token_watch
from registry_service.errors import Conflict, InvalidInput
from registry_service.models import GridPerson, Region, RegionLevel, Role, User
from registry_service.models.grid import DUTIES, DUTY_LEAD, DUTY_OFFICER
from registry_service.principal import Principal
from registry_service.services import accounts, audit, grid_scope
from registry_service.services.places import region_by_code

# Grid codes in the GB/T 2260-prefixed style of city grid standards: a six-digit administrative
# division code for a district ("410105"), a street as the district's code and three digits
# ("410105-003"), a cell as the street's code and two or more digits ("410105-003-07").
DISTRICT_CODE: Final = re.compile(r"^\d{6}$")
STREET_CODE: Final = re.compile(r"^\d{6}-\d{3}$")
CELL_CODE: Final = re.compile(r"^\d{6}(-\d{3})?-\d{2,4}$")
MAX_NAME: Final = 100
MAX_PHONE: Final = 32
_PHONE: Final = re.compile(r"^\+?[0-9][0-9 -]{2,30}$")


@dataclass(frozen=True)
class PersonView:
    region: str
    region_name: str
    level: str
    username: str | None
    name: str
    phone: str | None
    duty: str


def grid_code_problem(code: str, level: RegionLevel | str, parent_code: str | None) -> str | None:
    """Why a new region's code does not follow the grid code style, or None. Existing codes are not
    checked: a warning for new ones, never a refusal of data already in use."""
    pattern = {RegionLevel.DISTRICT: DISTRICT_CODE, RegionLevel.STREET: STREET_CODE, RegionLevel.CELL: CELL_CODE}.get(
        RegionLevel(level)
    )
    if pattern is None:
        return None
    if not pattern.fullmatch(code):
        return f"{level} code {code} is not in the style {pattern.pattern}"
    if parent_code and level != RegionLevel.DISTRICT and not code.startswith(parent_code.split("-", 1)[0]):
        return f"{level} code {code} does not start with its district's code"
    return None


def add_person(
    session: Session,
    actor: Principal | str,
    now: datetime,
    *,
    region_code: str,
    name: str,
    username: str | None = None,
    phone: str | None = None,
    duty: str | None = None,
) -> GridPerson:
    """Add a grid person to a region, or update the one already there for this user (re-imported)."""
    region = region_by_code(session, region_code)
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a grid person's name is 1 to {MAX_NAME} characters")
    if phone is not None and (len(phone) > MAX_PHONE or not _PHONE.fullmatch(phone)):
        raise InvalidInput(f"phone {phone!r} is not a phone number")
    duty = duty or (DUTY_OFFICER if region.level is RegionLevel.CELL else DUTY_LEAD)
    if duty not in DUTIES:
        raise InvalidInput(f"duty must be one of: {', '.join(DUTIES)}")
    user = _grid_user(session, actor, now, username) if username else None
    person = session.scalar(
        select(GridPerson).where(
            GridPerson.region_id == region.id,
            GridPerson.user_id == user.id if user else GridPerson.user_id.is_(None),
            *(() if user else (GridPerson.name == name,)),
        )
    )
    if person is None:
        person = GridPerson(region_id=region.id, user_id=user.id if user else None, name=name, phone=phone, duty=duty)
        session.add(person)
        if user is not None:  # a new region for the user's tokens: no node may keep the old scope
            token_watch.announce(session, user_id=user.id)
    else:
        person.name, person.phone, person.duty = name, phone, duty
    session.flush()
    audit.record(session, actor, "set_grid_person", "region", region.code, now, user=username, duty=duty)
    return person


def people(session: Session, principal: Principal, region_code: str | None = None) -> list[PersonView]:
    """Grid people, by region path: all of them for the bureau and the administrator, those of its
    own subtrees for a grid user; `region_code` narrows to a region's subtree."""
    query = (
        select(GridPerson, Region, User.username)
        .join(Region, Region.id == GridPerson.region_id)
        .outerjoin(User, User.id == GridPerson.user_id)
        .order_by(Region.path, GridPerson.duty.desc(), GridPerson.name, GridPerson.id)
    )
    if principal.role is not Role.ADMIN:
        query = query.where(grid_scope.path_filter(principal, Region.path))
    if region_code is not None:
        top = region_by_code(session, region_code).path
        query = query.where((Region.path == top) | Region.path.startswith(top + "/", autoescape=True))
    return [
        PersonView(region.code, region.name, region.level.value, username, person.name, person.phone, person.duty)
        for person, region, username in session.execute(query)
    ]


def _grid_user(session: Session, actor: Principal | str, now: datetime, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return accounts.create_user(session, actor, now, username=username, role=Role.GRID)
    if user.role is not Role.GRID:
        raise Conflict(f"user {username} is a {user.role.value} user, not a grid user")
    return user
