"""Where cases come from: what the registry detects, turned into cases as it arrives (docs/grid.md).

Each hook is called by the service that stores the finding, in its transaction, with only the new
findings (a retried upload brings none), so case creation costs work per problem, never a scan of
all events: a refused fill of an overdue, failed, past-life or revoked cylinder; an override; a
clone suspect; a silent station or unexplained gas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.models import Case, CaseKind, Cylinder, Outcome, Station, Vehicle
from registry_service.services import cases

# Refusal reason codes (tag_tools/locale/reasons.json) that make a refused-cylinder case, and the
# case's reason for each, most serious first: a revoked cylinder's case says how (its state).
CYLINDER_REASONS: Final[Mapping[str, str]] = {
    "cylinder_revoked": "revoked",
    "inspection_failed": "failed",
    "past_service_life": "past_life",
    "inspection_overdue": "overdue",
}
# Every outcome where the check refused: an overridden fill also leaves the cylinder as it was.
REFUSING: Final = frozenset({Outcome.REFUSED, Outcome.WOULD_REFUSE, Outcome.OVERRIDDEN})
ALARM_KINDS: Final[Mapping[str, CaseKind]] = {
    "silent": CaseKind.SILENT_STATION,
    "unexplained_quantity": CaseKind.UNEXPLAINED_QUANTITY,
}


@dataclass(frozen=True)
class ProblemScan:
    """What a stored scan event says that matters to cases."""

    outcome: Outcome
    reasons: tuple[str, ...]
    cylinder_id: str | None
    plate: str | None
    occurred_at: datetime
    supervisor: str | None = None
    override_reason: str | None = None


def wanted(outcome: Outcome, reasons: Iterable[str]) -> bool:
    """Is this scan a case's business? (Cheap: called for every new event.)"""
    if outcome is Outcome.OVERRIDDEN:
        return True
    return outcome in REFUSING and any(reason in CYLINDER_REASONS for reason in reasons)


def from_scans(session: Session, station_id: int, scans: Sequence[ProblemScan], now: datetime) -> list[Case]:
    """Cases for one station's newly stored problem scans (the caller keeps only `wanted` ones)."""
    if not scans:
        return []
    station = session.get(Station, station_id)
    if station is None:
        return []
    ids = {scan.cylinder_id for scan in scans if scan.cylinder_id}
    plates = {scan.plate for scan in scans if scan.plate}
    cylinders = _cylinders(session, ids)
    homes = _vehicles_by_plate(session, plates)
    opened = []
    for scan in scans:
        if scan.outcome is Outcome.OVERRIDDEN:
            opened.append(_override(session, station, scan, now))
        if not scan.cylinder_id or not any(reason in CYLINDER_REASONS for reason in scan.reasons):
            continue
        cylinder = cylinders.get(scan.cylinder_id)
        vehicle_id, home = (cylinder[1], cylinder[2]) if cylinder else (None, None)
        if home is None and scan.plate in homes:
            vehicle_id, home = homes[scan.plate]
        opened.append(
            cases.open_or_attach(
                session,
                kind=CaseKind.REFUSED_CYLINDER.value,
                subject_key=f"cylinder:{scan.cylinder_id}",
                region_id=home or station.region_id,
                now=now,
                station_id=station.id,
                cylinder_pk=cylinder[0] if cylinder else None,
                vehicle_id=vehicle_id,
                reason=_cylinder_reason(scan.reasons, cylinder[3] if cylinder else None),
                detail=_scan_detail(station, scan),
            )
        )
    return opened


def from_suspects(session: Session, suspects: Iterable[Mapping[str, Any]], now: datetime) -> list[Case]:
    """Cases for clone suspects just stored (services/clones.py `_Findings.found` rows)."""
    opened = []
    for suspect in suspects:
        station = session.get(Station, suspect["station_id"])
        if station is None:
            continue
        cylinder = _cylinders(session, {suspect["key"]}).get(suspect["key"]) if suspect["key_type"] == "cylinder_id" else None
        opened.append(
            cases.open_or_attach(
                session,
                kind=CaseKind.CLONE_SUSPECT.value,
                subject_key=f"clone:{suspect['key']}",
                region_id=(cylinder[2] if cylinder and cylinder[2] else None) or station.region_id,
                now=now,
                station_id=station.id,
                cylinder_pk=cylinder[0] if cylinder else None,
                vehicle_id=cylinder[1] if cylinder else None,
                reason=str(suspect["kind"]),
                detail=f"{suspect['key_type']} {suspect['key']} at {station.code}",
            )
        )
    return opened


def from_alarm(session: Session, *, station_id: int, pump: int | None, kind: str, now: datetime, detail: str = "") -> Case | None:
    """A case for a newly opened station alarm (services/station_alarms.open_alarm)."""
    case_kind = ALARM_KINDS.get(kind)
    station = session.get(Station, station_id)
    if case_kind is None or station is None:
        return None
    subject = f"silent:{station.code}" if case_kind is CaseKind.SILENT_STATION else f"meter:{station.code}:{pump}"
    return cases.open_or_attach(
        session,
        kind=case_kind.value,
        subject_key=subject,
        region_id=station.region_id,
        now=now,
        station_id=station.id,
        reason=kind,
        detail=detail,
    )


def _override(session: Session, station: Station, scan: ProblemScan, now: datetime) -> Case:
    reason = next((r for r in scan.reasons if r), None)
    return cases.open_or_attach(
        session,
        kind=CaseKind.OVERRIDE.value,
        subject_key=f"override:{station.code}",
        region_id=station.region_id,
        now=now,
        station_id=station.id,
        reason=reason,
        detail=f"{_scan_detail(station, scan)}; supervisor {scan.supervisor or '?'}: {scan.override_reason or ''}",
    )


def _cylinder_reason(reasons: Sequence[str], state: str | None) -> str:
    for code, reason in CYLINDER_REASONS.items():
        if code in reasons:
            return state if reason == "revoked" and state and state != "active" else reason
    return "refused"


def _scan_detail(station: Station, scan: ProblemScan) -> str:
    return f"{scan.occurred_at:%Y-%m-%dT%H:%MZ} {station.code} {scan.cylinder_id or '-'} {scan.plate or '-'} {','.join(scan.reasons)}"


def _cylinders(session: Session, ids: set[str]) -> dict[str, tuple[int, int | None, int | None, str]]:
    """cylinder ID -> (pk, vehicle id, the vehicle's home region, state), registered ones only."""
    if not ids:
        return {}
    rows = session.execute(
        select(Cylinder.cylinder_id, Cylinder.id, Cylinder.vehicle_id, Vehicle.region_id, Cylinder.state)
        .outerjoin(Vehicle, Vehicle.id == Cylinder.vehicle_id)
        .where(Cylinder.cylinder_id.in_(sorted(ids)))
    )
    return {row[0]: (row[1], row[2], row[3], str(row[4].value if hasattr(row[4], "value") else row[4])) for row in rows}


def _vehicles_by_plate(session: Session, plates: set[str]) -> dict[str, tuple[int, int | None]]:
    if not plates:
        return {}
    rows = session.execute(select(Vehicle.plate, Vehicle.id, Vehicle.region_id).where(Vehicle.plate.in_(sorted(plates))))
    return {row[0]: (row[1], row[2]) for row in rows}
