"""Cylinder status for stations, revocations (condemn, scrap, stolen, superseded) and their
delta feed, who may condemn, and the bureau's reversal of a condemnation. Status applies the station's own date rules (tag_tools.rules), with what only the
registry knows; when the station holds a newer record than the registry, the answer is "unknown"
and the station keeps its offline verdict (the registry lags a centre's upload, it does not win)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry_service.models import (
    CondemnationReversal,
    Cylinder,
    CylinderState,
    Inspection,
    InspectionCentre,
    Revocation,
    RevocationKind,
    Role,
)
from registry_service.principal import Principal
from registry_service.services import audit, cases, status_indexes
from registry_service.services.status_reads import StatusReads, StatusRow
from tag_tools import rules

_STATE_REVOCATION = {
    RevocationKind.CONDEMNED: CylinderState.CONDEMNED,
    RevocationKind.SCRAPPED: CylinderState.SCRAPPED,
    RevocationKind.STOLEN: CylinderState.STOLEN,
}


@dataclass(frozen=True)
class StatusQuery:
    cylinder_id: str | None
    tag_uid: str | None
    record_sequence: int | None = None  # of the record on the tag the station read


def cylinder_status(
    reads: StatusReads, items: list[StatusQuery], plate: str | None, today: date, due_soon_days: int
) -> dict[str, Any]:
    """Status of the cylinders of one vehicle (by id, tag UID or plate): the hot path of every fill."""
    vehicle_id: int | None = None
    vehicle_known = False
    if plate and not items:
        rows = reads.by_plate(plate)
        if not rows:
            vehicle_known = reads.vehicle_id(plate) is not None
            return {"plate": plate, "vehicle_registered": vehicle_known, "cylinders": []}
        items = [StatusQuery(r.cylinder_id, r.tag_uid) for r in rows]
        by_id = {r.cylinder_id: r for r in rows}
        by_uid: dict[str | None, StatusRow] = {}
        vehicle_id, vehicle_known = rows[0].vehicle_id, True
    else:
        ids = [i.cylinder_id for i in items if i.cylinder_id]
        uids = [i.tag_uid for i in items if i.tag_uid and not i.cylinder_id]
        if ids and plate:  # what a station asks: the cylinder it read, and the plate
            id_rows, vehicle_id = reads.by_cylinder_ids_for_plate(ids, plate)
        else:
            id_rows = reads.by_cylinder_ids(ids) if ids else []
            vehicle_id = reads.vehicle_id(plate) if plate else None
        by_id = {r.cylinder_id: r for r in id_rows}
        by_uid = {r.tag_uid: r for r in reads.by_tag_uids(uids)} if uids else {}
        vehicle_known = vehicle_id is not None
    results = []
    for item in items:
        row = by_id.get(item.cylinder_id) if item.cylinder_id else by_uid.get(item.tag_uid)
        results.append(_one_status(item, row, plate, vehicle_id, vehicle_known, today, due_soon_days))
    return {"plate": plate, "vehicle_registered": vehicle_known if plate else None, "cylinders": results}


def _one_status(
    item: StatusQuery,
    row: StatusRow | None,
    plate: str | None,
    vehicle_id: int | None,
    vehicle_known: bool,
    today: date,
    due_soon_days: int,
) -> dict[str, Any]:
    if row is None:
        return {
            "cylinder_id": item.cylinder_id,
            "tag_uid": item.tag_uid,
            "registered": False,
            "decision": "refuse",
            "reasons": ["unregistered"],
        }
    # A newer record than the registry holds is the centre's word, not yet uploaded: "unknown", and
    # the station keeps its own verdict. Not for a condemned, scrapped or stolen cylinder: no record
    # undoes that (a reversal is the bureau's, through re-issue), so the refusal stands.
    lagging = item.record_sequence is not None and item.record_sequence > row.record_sequence
    if lagging and row.state is CylinderState.ACTIVE:
        return {
            "cylinder_id": row.cylinder_id,
            "tag_uid": row.tag_uid,
            "registered": True,
            "decision": "unknown",
            "reasons": ["record_newer_than_registry"],
            "record_sequence": row.record_sequence,
        }
    reasons: list[str] = []
    if row.state is not CylinderState.ACTIVE:
        reasons.append("cylinder_revoked")
    if row.last_result == "fail":
        reasons.append("inspection_failed")
    if rules.is_past_service_life(today, row.end_of_life):
        reasons.append("past_service_life")
    if row.next_due is None or rules.is_overdue(today, row.next_due):  # None: never inspected
        reasons.append("inspection_overdue")
    mismatch = item.tag_uid is not None and row.tag_uid is not None and item.tag_uid != row.tag_uid
    if mismatch or (plate and (not vehicle_known or row.vehicle_id != vehicle_id)):
        reasons.append("registration_mismatch")
    refuse = bool(reasons)
    if row.next_due is not None and rules.is_due_soon(today, row.next_due, row.end_of_life, due_soon_days, refused=refuse):
        reasons.append("due_soon")
    return {
        "cylinder_id": row.cylinder_id,
        "tag_uid": row.tag_uid,
        "registered": True,
        "state": row.state.value,
        "next_due": row.next_due.isoformat() if row.next_due else None,
        "end_of_life": row.end_of_life.isoformat(),
        "last_result": row.last_result,
        "record_sequence": row.record_sequence,
        "plate": row.plate,
        "decision": "refuse" if refuse else ("allow_with_warning" if reasons else "allow"),
        "reasons": reasons,
    }


def cylinder_by_id(session: Session, cylinder_id: str, *, for_update: bool = False) -> Cylinder:
    query = select(Cylinder).where(Cylinder.cylinder_id == cylinder_id)
    cylinder = session.scalar(query.with_for_update() if for_update else query)
    if cylinder is None:
        raise NotFound(f"no cylinder {cylinder_id}")
    return cylinder


def revoke(
    session: Session,
    actor: Principal | str,
    now: datetime,
    cylinder_id: str,
    kind: RevocationKind,
    reason: str,
    below_sequence: int | None = None,
) -> Revocation:
    """Record a revocation and apply it to the cylinder's state, atomically."""
    cylinder = cylinder_by_id(session, cylinder_id, for_update=True)
    if kind is RevocationKind.SUPERSEDED:
        if below_sequence is None:
            raise InvalidInput("a superseded revocation needs below_sequence")
    else:
        if cylinder.state is _STATE_REVOCATION[kind]:
            raise Conflict(f"cylinder {cylinder_id} is already {cylinder.state.value}")
        cylinder.state = _STATE_REVOCATION[kind]
        if kind is RevocationKind.CONDEMNED:
            cylinder.last_result = "fail"
        status_indexes.revoke(session, cylinder.id, kind, now)
        if kind is RevocationKind.SCRAPPED:  # out of use for good: its refused-cylinder case is settled
            cases.close_for_cylinder(session, cylinder.id, now, f"scrapped: {reason}")
    row = Revocation(
        cylinder_pk=cylinder.id,
        cylinder_id=cylinder.cylinder_id,
        kind=kind,
        below_sequence=below_sequence,
        reason=reason,
        created_at=now,
        created_by=actor.user_id if isinstance(actor, Principal) else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, f"revoke_{kind.value}", "cylinder", cylinder_id, now, reason=reason, below_sequence=below_sequence
    )
    return row


