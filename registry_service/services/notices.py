"""Owner notices: which notices exist (planning), owners' contacts (import, audited reads, purge)
and the bureau's list. Sending is registry_service/notify/ (docs/grid.md, "Telling vehicle owners").

Planning only ever inserts with INSERT ... ON CONFLICT (dedupe_key) DO NOTHING: the daily pass run
twice, by two nodes, or a refused cylinder refused again, plans nothing new. A notice goes to the
vehicle's newest consented, unexpired contact; without one the notice is stored as `no_consent`
(counted, never sent) and, for a case, the case's timeline says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import CursorResult, and_, delete, select, update
from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import (
    Case,
    CaseAction,
    CaseKind,
    CaseStep,
    Channel,
    Cylinder,
    CylinderState,
    Notice,
    NoticeKind,
    NoticeState,
    OwnerContact,
    Vehicle,
)
from registry_service.principal import Principal
from registry_service.services import audit, notice_texts
from registry_service.services.idempotent import insert_ignoring_duplicates
from tag_tools import identifiers

SYSTEM: Final = "system"
# How far back the daily pass looks for cylinders that became overdue: it catches up after days the
# pass did not run, without walking every long-overdue cylinder of the city each day.
OVERDUE_LOOKBACK_DAYS: Final = 30
_EMAIL = re.compile(r"[^@\s<>,;]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}\Z")
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}\Z")


@dataclass(frozen=True)
class PlanReport:
    planned: int = 0  # new notices to send
    no_consent: int = 0  # new notices stored as no_consent
    already: int = 0  # candidates whose notice existed

    def to_json(self) -> dict[str, int]:
        return {"planned": self.planned, "no_consent": self.no_consent, "already": self.already}


# --- planning ---------------------------------------------------------------------------------


def notice_for_case(session: Session, case: Case, now: datetime, language: str = notice_texts.DEFAULT_LANGUAGE) -> Notice | None:
    """The owner notice of a new refused_cylinder case (called by services/cases.py); None when the
    case is of another kind, names no vehicle, or its notice was planned before. The case gets a
    "notice" step: queued, or that the owner has no consented contact."""
    if case.kind != CaseKind.REFUSED_CYLINDER or case.vehicle_id is None:
        return None
    key = f"{NoticeKind.REFUSED}:{case.vehicle_id}:{case.cylinder_pk or '-'}:{case.number}"
    notice = _plan(session, key, NoticeKind.REFUSED, case.vehicle_id, case.cylinder_pk, now, case_id=case.id, reason=case.reason)
    if notice is not None:
        if notice.state == NoticeState.NO_CONSENT:
            note = notice_texts.case_note(notice_texts.CASE_NO_CONSENT, language)
        else:
            note = notice_texts.case_note(notice_texts.CASE_QUEUED, language, channel=notice.channel)
        add_case_step(session, case.id, now, note)
    return notice


def add_case_step(session: Session, case_id: int, now: datetime, note: str) -> None:
    """A "notice" row on the case's timeline (written here, not through services/cases, which calls us)."""
    session.add(CaseStep(case_id=case_id, at=now, action=CaseAction.NOTICE.value, actor=SYSTEM, note=note[:2000]))


def plan_due_notices(
    session: Session, today: date, due_soon_days: int, now: datetime, *, overdue_lookback_days: int = OVERDUE_LOOKBACK_DAYS
) -> PlanReport:
    """The daily pass: a due_soon notice for each fitted, active cylinder whose next_due falls within
    `due_soon_days` from `today`, an overdue notice for each whose next_due passed (within the
    look-back). Reads cylinders by their indexed next_due, never the scan events."""
    report = PlanReport()
    ranges = (
        (NoticeKind.DUE_SOON, today, today + timedelta(days=due_soon_days)),
        (NoticeKind.OVERDUE, today - timedelta(days=overdue_lookback_days), today - timedelta(days=1)),
    )
    for kind, first, last in ranges:
        rows = session.execute(
            select(Cylinder.id, Cylinder.vehicle_id, Cylinder.next_due)
            .where(
                Cylinder.next_due.between(first, last),
                Cylinder.vehicle_id.is_not(None),
                Cylinder.state == CylinderState.ACTIVE,
            )
            .order_by(Cylinder.next_due, Cylinder.id)
        ).all()
        candidates: dict[str, tuple[int, int, date]] = {}
        for cylinder_pk, vehicle_id, due in rows:
            if vehicle_id is not None and due is not None:  # both filtered above; the types cannot know
                candidates[f"{kind}:{vehicle_id}:{cylinder_pk}:{due.isoformat()}"] = (cylinder_pk, vehicle_id, due)
        existing = _existing_keys(session, candidates)
        for key, (cylinder_pk, vehicle_id, due) in candidates.items():
            if key in existing:
                report = _count(report, None)
                continue
            report = _count(report, _plan(session, key, kind, vehicle_id, cylinder_pk, now, due_on=due))
    return report


