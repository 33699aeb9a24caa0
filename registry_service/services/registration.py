"""Registering vehicles and cylinders outside inspections: bulk import and the demo seed.

Plates, VINs, cylinder IDs and tag UIDs are stored in their canonical form (tag_tools.identifiers)
whatever the caller passed, so the same vehicle typed two ways is one row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, InvalidInput
from registry_service.models import Cylinder, CylinderState, Vehicle
from tag_tools import identifiers


@dataclass(frozen=True)
class CylinderIn:
    cylinder_id: str
    serial: str
    manufactured_on: date
    end_of_life: date
    next_due: date | None
    manufacturer: str = ""
    kind: str = "CNG-2"
    tag_uid: str | None = None
    plate: str | None = None
    position: int = 1
    last_result: str | None = "pass"
    state: CylinderState = CylinderState.ACTIVE

    def check(self) -> None:
        if self.end_of_life <= self.manufactured_on:
            raise InvalidInput("end_of_life must be after manufactured_on")
        if self.last_result not in (None, "pass", "fail"):
            raise InvalidInput("last_result must be pass or fail")
        if not 1 <= self.position <= 8:
            raise InvalidInput("position must be 1..8")

    def canonical(self) -> CylinderIn:
        """The same registration with its identifiers in canonical form; InvalidInput names a bad one."""
        return replace(
            self,
            cylinder_id=canonical(identifiers.cylinder_id, self.cylinder_id, "cylinder_id"),
            tag_uid=canonical(identifiers.tag_uid, self.tag_uid, "tag_uid") if self.tag_uid else None,
            plate=canonical(identifiers.plate, self.plate, "plate") if self.plate else None,
        )


def canonical(check: Callable[[object, str], str], value: object, field: str) -> str:
    """`check(value)` (a tag_tools.identifiers function) with its error as InvalidInput."""
    try:
        return check(value, field)
    except identifiers.IdentifierError as exc:
        raise InvalidInput(str(exc)) from None


def upsert_vehicle(session: Session, plate: str, vin: str | None, use: str, region_id: int | None) -> Vehicle:
    plate = canonical(identifiers.plate, plate, "plate")
    vin = canonical(identifiers.vin, vin, "vin") if vin else None
    vehicle = session.scalar(select(Vehicle).where(Vehicle.plate == plate))
    if vin:
        other = session.scalar(select(Vehicle).where(Vehicle.vin == vin))
        if other is not None and other.plate != plate:
            raise Conflict(f"VIN {vin} is registered to {other.plate}")
    if vehicle is None:
        vehicle = Vehicle(plate=plate, vin=vin, use=use, region_id=region_id)
        session.add(vehicle)
    else:
        vehicle.vin, vehicle.use, vehicle.region_id = vin or vehicle.vin, use, region_id or vehicle.region_id
    session.flush()
    return vehicle


def upsert_cylinder(session: Session, data: CylinderIn) -> Cylinder:
    data.check()
    data = data.canonical()
    vehicle_id = None
    if data.plate:
        vehicle_id = session.scalar(select(Vehicle.id).where(Vehicle.plate == data.plate))
        if vehicle_id is None:
            raise InvalidInput(f"no vehicle with plate {data.plate}: import vehicles first")
    if data.tag_uid:
        other = session.scalar(select(Cylinder.cylinder_id).where(Cylinder.tag_uid == data.tag_uid))
        if other is not None and other != data.cylinder_id:
            raise Conflict(f"tag {data.tag_uid} is already bound to cylinder {other}")
    cylinder = session.scalar(select(Cylinder).where(Cylinder.cylinder_id == data.cylinder_id))
    if cylinder is None:
        cylinder = Cylinder(cylinder_id=data.cylinder_id, record_sequence=0)
        session.add(cylinder)
    cylinder.serial, cylinder.manufacturer, cylinder.kind = data.serial, data.manufacturer, data.kind
    cylinder.manufactured_on, cylinder.end_of_life, cylinder.next_due = data.manufactured_on, data.end_of_life, data.next_due
    cylinder.tag_uid, cylinder.vehicle_id, cylinder.position = data.tag_uid, vehicle_id, data.position
    cylinder.last_result, cylinder.state = data.last_result, data.state
    session.flush()
    return cylinder