def condemn(session: Session, principal: Principal, now: datetime, cylinder_id: str, reason: str) -> Revocation:
    """Condemn a cylinder, by the rules of inspections: the bureau, or the centre that holds the
    cylinder's latest record, while that centre is active (a suspended centre condemns nothing)."""
    cylinder = cylinder_by_id(session, cylinder_id, for_update=True)
    _require_condemner(session, principal, cylinder)
    return revoke(session, principal, now, cylinder_id, RevocationKind.CONDEMNED, reason)


def _require_condemner(session: Session, principal: Principal, cylinder: Cylinder) -> None:
    if principal.role is Role.BUREAU:
        return
    if principal.role is not Role.CENTRE or principal.centre_id is None:
        raise Forbidden(f"role {principal.role.value} may not condemn cylinders")
    centre = session.get(InspectionCentre, principal.centre_id)
    if centre is None or not centre.active:
        raise Forbidden("this inspection centre is suspended: it may not condemn cylinders")
    holder = session.scalar(
        select(Inspection.centre_id)
        .where(Inspection.cylinder_pk == cylinder.id)
        .order_by(Inspection.sequence.desc(), Inspection.id.desc())
        .limit(1)
    )
    if holder != centre.id:
        raise Forbidden(
            f"only the centre that holds cylinder {cylinder.cylinder_id}'s latest record, or the bureau, may condemn it"
        )