def _existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    batch = list(keys)
    for start in range(0, len(batch), 500):  # bounded IN lists
        found.update(session.scalars(select(Notice.dedupe_key).where(Notice.dedupe_key.in_(batch[start : start + 500]))))
    return found


def _count(report: PlanReport, notice: Notice | None) -> PlanReport:
    if notice is None:
        return PlanReport(report.planned, report.no_consent, report.already + 1)
    if notice.state == NoticeState.NO_CONSENT:
        return PlanReport(report.planned, report.no_consent + 1, report.already)
    return PlanReport(report.planned + 1, report.no_consent, report.already)


def _plan(
    session: Session,
    key: str,
    kind: NoticeKind,
    vehicle_id: int,
    cylinder_pk: int | None,
    now: datetime,
    *,
    case_id: int | None = None,
    reason: str | None = None,
    due_on: date | None = None,
) -> Notice | None:
    """Insert the notice unless its key exists; the new Notice, or None when it existed."""
    contact = consented_contact(session, vehicle_id, now.date())
    values: dict[str, Any] = {
        "dedupe_key": key[:200],
        "kind": kind.value,
        "vehicle_id": vehicle_id,
        "cylinder_pk": cylinder_pk,
        "case_id": case_id,
        "contact_id": contact.id if contact else None,
        "channel": contact.channel if contact else None,
        "state": (NoticeState.PENDING if contact else NoticeState.NO_CONSENT).value,
        "due_on": due_on,
        "reason": reason,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now if contact else None,
        "last_error": "",
    }
    inserted = session.execute(insert_ignoring_duplicates(session, Notice).values(**values).returning(Notice.id)).scalar()
    if inserted is None:
        return None
    return session.get(Notice, inserted)


# --- contacts ----------------------------------------------------------------------------------


def consented_contact(session: Session, vehicle_id: int, today: date) -> OwnerContact | None:
    """The vehicle's newest consented contact still within its keeping period. Only its id and
    channel are used when planning; the address is read (and audited) when sending."""
    return session.scalar(
        select(OwnerContact)
        .where(OwnerContact.vehicle_id == vehicle_id, OwnerContact.consent.is_(True), OwnerContact.retain_until >= today)
        .order_by(OwnerContact.consented_at.desc().nulls_last(), OwnerContact.id.desc())
        .limit(1)
    )


def read_contact_for_sending(session: Session, notice: Notice, now: datetime) -> OwnerContact | None:
    """The contact a notice goes to, if it may still be used (consented, not past retain_until);
    the read is written to the audit log, as every read of an owner's address is."""
    if notice.contact_id is None:
        return None
    contact = session.get(OwnerContact, notice.contact_id)
    audit.record(session, SYSTEM, "read_owner_contact", "owner_contact", notice.contact_id, now, purpose=f"notice {notice.id}")
    if contact is None or not contact.consent or contact.retain_until < now.date():
        return None
    return contact


def normalised_address(channel: str, address: str) -> str:
    """An e-mail address as typed (trimmed), or a phone number in E.164 form ("+8613812345678");
    InvalidInput for anything else."""
    text = address.strip()
    if channel == Channel.EMAIL:
        if len(text) <= 254 and _EMAIL.match(text):
            return text
        raise InvalidInput(f"address: {text[:40]!r} is not an e-mail address")
    if channel == Channel.SMS:
        digits = re.sub(r"[\s()-]", "", text)
        if _CN_MOBILE.match(digits):
            return "+86" + digits
        if _E164.match(digits):
            return digits
        raise InvalidInput(f"address: {text[:40]!r} is not a mobile number (13812345678 or +8613812345678)")
    raise InvalidInput(f"channel must be one of {', '.join(Channel)}")


@dataclass(frozen=True)
class ContactIn:
    plate: str
    channel: str
    address: str
    consent: bool
    source: str
    consented_at: datetime | None
    retain_until: date


