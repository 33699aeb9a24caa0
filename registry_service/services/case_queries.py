"""Reading cases: the filtered list (keyset-paged, newest opened first), one case with its timeline,
as plain values for the API, Open311 and the dashboard (docs/grid.md).

What a caller sees is its scope (services/grid_scope.py over the handling region): the bureau
every case, a grid user the cases its regions' subtrees must act on, anyone else none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, aliased

from registry_service.errors import InvalidInput
from registry_service.models import Case, CaseKind, CaseState, CaseStep, Cylinder, Region, Station, User, Vehicle
from registry_service.principal import Principal
from registry_service.services import cases, grid_scope
from registry_service.services.places import region_by_code
from registry_service.services.queries import cursor_fields, encode_cursor

OPEN: Final = "open"  # a state filter meaning every state but closed
STATES: Final = (*(state.value for state in CaseState), OPEN)
KINDS: Final = tuple(kind.value for kind in CaseKind)


@dataclass(frozen=True)
class CaseFilter:
    kind: str | None = None
    state: str | None = None  # a CaseState, or "open"
    region: str | None = None  # a region code: cases found in its subtree
    overdue: bool | None = None
    since: datetime | None = None  # opened at or after
    until: datetime | None = None  # opened before
    mine: bool = False  # only the caller's own (assigned to it)

    def check(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidInput(f"kind must be one of: {', '.join(KINDS)}")
        if self.state is not None and self.state not in STATES:
            raise InvalidInput(f"state must be one of: {', '.join(STATES)}")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidInput("until must be after since")


_found = aliased(Region, name="found")
_handling = aliased(Region, name="handling")


def list_cases(
    session: Session, principal: Principal, flt: CaseFilter, now: datetime, limit: int, cursor: str | None
) -> dict[str, Any]:
    flt.check()
    where = _conditions(session, principal, flt)
    if cursor:
        opened_at, case_id = decode_cursor(cursor)
        where.append(or_(Case.opened_at < opened_at, (Case.opened_at == opened_at) & (Case.id < case_id)))
    rows = _page(session, principal, where, limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1][0].opened_at, page[-1][0].id) if len(rows) > limit else None
    return {"cases": [_json(row, now) for row in page], "next_cursor": next_cursor}


def case_detail(session: Session, principal: Principal, number: str, now: datetime) -> dict[str, Any]:
    """One case the caller may see, with its timeline (oldest step first)."""
    case = cases.case_by_number(session, principal, number)
    row = session.execute(_selected(principal).where(Case.id == case.id)).one()
    steps = session.scalars(select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.at, CaseStep.id))
    return _json(row, now) | {"steps": [step_json(step) for step in steps]}


def rows_for(session: Session, principal: Principal, flt: CaseFilter, limit: int) -> Sequence[Any]:
    """The newest `limit` cases matching `flt` as rows (case, codes, names ...): for Open311."""
    flt.check()
    return _page(session, principal, _conditions(session, principal, flt), limit)


def row_for(session: Session, principal: Principal, number: str) -> Any:
    case = cases.case_by_number(session, principal, number)
    return session.execute(_selected(principal).where(Case.id == case.id)).one()


def step_json(step: CaseStep) -> dict[str, Any]:
    return {
        "at": step.at.isoformat(),
        "action": step.action,
        "actor": step.actor,
        "note": step.note,
        "photo_sha256": step.photo_sha256,
    }


def region_name_paths(session: Session, paths: Iterable[str]) -> dict[str, str]:
    """Region path -> its names from the top down ("郑州市 金水区 经八路街道"), in one query."""
    wanted = {path: path.split("/") for path in set(paths)}
    codes = {code for parts in wanted.values() for code in parts}
    names = dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(sorted(codes)))).all()) if codes else {}
    return {path: " ".join(names.get(code, code) for code in parts) for path, parts in wanted.items()}


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        when, ident = cursor_fields(cursor)  # ValueError unless exactly two
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None or not 2000 <= parsed.year <= 2199 or not ident.isascii() or not ident.isdigit():
            raise ValueError("not ours")
        number = int(ident)
        if number > 2**62:
            raise ValueError("out of range")
        return parsed, number
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this registry issued") from exc


def _page(session: Session, principal: Principal, where: list[Any], limit: int) -> Sequence[Any]:
    """The newest `limit` visible cases matching `where`, as _selected rows.

    Two statements on purpose: the page's ids from cases alone, then the joins for those rows only.
    As one eight-table statement PostgreSQL spent 25-80 ms planning it for 2 ms of execution
    (bench/bench_cases.py, docs/performance.md "Grid cases")."""
    newest = (Case.opened_at.desc(), Case.id.desc())
    ids = session.scalars(
        select(Case.id)
        .join(_handling, _handling.id == Case.handling_region_id)
        .where(grid_scope.path_filter(principal, _handling.path), *where)
        .order_by(*newest)
        .limit(limit)
    ).all()
    if not ids:
        return []
    return session.execute(_selected(principal).where(Case.id.in_(ids)).order_by(*newest)).all()


def _selected(principal: Principal) -> Select[*tuple[Any, ...]]:
    assignee = aliased(User, name="assignee")
    return (
        select(
            Case,
            _found.code,
            _found.name,
            _found.path,
            _handling.code,
            _handling.name,
            Station.code,
            Station.latitude,
            Station.longitude,
            Cylinder.cylinder_id,
            Vehicle.plate,
            assignee.username,
        )
        .join(_found, _found.id == Case.region_id)
        .join(_handling, _handling.id == Case.handling_region_id)
        .outerjoin(Station, Station.id == Case.station_id)
        .outerjoin(Cylinder, Cylinder.id == Case.cylinder_pk)
        .outerjoin(Vehicle, Vehicle.id == Case.vehicle_id)
        .outerjoin(assignee, assignee.id == Case.assignee_user_id)
        .where(grid_scope.path_filter(principal, _handling.path))
    )


def _conditions(session: Session, principal: Principal, flt: CaseFilter) -> list[Any]:
    where: list[Any] = []
    if flt.kind is not None:
        where.append(Case.kind == flt.kind)
    if flt.state == OPEN:
        where.append(Case.state != CaseState.CLOSED.value)
    elif flt.state is not None:
        where.append(Case.state == flt.state)
    if flt.region is not None:
        top = region_by_code(session, flt.region).path
        under = select(Region.id).where(or_(Region.path == top, Region.path.startswith(top + "/", autoescape=True)))
        where.append(Case.region_id.in_(under))
    if flt.overdue is not None:
        where.append(Case.overdue.is_(flt.overdue))
    if flt.since is not None:
        where.append(Case.opened_at >= flt.since)
    if flt.until is not None:
        where.append(Case.opened_at < flt.until)
    if flt.mine:
        where.append(Case.assignee_user_id == principal.user_id)
    return where


def _json(row: Any, now: datetime) -> dict[str, Any]:
    case: Case = row[0]
    late = case.due_at is not None and case.due_at <= now
    return {
        "number": case.number,
        "kind": case.kind,
        "state": case.state,
        "region": row[1],
        "region_name": row[2],
        "handling_region": row[4],
        "handling_region_name": row[5],
        "escalations": case.escalations,
        "station": row[6],
        "cylinder_id": row[9],
        "plate": row[10],
        "reason": case.reason,
        "detail": case.detail,
        "opened_at": case.opened_at.isoformat(),
        "state_since": case.state_since.isoformat(),
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "overdue": case.overdue or late,
        "accepted_at": case.accepted_at.isoformat() if case.accepted_at else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "repeats": case.repeats,
        "last_seen_at": case.last_seen_at.isoformat(),
        "assignee": row[11],
    }
