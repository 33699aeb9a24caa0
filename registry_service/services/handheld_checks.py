"""Checks recorded with the handheld verifier: a grid officer (or the bureau) taps a tag with a
phone, the phone verifies it offline, and the officer records what it said as a patrol
observation, possibly opening a case from it (docs/handheld.md).

Idempotent by the phone's UUID: the page queues checks while offline and uploads each until it
gets an answer, so the same check can arrive twice (an answer lost on a bad connection). The
second arrival stores nothing and gets the same answer; asking for a case on a check that has none
yet opens it once. A UUID another officer already used is refused (409), never shown.

The verdict is the phone's, kept as the officer's observation: the registry does not recompute it
(it has neither the tag's bytes nor the phone's lists). Which case it opens follows the cases the
stations' refusals open (services/case_hooks.py): a refused cylinder (overdue, failed, past its
life, revoked) is a `refused_cylinder` case on `cylinder:<ID>`; a tag that is not genuine (a bad
signature, a record bound to another chip, an unknown signer...) is a `clone_suspect` case on
`clone:<cylinder ID or tag UID>`. The case's cell is the vehicle's home cell when the cylinder is
registered to a vehicle that has one, else the officer's own cell (where the cylinder was found,
as a station's cell is for a refusal at a station). Time is a parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, Forbidden, InvalidInput
from registry_service.models import Case, CaseKind, Cylinder, HandheldCheck, Region, Role, Vehicle
from registry_service.principal import Principal
from registry_service.services import audit, cases, grid_scope
from registry_service.services.case_hooks import CYLINDER_REASONS
from registry_service.services.idempotent import insert_ignoring_duplicates

RECORDERS: Final = (Role.GRID, Role.BUREAU)
SOURCES: Final = ("tag", "lookup")
DECISIONS: Final = ("allow", "allow_with_warning", "refuse")
PLACE_MAX: Final = 200
MAX_REASONS: Final = 32
# How far the phone's clock may put a check in the future (a phone that lost its time), and how old
# a queued check may be when it finally arrives (a phone left in a drawer for a season).
FUTURE_SLACK: Final = timedelta(days=1)
OLDEST: Final = timedelta(days=90)
# Refusals about the tag itself rather than its cylinder: a forged, copied or moved tag. The trust
# list's own problems (stale, not authentic) are the phone's, not the cylinder's: no case.
TAG_REASONS: Final = (
    "uid_mismatch",
    "bad_signature",
    "unknown_signer",
    "signer_revoked",
    "signer_not_valid_at_issue",
    "issued_in_future",
    "record_superseded",
    "malformed",
    "unsupported_version",
    "no_record",
)


class CheckConflict(Conflict):
    """The check's UUID was already used by another officer's check (409)."""


class NoCase(InvalidInput):
    """The check says nothing a case is for, or no cell is known to put it in (422)."""


@dataclass(frozen=True)
class CheckIn:
    """A check as the phone sends it, each field already checked by the web layer."""

    check_uuid: uuid.UUID
    checked_at: datetime
    source: str  # one of SOURCES
    cylinder_id: str | None  # canonical (tag_tools.identifiers)
    tag_uid: str | None  # canonical upper-case hex
    decision: str  # one of DECISIONS
    reasons: tuple[str, ...]  # catalogue codes
    status_checked: bool
    place: str
    open_case: bool


@dataclass(frozen=True)
class Recorded:
    """The answer to an upload: the same for the first arrival and every repeat."""

    check: HandheldCheck
    case_number: str | None
    created: bool  # False: the registry already had this check


def record_check(session: Session, principal: Principal, now: datetime, check: CheckIn) -> Recorded:
    """Store the check (once per UUID) and, when asked, open or attach its case (once per check)."""
    if principal.role not in RECORDERS:
        raise Forbidden("only grid people and the bureau record handheld checks")
    if not now - OLDEST <= check.checked_at <= now + FUTURE_SLACK:
        raise InvalidInput(f"checked_at must lie between {OLDEST.days} days ago and one day ahead of the registry's clock")
    home = _home_cell(session, check.cylinder_id)
    region_id = home if home is not None else _own_cell(session, principal)
    values = {
        "check_uuid": check.check_uuid,
        "officer_user_id": principal.user_id,
        "officer": principal.username[:80],
        "checked_at": check.checked_at,
        "received_at": now,
        "source": check.source,
        "cylinder_id": check.cylinder_id,
        "tag_uid": check.tag_uid,
        "decision": check.decision,
        "reasons": list(check.reasons),
        "status_checked": check.status_checked,
        "place": check.place[:PLACE_MAX],
        "region_id": region_id,
        "case_id": None,
    }
    statement = insert_ignoring_duplicates(session, HandheldCheck).values(values).returning(HandheldCheck.id)
    inserted = session.execute(statement).scalar() is not None
    query = select(HandheldCheck).where(HandheldCheck.check_uuid == check.check_uuid)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two uploads of one check asking for a case: one opens it
    row = session.scalar(query.execution_options(populate_existing=True))
    assert row is not None  # inserted now or before
    if row.officer_user_id != principal.user_id:
        raise CheckConflict("this check id was used by another check; make a new one")
    if inserted:
        audit.record(session, principal, "record_handheld_check", "handheld_check", row.id, now, decision=row.decision)
    if check.open_case and row.case_id is None:
        row.case_id = _open_case(session, principal, row, now).id
        session.flush()
    number = session.scalar(select(Case.number).where(Case.id == row.case_id)) if row.case_id is not None else None
    return Recorded(row, number, inserted)


def case_for(reasons: Sequence[str], decision: str) -> tuple[CaseKind, str] | None:
    """The kind of case a verdict opens and the case's reason, None when it opens none."""
    if decision != "refuse":
        return None
    for code, reason in CYLINDER_REASONS.items():  # most serious first
        if code in reasons:
            return CaseKind.REFUSED_CYLINDER, reason
    tag = next((code for code in reasons if code in TAG_REASONS), None)
    return (CaseKind.CLONE_SUSPECT, tag) if tag else None


