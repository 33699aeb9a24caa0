"""Cases: open one per problem (repeats attach), move it through the workflow, escalate it when a
step's deadline passes, and close it when the problem goes away (docs/grid.md).

The workflow is reported -> accepted -> dispatched -> handled -> verified -> closed. Who may take a
step (TRANSITIONS, `_require_actor`): the bureau, and a grid user whose scope holds the case's
handling region; a case outside a grid user's scope does not exist for it (NotFound, so numbers
cannot be probed). Verification is never by the person who recorded the handling (four eyes).

Time is a parameter everywhere (`now`); deadlines come from registry_service/case_rules.py.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from registry_service import case_rules
from registry_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry_service.models import Case, CaseAction, CaseKind, CaseState, CaseStep, Region, Role, User
from registry_service.principal import Principal
from registry_service.services import grid_scope

SYSTEM: Final = "system"
DEFAULT_ZONE: Final = ZoneInfo("Asia/Shanghai")  # the day in a case number; the registry passes its own
MAX_NOTE: Final = 2000
MAX_DETAIL: Final = 1000
MAX_SUBJECT: Final = 160
SWEEP_BATCH: Final = 500  # cases escalated per transaction by sweep_deadlines
# Each workflow action: the state it starts from and the state it leads to.
TRANSITIONS: Final[dict[str, tuple[CaseState, CaseState]]] = {
    CaseAction.ACCEPTED.value: (CaseState.REPORTED, CaseState.ACCEPTED),
    CaseAction.DISPATCHED.value: (CaseState.ACCEPTED, CaseState.DISPATCHED),
    CaseAction.HANDLED.value: (CaseState.DISPATCHED, CaseState.HANDLED),
    CaseAction.VERIFIED.value: (CaseState.HANDLED, CaseState.VERIFIED),
    CaseAction.CLOSED.value: (CaseState.VERIFIED, CaseState.CLOSED),
}
# What a person may ask for: the workflow's actions and a note.
ACTIONS: Final = (*TRANSITIONS, CaseAction.NOTE.value)
# The actions that need a note: what was done, and why a case is verified.
NOTE_REQUIRED: Final = frozenset({CaseAction.HANDLED.value, CaseAction.NOTE.value})
_OPEN_SQL: Final = text("state <> 'closed'")


class CaseConflict(Conflict):
    """The action does not fit the case's state (409)."""


class CaseForbidden(Forbidden):
    """The caller may see the case but not take this step (403)."""


class CaseInvalid(InvalidInput):
    """A bad action, note or assignee (422)."""


@dataclass(frozen=True)
class StoredPhoto:
    """A photo already written under the registry's data dir (services/case_photos.py)."""

    path: str  # relative to the data dir
    sha256: str


def open_or_attach(
    session: Session,
    *,
    kind: str,
    subject_key: str,
    region_id: int,
    now: datetime,
    station_id: int | None = None,
    cylinder_pk: int | None = None,
    vehicle_id: int | None = None,
    reason: str | None = None,
    detail: str = "",
    actor: str = SYSTEM,
    rules: case_rules.CaseRules | None = None,
    zone: tzinfo = DEFAULT_ZONE,
) -> Case:
    """The subject's open case with this sighting attached (repeats + 1, a "repeat" step), or a new
    case in `region_id`, reported now. Race-free: the partial unique index on subject_key decides
    which of two concurrent openers creates it; the other attaches."""
    if kind not in _KINDS:
        raise CaseInvalid(f"kind must be one of: {', '.join(sorted(_KINDS))}")
    if not subject_key or len(subject_key) > MAX_SUBJECT:
        raise CaseInvalid(f"subject_key must be 1 to {MAX_SUBJECT} characters")
    detail = detail[:MAX_DETAIL]
    reason = reason[:64] if reason else None
    due = (rules or case_rules.active()).deadline(kind, CaseState.REPORTED)
    values = {
        "number": f"~{uuid.uuid4().hex[:28]}",  # replaced below, once the id is known
        "kind": kind,
        "subject_key": subject_key,
        "state": CaseState.REPORTED.value,
        "region_id": region_id,
        "handling_region_id": region_id,
        "escalations": 0,
        "station_id": station_id,
        "cylinder_pk": cylinder_pk,
        "vehicle_id": vehicle_id,
        "reason": reason,
        "detail": detail,
        "opened_at": now,
        "state_since": now,
        "due_at": now + due if due is not None else None,
        "overdue": False,
        "repeats": 0,
        "last_seen_at": now,
    }
    new_id = session.execute(_insert_if_no_open_case(session).values(values).returning(Case.id)).scalar()
    if new_id is None:
        return _attach(session, subject_key, now, actor, reason, detail)
    session.execute(update(Case).where(Case.id == new_id).values(number=_number(session, region_id, now, zone, new_id)))
    case = session.get(Case, new_id, populate_existing=True)
    assert case is not None  # just inserted in this transaction
    _step(session, case, CaseAction.REPORTED, actor, now, detail)
    if kind == CaseKind.REFUSED_CYLINDER:
        _tell_owner(session, case, now)
    return case


