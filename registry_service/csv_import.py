"""CSV import of vehicles, cylinders and stations (`cylinder-registry import KIND FILE`).

Files are read by the clerk's reader (tag_tools.clerk_csv: UTF-8 with or without BOM, or GBK /
GB18030 as Chinese Excel saves "CSV"), and cells are checked in the clerk's words
(tag_tools.clerk_cells). Each row is its own savepoint: a bad row is kept, as typed, with its
reason, for a file of refused rows the clerk corrects and imports again; the others load. Columns
are documented in docs/registry.md. Plates, VINs, cylinder IDs and tag UIDs are stored in
canonical form (tag_tools.identifiers, applied by services.registration): "粤b 12345" in one file
and "粤B12345" in another are one vehicle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from registry_service import contact_import, grid_import
from registry_service.errors import InvalidInput, RegistryError
from registry_service.services import audit, places
from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle
from tag_tools import clerk_cells, clerk_csv
from tag_tools.clerk_cells import RowCells, RowError
from tag_tools.clerk_csv import ClerkRow, ClerkTable

KINDS = ("vehicles", "cylinders", "stations", "owner-contacts", "grid-people")
COLUMNS = {
    "vehicles": ("plate", "vin", "use", "region"),
    "cylinders": (
        "cylinder_id",
        "serial",
        "manufacturer",
        "kind",
        "manufactured_on",
        "end_of_life",
        "next_due",
        "tag_uid",
        "plate",
        "position",
    ),
    "stations": ("code", "name", "region", "latitude", "longitude", "pumps", "opening_hours"),
    "owner-contacts": contact_import.COLUMNS,
    "grid-people": grid_import.COLUMNS,
}
REQUIRED = {
    "vehicles": ("plate",),
    "cylinders": ("cylinder_id", "serial", "manufactured_on", "end_of_life"),
    "stations": ("code", "name", "region"),
    "owner-contacts": contact_import.REQUIRED,
    "grid-people": grid_import.REQUIRED,
}
VEHICLE_USES = ("private", "taxi", "bus", "truck", "other")


@dataclass
class ImportReport:
    kind: str
    table: ClerkTable
    imported: int = 0
    rejected: list[tuple[ClerkRow, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[tuple[int, str]]:
        """(line, reason) of each refused row."""
        return [(row.line, reason) for row, reason in self.rejected]

    def rejects_csv(self) -> bytes:
        """The refused rows as typed, with an error column, to correct and import again."""
        return clerk_csv.rejects_csv(self.table, self.rejected)

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "read": len(self.table.rows), "imported": self.imported, "rejected": len(self.rejected)}


def import_csv(
    sessions: sessionmaker[Session],
    kind: str,
    path: Path,
    now: datetime,
    actor: str,
    progress: bool = True,
    language: str = clerk_csv.DEFAULT_LANGUAGE,
) -> ImportReport:
    """Import every good row of `path`; InvalidInput when the file as a whole cannot be read."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    try:
        table = clerk_csv.read(path.read_bytes(), language)
        clerk_csv.check_columns(table, REQUIRED[kind], COLUMNS[kind], language)
    except clerk_csv.ClerkFileError as exc:
        raise InvalidInput(f"{path.name}: {exc}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    report = ImportReport(kind, table)
    handler = _HANDLERS[kind]
    with sessions.begin() as session:
        for row in tqdm(table.rows, desc=f"import {kind}", unit="row", disable=not progress):
            try:
                with session.begin_nested():
                    handler(session, RowCells(row, language), now, actor)
                report.imported += 1
            except RowError as exc:
                report.rejected.append((row, str(exc)))
            except RegistryError as exc:
                report.rejected.append((row, exc.detail))
            except (ValueError, IntegrityError) as exc:
                report.rejected.append((row, str(exc).splitlines()[0][:200]))
        audit.record(
            session, actor, f"import_{kind}", "file", path.name, now, imported=report.imported, failed=len(report.rejected)
        )
    return report


def _vehicle(session: Session, cells: RowCells, now: datetime, actor: str) -> None:
    plate = cells.get("plate", clerk_cells.plate, required=True)
    vin = cells.get("vin", clerk_cells.vin)
    use = cells.get("use", clerk_cells.one_of(*VEHICLE_USES)) or "private"
    region = cells.get("region", clerk_cells.text)
    cells.done()
    assert plate is not None  # required: done() refused the row otherwise
    region_id = places.region_by_code(session, region).id if region else None
    upsert_vehicle(session, plate, vin, use, region_id)


def _cylinder(session: Session, cells: RowCells, now: datetime, actor: str) -> None:
    cylinder_id = cells.get("cylinder_id", clerk_cells.cylinder_id, required=True)
    serial = cells.get("serial", clerk_cells.text, required=True)
    manufacturer = cells.get("manufacturer", clerk_cells.text) or ""
    kind = cells.get("kind", clerk_cells.cylinder_kind)
    manufactured_on = cells.get("manufactured_on", clerk_cells.day, required=True)
    end_of_life = cells.get("end_of_life", clerk_cells.day, required=True)
    next_due = cells.get("next_due", clerk_cells.day)
    tag_uid = cells.get("tag_uid", clerk_cells.tag_uid)
    plate = cells.get("plate", clerk_cells.plate)
    position = cells.get("position", clerk_cells.whole_number)
    cells.done()
    assert cylinder_id is not None and serial is not None and manufactured_on is not None and end_of_life is not None
    upsert_cylinder(
        session,
        CylinderIn(
            cylinder_id=cylinder_id,
            serial=serial,
            manufacturer=manufacturer,
            kind=kind.label if kind is not None else "CNG-2",
            manufactured_on=manufactured_on,
            end_of_life=end_of_life,
            next_due=next_due,
            tag_uid=tag_uid,
            plate=plate,
            position=1 if position is None else position,
        ),
    )


def _station(session: Session, cells: RowCells, now: datetime, actor: str) -> None:
    code = cells.get("code", clerk_cells.text, required=True)
    name = cells.get("name", clerk_cells.text, required=True)
    region = cells.get("region", clerk_cells.text, required=True)
    latitude = cells.get("latitude", clerk_cells.decimal_in(-90, 90))
    longitude = cells.get("longitude", clerk_cells.decimal_in(-180, 180))
    pumps = cells.get("pumps", clerk_cells.whole_number)
    opening_hours = cells.get("opening_hours", clerk_cells.text)  # checked by create_station
    cells.done()
    assert code is not None and name is not None and region is not None
    places.create_station(
        session,
        actor,
        now,
        code=code,
        name=name,
        region_code=region,
        latitude=latitude,
        longitude=longitude,
        pumps=2 if pumps is None else pumps,
        opening_hours=opening_hours,
    )


_HANDLERS: dict[str, Callable[[Session, RowCells, datetime, str], None]] = {
    "vehicles": _vehicle,
    "cylinders": _cylinder,
    "stations": _station,
    "owner-contacts": contact_import.owner_contact_row,
    "grid-people": grid_import.grid_person_row,
}
