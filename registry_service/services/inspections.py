"""Inspection submissions: a centre reports an inspection with the signed record it wrote.

The registry accepts it only if the record verifies against the current trust list, its signer
certificate is not revoked here, and the signer is the centre whose credential submits it. The
cylinder's registration follows the newest record; the previous record becomes superseded.

A new record never undoes a revocation by itself: for a condemned, scrapped or stolen cylinder it
is stored, but its status-list entry is born revoked and the cylinder stays refused. The one way
back is the re-issue path (schemas/status-list.md, "Undoing a revocation"): after the bureau
reverses a condemnation (services/cylinders.reverse_condemnation), the next record a centre
submits (new sequence, new index, whose entry starts VALID) makes the cylinder active again; the
old records' entries stay revoked.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, Forbidden, RecordRejected
from registry_service.models import (
    CentreCertificate,
    Cylinder,
    CylinderState,
    Inspection,
    InspectionCentre,
    RevocationKind,
    Role,
    Vehicle,
)
from registry_service.principal import Principal
from registry_service.services import audit, cases, status_indexes
from registry_service.services.cylinders import pending_reversal, revoke
from registry_service.services.registration import canonical
from tag_tools import identifiers, pki
from tag_tools.claims import CylinderRecord, InspectionResult
from tag_tools.errors import RecordRejectedError, TagToolsError
from tag_tools.trustlist import TrustStore
from tag_tools.verify import authenticate_record

MAX_RECORD_BYTES = 2048  # an NTAG216 holds 888 bytes; anything far larger is not a tag record
# The reasons of refused-cylinder cases a passing inspection settles (a past-life or revoked
# cylinder stays out of use whatever an inspection says).
CLOSED_BY_INSPECTION = frozenset({"overdue", "failed"})
_REVOKED_BY = {  # the revocation a new record of a cylinder in this state is born with
    CylinderState.CONDEMNED: RevocationKind.CONDEMNED,
    CylinderState.SCRAPPED: RevocationKind.SCRAPPED,
    CylinderState.STOLEN: RevocationKind.STOLEN,
}


def submit(
    session: Session, principal: Principal, now: datetime, record_bytes: bytes, trust: TrustStore
) -> tuple[Inspection, bool]:
    """Returns the inspection and whether it was newly created (False: an identical retry)."""
    if not record_bytes or len(record_bytes) > MAX_RECORD_BYTES:
        raise RecordRejected(f"a record is 1 to {MAX_RECORD_BYTES} bytes")
    try:
        authenticated = authenticate_record(None, record_bytes, trust, now)
    except RecordRejectedError as exc:
        raise RecordRejected(exc.detail, errors=[{"reason": exc.reason.value}]) from exc
    except (TagToolsError, ValueError) as exc:
        raise RecordRejected(f"record rejected: {exc}", errors=[{"reason": "malformed"}]) from exc
    record = authenticated.record
    centre = session.scalar(select(InspectionCentre).where(InspectionCentre.code == authenticated.centre_id))
    if centre is None or not centre.active:
        raise RecordRejected(
            f"centre {authenticated.centre_id} is not registered or not active", errors=[{"reason": "unknown_signer"}]
        )
    if principal.role is not Role.CENTRE or principal.centre_id != centre.id:
        raise Forbidden(f"the record was signed by centre {centre.code}, not by the centre of this credential")
    fingerprint = hashlib.sha256(pki.certificate_to_der(authenticated.signer.certificate)).hexdigest()
    certificate = session.scalar(select(CentreCertificate).where(CentreCertificate.fingerprint == fingerprint))
    if certificate is not None and certificate.revoked_at is not None and certificate.revoked_at <= record.issued_at:
        raise RecordRejected("the signer certificate is revoked", errors=[{"reason": "signer_revoked"}])

    existing = session.scalar(
        select(Inspection).where(Inspection.centre_id == centre.id, Inspection.report_number == record.report_number)
    )
    if existing is not None:
        if existing.record == record_bytes:
            return existing, False
        raise Conflict(f"report {record.report_number} was already submitted with a different record")

    cylinder = _register_cylinder(session, record)
    if record.sequence <= cylinder.record_sequence:
        raise Conflict(f"record sequence {record.sequence} is not newer than {cylinder.record_sequence}")
    previous_sequence = cylinder.record_sequence
    _apply(cylinder, record)
    _fit_to_vehicle(session, cylinder, record)
    inspection = Inspection(
        cylinder_pk=cylinder.id,
        centre_id=centre.id,
        certificate_id=certificate.id if certificate else None,
        report_number=record.report_number,
        inspected_on=record.inspected,
        result=_result(record),
        next_due=record.next_due,
        sequence=record.sequence,
        issued_at=record.issued_at,
        tag_uid=record.tag_uid.hex().upper(),
        record=record_bytes,
        submitted_at=now,
        submitted_by=principal.user_id,
    )
    session.add(inspection)
    session.flush()
    # The status list: older entries of this cylinder become superseded, the new one starts valid.
    status_indexes.supersede_older(session, cylinder.id, record.sequence, now)
    if record.status_ref is not None:
        status_indexes.claim(session, centre.id, cylinder.id, record.sequence, record.status_ref, now)
    _settle_revoked(session, principal, now, cylinder, record)
    if _result(record) == "pass" and cylinder.state is CylinderState.ACTIVE:
        # The overdue or failed cylinder's case closes itself, verified by this inspection.
        cases.close_for_cylinder(
            session, cylinder.id, now, f"inspection {record.report_number} passed", reasons=CLOSED_BY_INSPECTION
        )
    if previous_sequence > 0:
        revoke(
            session,
            principal,
            now,
            cylinder.cylinder_id,
            RevocationKind.SUPERSEDED,
            f"superseded by report {record.report_number}",
            below_sequence=record.sequence,
        )
    audit.record(
        session,
        principal,
        "submit_inspection",
        "cylinder",
        cylinder.cylinder_id,
        now,
        report=record.report_number,
        sequence=record.sequence,
        result=_result(record),
    )
    return inspection, True


def _settle_revoked(session: Session, principal: Principal, now: datetime, cylinder: Cylinder, record: CylinderRecord) -> None:
    """A record of a revoked cylinder: the re-issue after a reversal reinstates it; any other is
    born revoked (its new entry too), so a centre cannot undo a revocation by writing a new tag."""
    if cylinder.state is CylinderState.ACTIVE:
        return
    reversal = pending_reversal(session, cylinder)
    if reversal is None:
        status_indexes.revoke(session, cylinder.id, _REVOKED_BY[cylinder.state], now)
        return
    cylinder.state = CylinderState.ACTIVE
    reversal.reissued_sequence = record.sequence
    reversal.reissued_at = now
    audit.record(
        session,
        principal,
        "reissue_after_reversal",
        "cylinder",
        cylinder.cylinder_id,
        now,
        reversal=reversal.id,
        sequence=record.sequence,
    )


def _result(record: CylinderRecord) -> str:
    return "fail" if record.result is InspectionResult.FAILED else "pass"


def _register_cylinder(session: Session, record: CylinderRecord) -> Cylinder:
    cylinder_id = str(record.cylinder_id)
    cylinder = session.scalar(select(Cylinder).where(Cylinder.cylinder_id == cylinder_id).with_for_update())
    if cylinder is None:
        cylinder = Cylinder(
            cylinder_id=cylinder_id,
            serial=record.serial,
            manufactured_on=record.manufactured,
            end_of_life=record.end_of_life,
            record_sequence=0,
            position=1,
            state=CylinderState.ACTIVE,
        )
        session.add(cylinder)
    return cylinder


def _apply(cylinder: Cylinder, record: CylinderRecord) -> None:
    cylinder.serial = record.serial
    cylinder.manufacturer = record.manufacturer
    cylinder.kind = record.kind.label
    cylinder.working_pressure_bar = record.working_pressure_dmpa  # 0.1 MPa == 1 bar
    cylinder.capacity_l = record.water_capacity_dl / 10
    cylinder.manufactured_on = record.manufactured
    cylinder.end_of_life = record.end_of_life
    cylinder.next_due = record.next_due
    cylinder.last_result = _result(record)
    cylinder.tag_uid = record.tag_uid.hex().upper()
    cylinder.record_sequence = record.sequence


def _fit_to_vehicle(session: Session, cylinder: Cylinder, record: CylinderRecord) -> None:
    # Looked up and stored in canonical form (tag_tools.identifiers); the signed record keeps its bytes.
    record = record.with_changes(
        plate=canonical(identifiers.plate, record.plate, "plate"), vin=canonical(identifiers.vin, record.vin, "vin")
    )
    vehicle = session.scalar(select(Vehicle).where(Vehicle.plate == record.plate))
    if record.vin:
        holder = session.scalar(select(Vehicle.plate).where(Vehicle.vin == record.vin))
        if holder is not None and holder != record.plate:
            raise Conflict(f"VIN {record.vin} is registered to {holder}, the record says {record.plate}")
    if vehicle is None:
        vehicle = Vehicle(plate=record.plate, vin=record.vin or None, use="private")
        session.add(vehicle)
        session.flush()
    elif record.vin and vehicle.vin is None:
        vehicle.vin = record.vin
    cylinder.vehicle_id = vehicle.id


def inspection_json(inspection: Inspection, cylinder_id: str) -> dict[str, Any]:
    return {
        "id": inspection.id,
        "cylinder_id": cylinder_id,
        "report_number": inspection.report_number,
        "inspected_on": inspection.inspected_on.isoformat(),
        "result": inspection.result,
        "next_due": inspection.next_due.isoformat() if inspection.next_due else None,
        "sequence": inspection.sequence,
        "tag_uid": inspection.tag_uid,
        "submitted_at": inspection.submitted_at.isoformat(),
    }