def transition(
    session: Session,
    case: Case,
    action: str,
    principal: Principal,
    now: datetime,
    note: str = "",
    photo: StoredPhoto | None = None,
    *,
    assignee: str | None = None,
    rules: case_rules.CaseRules | None = None,
) -> Case:
    """Take one workflow step (or add a note) as `principal`; raises NotFound when the case is
    outside the caller's scope, CaseForbidden/CaseConflict/CaseInvalid when the step is refused."""
    if not visible(session, principal, case):
        raise NotFound(f"no case {case.number}")
    if action not in ACTIONS:
        raise CaseInvalid(f"action must be one of: {', '.join(ACTIONS)}")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise CaseInvalid(f"a note is at most {MAX_NOTE} characters")
    if action in NOTE_REQUIRED and not note:
        raise CaseInvalid(f"{action} needs a note saying what was done")
    if case.state == CaseState.CLOSED:
        raise CaseConflict(f"case {case.number} is closed")
    if assignee is not None and action != CaseAction.DISPATCHED:
        raise CaseInvalid("only dispatched names an assignee")
    _require_actor(session, principal, case, action)
    if action == CaseAction.NOTE:
        _step(session, case, CaseAction.NOTE, principal.username, now, note, photo)
        return case
    start, target = TRANSITIONS[action]
    if case.state != start:
        raise CaseConflict(f"case {case.number} is {case.state}: {action} follows {start.value}")
    if action == CaseAction.DISPATCHED:
        case.assignee_user_id = _assignee(session, principal, case, assignee)
    _move(case, target, now, rules)
    _step(session, case, CaseAction(action), principal.username, now, note, photo)
    return case


