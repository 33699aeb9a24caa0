"""CSV import of vehicles, cylinders and stations (`cylinder-registry import KIND FILE`).

Each row is its own savepoint: a bad row is reported with its line number and reason and the
others still load. Columns are documented in docs/registry.md; UTF-8 with or without BOM.
Plates, VINs, cylinder IDs and tag UIDs are stored in canonical form (tag_tools.identifiers, applied
by services.registration): "粤b 12345" in one file and "粤B12345" in another are one vehicle.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from registry_service.errors import InvalidInput, RegistryError
from registry_service.services import audit, places
from registry_service.services.registration import CylinderIn, canonical, upsert_cylinder, upsert_vehicle
from tag_tools import identifiers

KINDS = ("vehicles", "cylinders", "stations")
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
    "stations": ("code", "name", "region", "latitude", "longitude", "pumps"),
}
REQUIRED = {
    "vehicles": ("plate",),
    "cylinders": ("cylinder_id", "serial", "manufactured_on", "end_of_life"),
    "stations": ("code", "name", "region"),
}


@dataclass
class ImportReport:
    kind: str
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "imported": self.imported,
            "failed": len(self.errors),
            "errors": [{"line": line, "error": error} for line, error in self.errors],
        }


def import_csv(
    sessions: sessionmaker[Session], kind: str, path: Path, now: datetime, actor: str, progress: bool = True
) -> ImportReport:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    report = ImportReport(kind)
    handler = _HANDLERS[kind]
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(_rows(stream, kind))
    with sessions.begin() as session:
        for line, row in tqdm(rows, desc=f"import {kind}", unit="row", disable=not progress):
            if isinstance(row, str):
                report.errors.append((line, row))
                continue
            try:
                with session.begin_nested():
                    handler(session, row, now, actor)
                report.imported += 1
            except RegistryError as exc:
                report.errors.append((line, exc.detail))
            except (ValueError, IntegrityError) as exc:
                report.errors.append((line, str(exc).splitlines()[0][:200]))
        audit.record(
            session, actor, f"import_{kind}", "file", path.name, now, imported=report.imported, failed=len(report.errors)
        )
    return report


def _rows(stream: TextIO, kind: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    reader = csv.DictReader(stream)
    header = set(reader.fieldnames or ())
    missing = set(REQUIRED[kind]) - header
    if missing:
        raise InvalidInput(f"the file lacks column(s): {', '.join(sorted(missing))}")
    unknown = header - set(COLUMNS[kind])
    if unknown:
        raise InvalidInput(f"unknown column(s): {', '.join(sorted(unknown))}")
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, "more fields than columns"
            continue
        cleaned = {k: (v or "").strip() for k, v in row.items()}
        absent = [c for c in REQUIRED[kind] if not cleaned.get(c)]
        yield line, (f"missing {', '.join(absent)}" if absent else cleaned)


def _date(row: dict[str, str], key: str) -> date | None:
    if not row.get(key):
        return None
    try:
        return date.fromisoformat(row[key])
    except ValueError as exc:
        raise InvalidInput(f"{key} {row[key]!r} is not a date YYYY-MM-DD") from exc


def _required_date(row: dict[str, str], key: str) -> date:
    value = _date(row, key)
    if value is None:
        raise InvalidInput(f"{key} is required")
    return value


def _vehicle(session: Session, row: dict[str, str], now: datetime, actor: str) -> None:
    region_id = places.region_by_code(session, row["region"]).id if row.get("region") else None
    use = row.get("use") or "private"
    if use not in ("private", "taxi", "bus", "truck", "other"):
        raise InvalidInput(f"use {use!r} is not private, taxi, bus, truck or other")
    upsert_vehicle(session, row["plate"], row.get("vin") or None, use, region_id)


def _cylinder(session: Session, row: dict[str, str], now: datetime, actor: str) -> None:
    cylinder_id = canonical(identifiers.cylinder_id, row["cylinder_id"], "cylinder_id")
    tag_uid = canonical(identifiers.tag_uid, row["tag_uid"], "tag_uid") if row.get("tag_uid") else None
    position = row.get("position") or "1"
    if not position.isdigit():
        raise InvalidInput("position must be a number")
    upsert_cylinder(
        session,
        CylinderIn(
            cylinder_id=cylinder_id,
            serial=row["serial"],
            manufacturer=row.get("manufacturer", ""),
            kind=row.get("kind") or "CNG-2",
            manufactured_on=_required_date(row, "manufactured_on"),
            end_of_life=_required_date(row, "end_of_life"),
            next_due=_date(row, "next_due"),
            tag_uid=tag_uid,
            plate=row.get("plate") or None,
            position=int(position),
        ),
    )


def _station(session: Session, row: dict[str, str], now: datetime, actor: str) -> None:
    def number(key: str) -> float | None:
        try:
            return float(row[key]) if row.get(key) else None
        except ValueError as exc:
            raise InvalidInput(f"{key} {row[key]!r} is not a number") from exc

    pumps = row.get("pumps") or "2"
    if not pumps.isdigit():
        raise InvalidInput("pumps must be a number")
    places.create_station(
        session,
        actor,
        now,
        code=row["code"],
        name=row["name"],
        region_code=row["region"],
        latitude=number("latitude"),
        longitude=number("longitude"),
        pumps=int(pumps),
    )


_HANDLERS: dict[str, Callable[[Session, dict[str, str], datetime, str], None]] = {
    "vehicles": _vehicle,
    "cylinders": _cylinder,
    "stations": _station,
}
