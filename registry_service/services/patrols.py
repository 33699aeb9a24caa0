"""Patrols: a grid officer (or the bureau) walks a station through the fixed checklist
(grading_rules: DEFAULT_CHECKLIST, or the rules file's) and the registry stores every item's result.

Every item is answered ("pass", "fail" or "na": not applicable here, e.g. no meter to compare), so a
patrol is the whole checklist or nothing. Each failed item opens a `patrol_failure` case on the
station, keyed "patrol:<station code>:<item>": the same item failing on the next patrol, while the
first case is still open, attaches to it as a repeat instead of opening another.
Grid officers record patrols only for stations inside their scope (services/grid_scope.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from registry_service.errors import Forbidden, InvalidInput
from registry_service.grading_rules import GradingRules
from registry_service.models import CaseKind, Patrol, Region, Role, Station
from registry_service.principal import Principal
from registry_service.services import audit, cases, grid_scope
from registry_service.services.places import region_by_code, station_by_code
from tag_tools.fields import FieldError, clean_text

PASS: Final = "pass"
FAIL: Final = "fail"
NOT_APPLICABLE: Final = "na"
RESULTS: Final = (PASS, FAIL, NOT_APPLICABLE)
NOTE_MAX: Final = 500
RECORDERS: Final = (Role.GRID, Role.BUREAU)


@dataclass(frozen=True)
class PatrolView:
    id: int
    station: str
    station_name: str
    officer: str
    at: datetime
    results: dict[str, str]
    notes: dict[str, str]
    failed: list[str]  # the failed items, in checklist order
    passed: bool
    cases: list[str]  # numbers of the cases the failed items opened or attached to (recording only)


@dataclass(frozen=True)
class PatrolPage:
    rows: list[PatrolView]
    total: int
    page: int
    page_size: int


def subject_key(station_code: str, item: str) -> str:
    return f"patrol:{station_code}:{item}"


def checked_results(rules: GradingRules, results: object, notes: object) -> tuple[dict[str, str], dict[str, str]]:
    """The results and notes as given, checked against the checklist: every item answered, none
    unknown, each result one of RESULTS; notes only for checklist items, plain text."""
    if not isinstance(results, Mapping):
        raise InvalidInput("results must be an object of checklist item -> pass | fail | na")
    if notes is None:
        notes = {}
    if not isinstance(notes, Mapping):
        raise InvalidInput("notes must be an object of checklist item -> text")
    items = set(rules.checklist)
    unknown = sorted(str(key) for key in set(results) - items) + sorted(str(key) for key in set(notes) - items)
    if unknown:
        raise InvalidInput(f"not on the checklist: {', '.join(unknown)}")
    missing = [item for item in rules.checklist if item not in results]
    if missing:
        raise InvalidInput(f"every checklist item needs a result; missing: {', '.join(missing)}")
    bad = [item for item in rules.checklist if results[item] not in RESULTS]
    if bad:
        raise InvalidInput(f"results must be one of {', '.join(RESULTS)}: {', '.join(bad)}")
    cleaned: dict[str, str] = {}
    for item in rules.checklist:
        if item not in notes:
            continue
        try:
            text = clean_text(notes[item], field=f"notes.{item}", max_len=NOTE_MAX)
        except FieldError as exc:
            raise InvalidInput(str(exc)) from None
        if text:
            cleaned[item] = text
    return {item: str(results[item]) for item in rules.checklist}, cleaned


def record_patrol(
    session: Session,
    principal: Principal,
    now: datetime,
    rules: GradingRules,
    *,
    station_code: str,
    results: object,
    notes: object = None,
) -> PatrolView:
    """Store a patrol of the station at `now`; each failed item opens or attaches to a case."""
    if principal.role not in RECORDERS:
        raise Forbidden("only grid people and the bureau record patrols")
    station = station_by_code(session, station_code)
    if not grid_scope.visible(principal, station.region.path):
        raise Forbidden("this station is outside your grid cells")
    answered, noted = checked_results(rules, results, notes)
    failed = [item for item in rules.checklist if answered[item] == FAIL]
    patrol = Patrol(
        station_id=station.id,
        officer_user_id=principal.user_id,
        officer=principal.username,
        at=now,
        results=answered,
        notes=noted,
        failed=len(failed),
        passed=not failed,
    )
    session.add(patrol)
    session.flush()
    numbers = []
    for item in failed:
        case = cases.open_or_attach(
            session,
            kind=CaseKind.PATROL_FAILURE.value,
            subject_key=subject_key(station.code, item),
            region_id=station.region_id,
            now=now,
            station_id=station.id,
            reason=item,
            detail=f"patrol {patrol.id}" + (f": {noted[item]}" if item in noted else ""),
            actor=principal.username,
        )
        numbers.append(case.number)
    audit.record(session, principal, "record_patrol", "patrol", patrol.id, now, station=station.code, failed=failed)
    return patrol_view(patrol, station, numbers)


def patrol_view(patrol: Patrol, station: Station, numbers: list[str] | None = None) -> PatrolView:
    """The patrol as shown; `numbers` are the cases its failed items opened or attached to."""
    results = dict(patrol.results)
    return PatrolView(
        id=patrol.id,
        station=station.code,
        station_name=station.name,
        officer=patrol.officer,
        at=patrol.at,
        results=results,
        notes=dict(patrol.notes),
        failed=[item for item, result in results.items() if result == FAIL],
        passed=patrol.passed,
        cases=numbers or [],
    )


def list_patrols(
    session: Session,
    principal: Principal,
    *,
    station: str | None = None,
    region: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    failed_only: bool = False,
    page: int = 1,
    page_size: int = 100,
) -> PatrolPage:
    """Patrols of the stations the principal sees, newest first."""
    where: list[ColumnElement[bool]] = [grid_scope.path_filter(principal, Region.path)]
    if station is not None:
        where.append(Patrol.station_id == station_by_code(session, station).id)
    if region is not None:
        path = region_by_code(session, region).path
        where.append(or_(Region.path == path, Region.path.startswith(path + "/", autoescape=True)))
    if since is not None:
        where.append(Patrol.at >= since)
    if until is not None:
        where.append(Patrol.at < until)
    if failed_only:
        where.append(Patrol.passed.is_(False))
    joined = Patrol.__table__.join(Station, Station.id == Patrol.station_id).join(Region, Region.id == Station.region_id)
    total = session.scalar(select(func.count()).select_from(joined).where(*where)) or 0
    rows = session.execute(
        select(Patrol, Station)
        .select_from(joined)
        .where(*where)
        .order_by(Patrol.at.desc(), Patrol.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return PatrolPage([patrol_view(patrol, st) for patrol, st in rows], int(total), page, page_size)


def to_json(view: PatrolView) -> dict[str, Any]:
    return {
        "id": view.id,
        "station": view.station,
        "station_name": view.station_name,
        "officer": view.officer,
        "at": view.at.isoformat(),
        "results": view.results,
        "notes": view.notes,
        "failed": view.failed,
        "passed": view.passed,
        "cases": view.cases,
    }