def upsert_contact(session: Session, data: ContactIn, now: datetime) -> OwnerContact:
    """Add or update (consent, source, dates) one owner contact, keyed by vehicle, channel and address."""
    plate = identifiers.canonical_or_none(identifiers.plate, data.plate, "plate")
    vehicle_id = session.scalar(select(Vehicle.id).where(Vehicle.plate == plate)) if plate else None
    if vehicle_id is None:
        raise InvalidInput(f"no vehicle with plate {data.plate}: import vehicles first")
    if data.consent and data.retain_until < now.date():
        raise InvalidInput("retain_until is already past: the contact may not be kept")
    address = normalised_address(data.channel, data.address)
    contact = session.scalar(
        select(OwnerContact).where(
            OwnerContact.vehicle_id == vehicle_id, OwnerContact.channel == data.channel, OwnerContact.address == address
        )
    )
    if contact is None:
        contact = OwnerContact(vehicle_id=vehicle_id, channel=data.channel, address=address)
        session.add(contact)
    contact.consent = data.consent
    contact.source = data.source[:64]
    contact.consented_at = data.consented_at
    contact.imported_at = now
    contact.retain_until = data.retain_until
    session.flush()
    return contact


def purge_contacts(session: Session, today: date, now: datetime, actor: Principal | str = SYSTEM) -> int:
    """Delete every contact past its retain_until; notices keep their facts but lose the link, and
    one still pending fails ("contact_purged"). Audited; returns how many were deleted."""
    expired = select(OwnerContact.id).where(OwnerContact.retain_until < today).scalar_subquery()
    session.execute(
        update(Notice)
        .where(Notice.contact_id.in_(expired), Notice.state == NoticeState.PENDING)
        .values(state=NoticeState.FAILED.value, last_error="contact_purged", lease_owner=None, lease_until=None)
    )
    session.execute(update(Notice).where(Notice.contact_id.in_(expired)).values(contact_id=None))
    result = cast(CursorResult[Any], session.execute(delete(OwnerContact).where(OwnerContact.retain_until < today)))
    deleted = result.rowcount
    if deleted:
        audit.record(session, actor, "purge_owner_contacts", "owner_contact", f"before {today.isoformat()}", now, deleted=deleted)
    return int(deleted)


# --- the bureau's list -------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeFilter:
    state: str | None = None
    kind: str | None = None
    channel: str | None = None
    plate: str | None = None
    case_number: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_notices(
    session: Session, flt: NoticeFilter, principal: Principal, now: datetime, limit: int, cursor: int | None
) -> dict[str, Any]:
    """Notices newest first (by id), one page; never an owner's address. The read is audited: it
    tells who has a consented contact."""
    query = (
        select(Notice, Vehicle.plate, Cylinder.cylinder_id, Case.number)
        .join(Vehicle, Vehicle.id == Notice.vehicle_id)
        .outerjoin(Cylinder, Cylinder.id == Notice.cylinder_pk)
        .outerjoin(Case, Case.id == Notice.case_id)
    )
    conditions = []
    if flt.state:
        conditions.append(Notice.state == flt.state)
    if flt.kind:
        conditions.append(Notice.kind == flt.kind)
    if flt.channel:
        conditions.append(Notice.channel == flt.channel)
    if flt.plate:
        conditions.append(Vehicle.plate == flt.plate)
    if flt.case_number:
        conditions.append(Case.number == flt.case_number)
    if flt.since:
        conditions.append(Notice.created_at >= flt.since)
    if flt.until:
        conditions.append(Notice.created_at < flt.until)
    if cursor is not None:
        conditions.append(Notice.id < cursor)
    rows = session.execute(query.where(and_(True, *conditions)).order_by(Notice.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    audit.record(session, principal, "list_notices", "notice", "list", now, **{k: v for k, v in vars(flt).items() if v})
    return {
        "notices": [notice_json(n, plate, cylinder_id, number) for n, plate, cylinder_id, number in page],
        "next_cursor": str(page[-1][0].id) if len(rows) > limit else None,
    }


def notice_json(notice: Notice, plate: str, cylinder_id: str | None, case_number: str | None) -> dict[str, Any]:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "state": notice.state,
        "channel": notice.channel,
        "plate": plate,
        "cylinder_id": cylinder_id,
        "case_number": case_number,
        "due_on": notice.due_on.isoformat() if notice.due_on else None,
        "reason": notice.reason,
        "created_at": notice.created_at.isoformat(),
        "attempts": notice.attempts,
        "next_attempt_at": notice.next_attempt_at.isoformat() if notice.next_attempt_at else None,
        "sent_at": notice.sent_at.isoformat() if notice.sent_at else None,
        "last_error": notice.last_error or None,
    }