def _open_case(session: Session, principal: Principal, row: HandheldCheck, now: datetime) -> Case:
    found = case_for(row.reasons, row.decision)
    if found is None:
        raise NoCase("this verdict opens no case: only a refused cylinder or a tag that is not genuine does")
    kind, reason = found
    if row.region_id is None:
        raise NoCase("no grid cell is known for this check (an unregistered cylinder, checked by the bureau)")
    cylinder = _cylinder(session, row.cylinder_id)
    if kind is CaseKind.REFUSED_CYLINDER:
        if row.cylinder_id is None:
            raise NoCase("a refused-cylinder case needs the cylinder's ID")
        subject = f"cylinder:{row.cylinder_id}"
        if reason == "revoked" and cylinder is not None and cylinder.state.value != "active":
            reason = cylinder.state.value  # as the stations' cases say how: "scrapped", "stolen"
    else:
        key = row.cylinder_id or row.tag_uid
        if key is None:
            raise NoCase("a clone-suspect case needs the cylinder's ID or the tag's UID")
        subject = f"clone:{key}"
    return cases.open_or_attach(
        session,
        kind=kind.value,
        subject_key=subject,
        region_id=row.region_id,
        now=now,
        cylinder_pk=cylinder.id if cylinder is not None else None,
        vehicle_id=cylinder.vehicle_id if cylinder is not None else None,
        reason=reason,
        detail=_detail(row),
        actor=principal.username,
    )


def _detail(row: HandheldCheck) -> str:
    where = f" at {row.place}" if row.place else ""
    return (
        f"handheld check {row.check_uuid} by {row.officer}{where}, {row.checked_at:%Y-%m-%dT%H:%MZ}: "
        f"{row.cylinder_id or '-'} {row.tag_uid or '-'} {','.join(row.reasons) or row.decision}"
    )


def _cylinder(session: Session, cylinder_id: str | None) -> Cylinder | None:
    if cylinder_id is None:
        return None
    return session.scalar(select(Cylinder).where(Cylinder.cylinder_id == cylinder_id))


def _home_cell(session: Session, cylinder_id: str | None) -> int | None:
    """The home region of the vehicle the cylinder is fitted to, if it is registered and has one."""
    if cylinder_id is None:
        return None
    return session.scalar(
        select(Vehicle.region_id).join(Cylinder, Cylinder.vehicle_id == Vehicle.id).where(Cylinder.cylinder_id == cylinder_id)
    )


def _own_cell(session: Session, principal: Principal) -> int | None:
    """A grid officer's own cell: the deepest region of its scope (the first by path among equals)."""
    if not principal.region_paths:
        return None
    deepest = min(principal.region_paths, key=lambda path: (-path.count("/"), path))
    return session.scalar(select(Region.id).where(Region.path == deepest))


# Reading ----------------------------------------------------------------------------------------


def list_checks(
    session: Session,
    principal: Principal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    cylinder_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Checks the principal may see, newest first: the bureau every one, a grid user those in its
    cells and its own (a check on a cylinder from another cell counts in that cell)."""
    if principal.role not in RECORDERS:
        raise Forbidden("only grid people and the bureau read handheld checks")
    where: list[ColumnElement[bool]] = [
        or_(grid_scope.path_filter(principal, Region.path), HandheldCheck.officer_user_id == principal.user_id)
    ]
    if since is not None:
        where.append(HandheldCheck.checked_at >= since)
    if until is not None:
        where.append(HandheldCheck.checked_at < until)
    if cylinder_id is not None:
        where.append(HandheldCheck.cylinder_id == cylinder_id)
    rows = session.execute(
        select(HandheldCheck, Region.code, Case.number)
        .outerjoin(Region, Region.id == HandheldCheck.region_id)
        .outerjoin(Case, Case.id == HandheldCheck.case_id)
        .where(*where)
        .order_by(HandheldCheck.checked_at.desc(), HandheldCheck.id.desc())
        .limit(limit)
    ).all()
    return [to_json(row, region, number) for row, region, number in rows]


def to_json(row: HandheldCheck, region: str | None, case_number: str | None) -> dict[str, Any]:
    return {
        "id": str(row.check_uuid),
        "officer": row.officer,
        "checked_at": row.checked_at.isoformat(),
        "received_at": row.received_at.isoformat(),
        "source": row.source,
        "cylinder_id": row.cylinder_id,
        "tag_uid": row.tag_uid,
        "decision": row.decision,
        "reasons": list(row.reasons),
        "status_checked": row.status_checked,
        "place": row.place,
        "region": region,
        "case": case_number,
    }
