"""Finding things by what a person types: one box for a plate, a cylinder ID or a tag UID, and the
region and station pickers.

What was typed is brought to the identifiers' canonical forms (tag_tools.identifiers: full-width
letters, lower case, spaces and separators), so "豫a2b015" and "豫Ａ 2B015" find 豫A2B015. Exact
matches are looked up by the unique and indexed columns; with none, the typed text is taken as the
start of a plate, cylinder ID or tag UID (at least MIN_PREFIX characters). Refuel attempts of tags
with no cylinder row (forged, moved, unknown signer) are found by their exact tag UID, through the
scan-event index on (tag_uid, occurred_at) and within HISTORY_WINDOW. Every list is bounded.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from registry_service.errors import InvalidInput
from registry_service.models import Cylinder, Inspection, Region, ScanEvent, Station, Vehicle
from tag_tools import identifiers
from tag_tools.fields import has_forbidden_character

LIMIT = 20  # of each kind of match, and of a picker's options
MIN_PREFIX = 3  # characters: shorter text would list a good part of the city
HISTORY_WINDOW = timedelta(days=366)  # as the vehicle and cylinder pages
# Above every character a plate, ID or UID can hold: `prefix <= value < prefix + _TOP` selects the
# values that start with `prefix` by an index range (LIKE would read the whole table on SQLite).
_TOP = "\U0010ffff"


class SearchRefused(InvalidInput):
    """What was typed cannot be part of any identifier (control characters, far too long)."""


@dataclass(frozen=True)
class Terms:
    """The typed text as each kind of identifier: canonical forms (None when it is not one) and
    the normalised text to match the start of one."""

    plate: str | None
    cylinder_id: str | None
    tag_uid: str | None
    plate_start: str  # NFKC, upper case, without spaces and separators (as plates and UIDs are stored)
    cylinder_start: str  # NFKC, upper case, without spaces, dashes as "-"


def terms(typed: str) -> Terms:
    text = typed.strip()
    if len(text) > identifiers.MAX_RAW_LENGTH:
        raise SearchRefused(f"q is longer than {identifiers.MAX_RAW_LENGTH} characters")
    broken = has_forbidden_character(text)
    if broken:
        raise SearchRefused(f"q {broken}")
    folded = unicodedata.normalize("NFKC", text).upper()
    return Terms(
        plate=identifiers.canonical_or_none(identifiers.plate, text, "q"),
        cylinder_id=identifiers.canonical_or_none(identifiers.cylinder_id, text, "q"),
        tag_uid=identifiers.canonical_or_none(identifiers.tag_uid, text, "q"),
        plate_start=identifiers.plate_key(text).replace(":", ""),
        cylinder_start="".join("-" if _is_dash(c) else c for c in folded if not c.isspace()),
    )


def _is_dash(char: str) -> bool:
    return unicodedata.category(char) == "Pd" or char == "\u2212"


@dataclass(frozen=True)
class VehicleMatch:
    plate: str
    use: str
    cylinders: int


@dataclass(frozen=True)
class CylinderMatch:
    cylinder_id: str
    tag_uid: str | None
    plate: str | None


@dataclass(frozen=True)
class UnknownTag:
    """Refuel attempts with a tag UID and no cylinder row: what forged, moved or unknown-signer tags leave."""

    tag_uid: str
    attempts: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Found:
    typed: str
    vehicles: list[VehicleMatch]
    cylinders: list[CylinderMatch]
    tags: list[UnknownTag]
    exact: bool  # matched as typed, not by the start of an identifier

    @property
    def count(self) -> int:
        return len(self.vehicles) + len(self.cylinders) + len(self.tags)

    @property
    def only(self) -> VehicleMatch | CylinderMatch | UnknownTag | None:
        """The one match, when there is exactly one."""
        everything: list[VehicleMatch | CylinderMatch | UnknownTag] = [*self.vehicles, *self.cylinders, *self.tags]
        return everything[0] if len(everything) == 1 else None


def find(session: Session, typed: str, now: datetime, centre_id: int | None = None) -> Found:
    """Vehicles, cylinders and unknown tags matching `typed`. A centre (centre_id given) finds only
    the cylinders it inspected, as its cylinder pages show."""
    t = terms(typed)
    vehicles = [] if centre_id is not None else _vehicles(session, Vehicle.plate == t.plate) if t.plate else []
    cylinder_keys: list[ColumnElement[bool]] = []
    if t.cylinder_id:
        cylinder_keys.append(Cylinder.cylinder_id == t.cylinder_id)
    if t.tag_uid:
        cylinder_keys.append(Cylinder.tag_uid == t.tag_uid)
    cylinders = _cylinders(session, or_(*cylinder_keys), centre_id) if cylinder_keys else []
    tags = _unknown_tags(session, t.tag_uid, now) if t.tag_uid and centre_id is None else []
    if vehicles or cylinders or tags:
        return Found(typed, vehicles, cylinders, tags, exact=True)
    if len(t.plate_start) < MIN_PREFIX and len(t.cylinder_start) < MIN_PREFIX:
        return Found(typed, [], [], [], exact=False)
    if centre_id is None and len(t.plate_start) >= MIN_PREFIX:
        vehicles = _vehicles(session, _starts(Vehicle.plate, t.plate_start))
    starts = [_starts(Cylinder.cylinder_id, t.cylinder_start)] if len(t.cylinder_start) >= MIN_PREFIX else []
    if len(t.plate_start) >= MIN_PREFIX:
        starts.append(_starts(Cylinder.tag_uid, t.plate_start))
    cylinders = _cylinders(session, or_(*starts), centre_id) if starts else []
    # Case-sensitive collations may put more between the bounds than what starts with the text.
    vehicles = [v for v in vehicles if v.plate.startswith(t.plate_start)]
    cylinders = [
        c for c in cylinders if c.cylinder_id.startswith(t.cylinder_start) or (c.tag_uid or "").startswith(t.plate_start or "\0")
    ]
    return Found(typed, vehicles, cylinders, [], exact=False)


def _starts(column: InstrumentedAttribute[Any], start: str) -> ColumnElement[bool]:
    return and_(column >= start, column < start + _TOP)


def _vehicles(session: Session, condition: ColumnElement[bool]) -> list[VehicleMatch]:
    counts = (
        select(func.count()).select_from(Cylinder).where(Cylinder.vehicle_id == Vehicle.id).correlate(Vehicle).scalar_subquery()
    )
    rows = session.execute(select(Vehicle.plate, Vehicle.use, counts).where(condition).order_by(Vehicle.plate).limit(LIMIT))
    return [VehicleMatch(plate, use, int(n or 0)) for plate, use, n in rows]


def _cylinders(session: Session, condition: ColumnElement[bool], centre_id: int | None) -> list[CylinderMatch]:
    statement = (
        select(Cylinder.cylinder_id, Cylinder.tag_uid, Vehicle.plate)
        .outerjoin(Vehicle, Vehicle.id == Cylinder.vehicle_id)
        .where(condition)
        .order_by(Cylinder.cylinder_id)
        .limit(LIMIT)
    )
    if centre_id is not None:
        statement = statement.where(Cylinder.id.in_(select(Inspection.cylinder_pk).where(Inspection.centre_id == centre_id)))
    return [CylinderMatch(cylinder_id, uid, plate) for cylinder_id, uid, plate in session.execute(statement)]


def _unknown_tags(session: Session, tag_uid: str, now: datetime) -> list[UnknownTag]:
    row = session.execute(
        select(func.count(), func.min(ScanEvent.occurred_at), func.max(ScanEvent.occurred_at)).where(
            ScanEvent.tag_uid == tag_uid,
            ScanEvent.occurred_at >= now - HISTORY_WINDOW,
            ScanEvent.cylinder_pk.is_(None),
        )
    ).one()
    count, first, last = row
    return [UnknownTag(tag_uid, int(count), first, last)] if count else []


# Pickers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    within: str  # the name of the region it lies in ("" for a city)


def regions(session: Session, typed: str, limit: int = LIMIT) -> tuple[list[Place], bool]:
    """Regions whose code starts with, or whose name contains, the typed text; and whether there are more."""
    condition = _place_condition(Region.code, Region.name, typed)
    parent = Region.__table__.alias("parent")
    rows = session.execute(
        select(Region.code, Region.name, parent.c.name)
        .outerjoin(parent, parent.c.id == Region.parent_id)
        .where(condition)
        .order_by(Region.path)
        .limit(limit + 1)
    ).all()
    return [Place(code, name, within or "") for code, name, within in rows[:limit]], len(rows) > limit


def stations(session: Session, typed: str, limit: int = LIMIT) -> tuple[list[Place], bool]:
    """Stations whose code starts with, or whose name contains, the typed text; and whether there are more."""
    condition = _place_condition(Station.code, Station.name, typed)
    rows = session.execute(
        select(Station.code, Station.name, Region.name)
        .join(Region, Region.id == Station.region_id)
        .where(condition)
        .order_by(Station.code)
        .limit(limit + 1)
    ).all()
    return [Place(code, name, within) for code, name, within in rows[:limit]], len(rows) > limit


def _place_condition(code: InstrumentedAttribute[str], name: InstrumentedAttribute[str], typed: str) -> ColumnElement[bool]:
    text = unicodedata.normalize("NFKC", typed.strip())[: identifiers.MAX_RAW_LENGTH]
    if not text or has_forbidden_character(text):
        return true()  # nothing (usable) typed: the first ones
    return or_(_starts(code, text.upper()), _starts(code, text), name.contains(text, autoescape=True))


def place_names(session: Session, region: str | None, station: str | None) -> dict[str, str]:
    """The names of a query's region and station, for the pickers to show beside the codes."""
    names: dict[str, str] = {}
    if region:
        found = session.scalar(select(Region.name).where(Region.code == region))
        if found is not None:
            names["region"] = found
    if station:
        found = session.scalar(select(Station.name).where(Station.code == station))
        if found is not None:
            names["station"] = found
    return names