def reverse_condemnation(
    session: Session, principal: Principal, now: datetime, cylinder_id: str, reason: str
) -> CondemnationReversal:
    """The bureau's audited reversal of a condemnation. Nothing is un-revoked: the cylinder stays
    condemned and its old records stay revoked in the status list; the reversal only lets the next
    record a centre submits (new sequence, new status index) make it active again
    (services/inspections.py). Conflict when the cylinder is not condemned or already reversed."""
    if principal.role is not Role.BUREAU:
        raise Forbidden("only the bureau may reverse a condemnation")
    cylinder = cylinder_by_id(session, cylinder_id, for_update=True)
    if cylinder.state is not CylinderState.CONDEMNED:
        raise Conflict(f"cylinder {cylinder_id} is {cylinder.state.value}, not condemned")
    if pending_reversal(session, cylinder) is not None:
        raise Conflict(f"the condemnation of cylinder {cylinder_id} is already reversed; a centre re-issues its record next")
    condemnation = _latest_condemnation(session, cylinder)
    if condemnation is None:  # condemned by a path that wrote no revocation (an old import)
        raise Conflict(f"cylinder {cylinder_id} has no recorded condemnation to reverse")
    row = CondemnationReversal(
        cylinder_pk=cylinder.id,
        cylinder_id=cylinder.cylinder_id,
        revocation_id=condemnation.id,
        reason=reason,
        granted_at=now,
        granted_by=principal.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        "reverse_condemnation",
        "cylinder",
        cylinder_id,
        now,
        reason=reason,
        revocation=condemnation.id,
        reversal=row.id,
    )
    return row


def pending_reversal(session: Session, cylinder: Cylinder) -> CondemnationReversal | None:
    """The reversal of the cylinder's current condemnation that no new record has used yet."""
    if cylinder.state is not CylinderState.CONDEMNED:
        return None
    condemnation = _latest_condemnation(session, cylinder)
    if condemnation is None:
        return None
    return session.scalar(
        select(CondemnationReversal).where(
            CondemnationReversal.revocation_id == condemnation.id, CondemnationReversal.reissued_sequence.is_(None)
        )
    )


def _latest_condemnation(session: Session, cylinder: Cylinder) -> Revocation | None:
    return session.scalar(
        select(Revocation)
        .where(Revocation.cylinder_pk == cylinder.id, Revocation.kind == RevocationKind.CONDEMNED)
        .order_by(Revocation.id.desc())
        .limit(1)
    )


def reversal_json(row: CondemnationReversal) -> dict[str, Any]:
    return {
        "id": row.id,
        "cylinder_id": row.cylinder_id,
        "revocation_id": row.revocation_id,
        "reason": row.reason,
        "granted_at": row.granted_at.isoformat(),
        "reissued_sequence": row.reissued_sequence,
    }


def revocations_since(session: Session, cursor: int, limit: int) -> dict[str, Any]:
    rows = list(session.scalars(select(Revocation).where(Revocation.id > cursor).order_by(Revocation.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "revocations": [
            {
                "id": r.id,
                "cylinder_id": r.cylinder_id,
                "kind": r.kind.value,
                "below_sequence": r.below_sequence,
                "reason": r.reason,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ],
        "next_cursor": rows[-1].id if rows else cursor,
        "has_more": more,
    }