def sweep_deadlines(session: Session, now: datetime, rules: case_rules.CaseRules | None = None, limit: int = 500) -> list[Case]:
    """Escalate the open cases whose step deadline has passed: one level up (cell -> street ->
    district -> city), marked overdue, with an "escalated" step and a fresh deadline for the same
    step at the new level. At the top there is no one to escalate to: the case stays overdue and
    waits without a deadline. Returns the cases it touched (at most `limit` a round)."""
    rules = rules or case_rules.active()
    query = (
        select(Case)
        .where(Case.due_at.is_not(None), Case.due_at <= now, Case.state != CaseState.CLOSED.value)
        .order_by(Case.due_at, Case.id)
        .limit(limit or SWEEP_BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several nodes sweep: each takes other cases
    touched = list(session.scalars(query))
    for case in touched:
        case.overdue = True
        handling = session.get(Region, case.handling_region_id)
        parent = session.get(Region, handling.parent_id) if handling is not None and handling.parent_id is not None else None
        if parent is None:
            case.due_at = None
            continue
        case.handling_region_id = parent.id
        case.escalations += 1
        step = rules.deadline(case.kind, case.state)
        case.due_at = now + step if step is not None else None
        note = f"{handling.code if handling else '?'} -> {parent.code}"
        _step(session, case, CaseAction.ESCALATED, SYSTEM, now, note)
    return touched


def close_for_cylinder(
    session: Session, cylinder_pk: int, now: datetime, why: str, *, reasons: frozenset[str] | None = None
) -> Case | None:
    """The cylinder's problem went away (a passing inspection, a scrapping): its open
    refused_cylinder case is verified and closed by the registry. `reasons`: only a case opened for
    one of these (a passing inspection ends an overdue or failed cylinder's case, not a past-life one)."""
    case = session.scalar(
        select(Case).where(
            Case.cylinder_pk == cylinder_pk, Case.kind == CaseKind.REFUSED_CYLINDER.value, Case.state != CaseState.CLOSED.value
        )
    )
    if case is None or (reasons is not None and case.reason not in reasons):
        return None
    if case.accepted_at is None:  # the registry itself takes it on as it settles it (counts as 立案)
        case.accepted_at = now
    case.state = CaseState.VERIFIED.value
    _step(session, case, CaseAction.VERIFIED, SYSTEM, now, why[:MAX_NOTE])
    _move(case, CaseState.CLOSED, now, None)
    _step(session, case, CaseAction.CLOSED, SYSTEM, now, "")
    return case


def add_system_step(session: Session, case: Case, action: CaseAction, now: datetime, note: str) -> CaseStep:
    """A step the registry records on a case (e.g. a "notice" step saying no owner could be told)."""
    return _step(session, case, action, SYSTEM, now, note[:MAX_NOTE])


def visible(session: Session, principal: Principal, case: Case) -> bool:
    """Bureau: every case; grid: a case whose handling region is in its scope; others: none."""
    if principal.role is Role.BUREAU:
        return True
    if principal.role is not Role.GRID:
        return False
    path = session.scalar(select(Region.path).where(Region.id == case.handling_region_id))
    return path is not None and grid_scope.visible(principal, path)


def case_by_number(session: Session, principal: Principal, number: str, *, for_update: bool = False) -> Case:
    """The case, if the caller may see it; NotFound otherwise (whether or not it exists)."""
    query = select(Case).where(Case.number == number)
    case = session.scalar(query.with_for_update() if for_update else query)
    if case is None or not visible(session, principal, case):
        raise NotFound(f"no case {number}")
    return case


def _require_actor(session: Session, principal: Principal, case: Case, action: str) -> None:
    if principal.role not in (Role.BUREAU, Role.GRID):
        raise CaseForbidden(f"role {principal.role.value} may not act on cases")
    if action == CaseAction.HANDLED and principal.role is Role.GRID:
        if case.assignee_user_id is not None and case.assignee_user_id != principal.user_id:
            raise CaseForbidden("the case was dispatched to another officer")
    if action == CaseAction.VERIFIED:
        handler = session.scalar(
            select(CaseStep.actor)
            .where(CaseStep.case_id == case.id, CaseStep.action == CaseAction.HANDLED.value)
            .order_by(CaseStep.id.desc())
            .limit(1)
        )
        if handler == principal.username:
            raise CaseForbidden("the one who handled a case may not verify it")


def _assignee(session: Session, principal: Principal, case: Case, username: str | None) -> int | None:
    """Who must handle the case: a named grid user whose scope holds the case, else the dispatcher
    when it is a grid user, else no one in particular (any officer of the handling region)."""
    if username is None:
        return principal.user_id if principal.role is Role.GRID else None
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.role is not Role.GRID or not user.active:
        raise CaseInvalid(f"assignee {username} is not an active grid user")
    from registry_service.principal import loaded_principal

    if not visible(session, loaded_principal(session, user), case):
        raise CaseInvalid(f"case {case.number} is outside {username}'s grid")
    return user.id


def _move(case: Case, target: CaseState, now: datetime, rules: case_rules.CaseRules | None) -> None:
    case.state = target.value
    case.state_since = now
    step = (rules or case_rules.active()).deadline(case.kind, target)
    case.due_at = now + step if step is not None else None
    if target is CaseState.ACCEPTED and case.accepted_at is None:
        case.accepted_at = now
    if target is CaseState.CLOSED:
        case.closed_at = now


def _attach(session: Session, subject_key: str, now: datetime, actor: str, reason: str | None, detail: str) -> Case:
    query = select(Case).where(Case.subject_key == subject_key, _OPEN_SQL)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:  # closed between our insert and this read: a closed case takes no repeats
        raise CaseConflict(f"the open case of {subject_key} closed meanwhile")
    case.repeats += 1
    case.last_seen_at = max(case.last_seen_at, now)
    _step(session, case, CaseAction.REPEAT, actor, now, detail or (reason or ""))
    return case


def _insert_if_no_open_case(session: Session) -> Insert:
    """INSERT ... ON CONFLICT (subject_key) WHERE state <> 'closed' DO NOTHING."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(Case).on_conflict_do_nothing(index_elements=["subject_key"], index_where=_OPEN_SQL)
    return sqlite_insert(Case).on_conflict_do_nothing(index_elements=["subject_key"], index_where=_OPEN_SQL)


def _number(session: Session, region_id: int, now: datetime, zone: tzinfo, case_id: int) -> str:
    """ "410105-20261130-0007": the district (the GB/T 2260 part of the region code), the local day
    and the case's id, so numbers never collide however many nodes open cases at once."""
    code = session.scalar(select(Region.code).where(Region.id == region_id)) or "X"
    prefix = re.sub(r"[^0-9A-Za-z]", "", code.split("-", 1)[0])[:10] or "X"
    return f"{prefix}-{now.astimezone(zone):%Y%m%d}-{case_id:04d}"


def _step(
    session: Session, case: Case, action: CaseAction, actor: str, now: datetime, note: str, photo: StoredPhoto | None = None
) -> CaseStep:
    step = CaseStep(
        case_id=case.id,
        at=now,
        action=action.value,
        actor=actor[:80],
        note=note[:MAX_NOTE],
        photo_path=photo.path if photo else None,
        photo_sha256=photo.sha256 if photo else None,
    )
    session.add(step)
    session.flush()
    return step


def _tell_owner(session: Session, case: Case, now: datetime) -> None:
    """A new refused-cylinder case tells the vehicle's owner (services/notices.py), which records a
    "notice" step on the case when no consented contact exists."""
    # Imported here: notices reads cases' models and is imported by few; the layers test checks
    # that no cycle goes through it.
    from registry_service.services.notices import notice_for_case

    notice_for_case(session, case, now)


_KINDS: Final = frozenset(kind.value for kind in CaseKind)
