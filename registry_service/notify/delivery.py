"""The delivery loop: send each pending notice whose time has come, at most once, with retries.

Several registry nodes (and a cron `send-notices`) may run it at once. A notice is claimed before
it is sent by one conditional UPDATE (state pending, attempt due, no live lease) that sets a lease;
only the node whose UPDATE changed the row sends it, on SQLite and PostgreSQL alike (the row lock,
or SQLite's single writer, orders two claims, and the second finds the lease). The claim is
committed before sending, and the outcome is recorded only by the lease holder. A failed attempt
is retried after an exponential back-off until the attempts are used up.

A node that dies after its sender was accepted and before it recorded that leaves the lease to
expire and the notice is sent again: the message carries the notice's key (Message-ID,
Idempotency-Key) so a mail system or SMS gateway can drop that copy. The lease is longer than any
sender may wait (its timeout), so a slow send is never taken over while it is still running.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry_service.errors import ServiceUnavailable
from registry_service.models import Case, Cylinder, Notice, NoticeState, Vehicle
from registry_service.notify.senders import OutgoingMessage, Sender, SendError
from registry_service.services import notice_texts, notices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    first_retry_s: float = 60.0  # then 2, 4, 8, ... minutes
    max_retry_s: float = 6 * 3600.0
    lease_s: float = 300.0  # longer than any sender's timeout
    batch: int = 200  # notices looked at per run

    def retry_after(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.first_retry_s * 2 ** max(attempts - 1, 0), self.max_retry_s))


DEFAULT_POLICY = DeliveryPolicy()


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another node, or no longer sendable
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed, "skipped": self.skipped}


def node_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver_due(
    session_factory: sessionmaker[Session],
    senders: dict[str, Sender],
    now: datetime,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    *,
    language: str = notice_texts.DEFAULT_LANGUAGE,
    node: str | None = None,
) -> DeliveryReport:
    """One pass over the notices due at `now` on the channels of `senders`."""
    report = DeliveryReport()
    if not senders:
        return report
    owner = node or node_name()
    with session_factory.begin() as session:
        due = session.scalars(
            select(Notice.id)
            .where(*_claimable(now), Notice.channel.in_(sorted(senders)))
            .order_by(Notice.next_attempt_at, Notice.id)
            .limit(policy.batch)
        ).all()
    for notice_id in due:
        try:
            message = _claim(session_factory, notice_id, now, owner, policy, language)
        except (OperationalError, ServiceUnavailable) as exc:  # another node is writing: it will have it
            log.info("notice %s not claimed: %s", notice_id, type(exc).__name__)
            message = None
        if message is None:
            report.skipped += 1
            continue
        channel, outgoing = message
        try:
            senders[channel].send(outgoing)
        except SendError as exc:
            report.errors.append(exc.detail)
            gave_up = _record_failure(session_factory, notice_id, now, owner, policy, exc, language)
            if gave_up:
                report.failed += 1
            else:
                report.retrying += 1
            continue
        _record_sent(session_factory, notice_id, now, owner, language)
        report.sent += 1
    return report


def _claimable(now: datetime) -> tuple[Any, ...]:
    return (
        Notice.state == NoticeState.PENDING.value,
        Notice.next_attempt_at <= now,
        or_(Notice.lease_until.is_(None), Notice.lease_until <= now),
    )


def _claim(
    session_factory: sessionmaker[Session], notice_id: int, now: datetime, owner: str, policy: DeliveryPolicy, language: str
) -> tuple[str, OutgoingMessage] | None:
    """Take the lease on one notice and build its message; None when another node has it."""
    with session_factory.begin() as session:
        result = cast(
            CursorResult[Any],
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, *_claimable(now))
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=policy.lease_s), attempts=Notice.attempts + 1)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            return None
        notice = session.get(Notice, notice_id, populate_existing=True)
        assert notice is not None and notice.channel is not None  # claimed just now: pending rows have a channel
        contact = notices.read_contact_for_sending(session, notice, now)
        if contact is None:  # consent withdrawn or kept too long since planning: not sent, ever
            notice.state = NoticeState.NO_CONSENT.value
            notice.last_error = "no_consented_contact"
            notice.lease_owner = notice.lease_until = None
            return None
        plate = session.scalar(select(Vehicle.plate).where(Vehicle.id == notice.vehicle_id)) or ""
        cylinder_id = session.scalar(select(Cylinder.cylinder_id).where(Cylinder.id == notice.cylinder_pk)) or ""
        case_number = session.scalar(select(Case.number).where(Case.id == notice.case_id)) or ""
        words = notice_texts.words(
            notice.kind,
            language,
            plate=plate,
            cylinder_id=cylinder_id,
            due_on=notice.due_on.isoformat() if notice.due_on else "",
            case_number=case_number,
            reason=notice.reason,
        )
        message = OutgoingMessage(notice.id, notice.dedupe_key, notice.kind, contact.address, words.subject, words.text)
        return notice.channel, message


def _held(session: Session, notice_id: int, owner: str) -> Notice | None:
    """The notice if this node still holds its lease (an expired lease taken over is not ours)."""
    notice = session.get(Notice, notice_id, populate_existing=True, with_for_update=True)
    return notice if notice is not None and notice.lease_owner == owner else None


def _record_sent(session_factory: sessionmaker[Session], notice_id: int, now: datetime, owner: str, language: str) -> None:
    with session_factory.begin() as session:
        notice = _held(session, notice_id, owner)
        if notice is None:
            return
        notice.state = NoticeState.SENT.value
        notice.sent_at = now
        notice.last_error = ""
        notice.lease_owner = notice.lease_until = None
        if notice.case_id is not None:
            notices.add_case_step(
                session, notice.case_id, now, notice_texts.case_note(notice_texts.CASE_SENT, language, channel=notice.channel)
            )


def _record_failure(
    session_factory: sessionmaker[Session],
    notice_id: int,
    now: datetime,
    owner: str,
    policy: DeliveryPolicy,
    error: SendError,
    language: str,
) -> bool:
    """Schedule the next attempt, or give up; True when the notice failed for good."""
    with session_factory.begin() as session:
        notice = _held(session, notice_id, owner)
        if notice is None:
            return False
        notice.last_error = error.detail[:300]
        notice.lease_owner = notice.lease_until = None
        if error.retryable and notice.attempts < policy.max_attempts:
            notice.next_attempt_at = now + policy.retry_after(notice.attempts)
            return False
        notice.state = NoticeState.FAILED.value
        notice.next_attempt_at = None
        if notice.case_id is not None:
            note = notice_texts.case_note(notice_texts.CASE_FAILED, language, channel=notice.channel, error=notice.last_error)
            notices.add_case_step(session, notice.case_id, now, note)
        return True
