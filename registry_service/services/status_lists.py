"""Build, sign (through the list signer process) and serve the status lists.

The registry never holds the signing key: it builds the entries from `status_entries`, asks
`cylinder-signer` over its Unix socket (list_signer.client) and stores the token it gets back. When
the signer refuses (for instance because the registry's books would clear a revoked entry) or
cannot be reached, nothing is stored: stations keep getting the last list, the refusal is logged
and written to the audit log for the bureau (action `status_list_refused`), and the next attempt
comes on the next interval.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from list_signer.errors import RefusedError, SignerUnavailable
from registry_service.errors import NotFound
from registry_service.models import StatusEntry, StatusIndexBlock, StatusListPublication
from registry_service.services import audit
from tag_tools.status_list import StatusArray, StatusValue

log = logging.getLogger(__name__)
T = TypeVar("T")

KEEP_LISTS = 5  # per list id: the newest is served, a few older ones stay for inquiries
# A transaction that changed an entry may commit up to this long after its changed_at; changes
# this close before the last list's iat are looked at again (a rebuild with no change signs nothing).
COMMIT_MARGIN = timedelta(seconds=60)
PUBLISHER = "status-publisher"


class Runner(Protocol):
    """Runs a unit of work in one transaction (Registry.transaction)."""

    def __call__(self, work: Callable[[Session], T]) -> T: ...


class ListSigner(Protocol):
    """What the registry needs of list_signer.client.SignerClient."""

    def sign_status_list(
        self, list_id: int, sequence: int, statuses: StatusArray, issued_at: datetime, expires_at: datetime, ttl: timedelta
    ) -> bytes: ...


@dataclass(frozen=True)
class Policy:
    validity: timedelta = timedelta(hours=48)
    ttl: timedelta = timedelta(seconds=300)


@dataclass(frozen=True)
class Outcome:
    """What one publishing attempt did: `published` (a new sequence), `unchanged`, or `refused`."""

    list_id: int
    result: str
    sequence: int | None = None
    count: int = 0
    detail: str = ""


def latest(session: Session, list_id: int) -> StatusListPublication | None:
    return session.scalar(
        select(StatusListPublication)
        .where(StatusListPublication.list_id == list_id)
        .order_by(StatusListPublication.sequence.desc())
        .limit(1)
    )


def latest_or_404(session: Session, list_id: int) -> StatusListPublication:
    row = latest(session, list_id)
    if row is None:
        raise NotFound(f"status list {list_id} has not been published yet")
    return row


def list_ids(session: Session) -> list[int]:
    """Every list that has indexes handed out."""
    return list(session.scalars(select(StatusIndexBlock.list_id).distinct().order_by(StatusIndexBlock.list_id)))


def build(session: Session, list_id: int) -> StatusArray:
    """Entries 0..(last allocated index) of the list; an index no record used is VALID (0)."""
    end = session.scalar(
        select(func.max(StatusIndexBlock.first + StatusIndexBlock.count)).where(StatusIndexBlock.list_id == list_id)
    )
    rows = session.execute(
        select(StatusEntry.idx, StatusEntry.value).where(StatusEntry.list_id == list_id, StatusEntry.value > 0)
    )
    return StatusArray.from_mapping({idx: StatusValue(value) for idx, value in rows}, end or 0)


def is_due(session: Session, list_id: int, now: datetime) -> bool:
    """True when entries changed since the last list was built, or that list is past half its validity."""
    last = latest(session, list_id)
    if last is None or _half_expired(last, now):
        return True
    changed = session.scalar(
        select(StatusEntry.idx)
        .where(StatusEntry.list_id == list_id, StatusEntry.changed_at >= last.published_at - COMMIT_MARGIN)
        .limit(1)
    )
    grown = session.scalar(
        select(func.max(StatusIndexBlock.first + StatusIndexBlock.count)).where(StatusIndexBlock.list_id == list_id)
    )
    return changed is not None or (grown or 0) != last.count


def publish(
    run: Runner,
    signer: ListSigner,
    list_id: int,
    now: datetime,
    policy: Policy = Policy(),
    *,
    force: bool = False,
) -> Outcome:
    """Sign and store the next list `list_id` if it changed (or `force`); `run` is a transaction
    runner (Registry.transaction). The signer is called outside any transaction: signing the
    national list takes seconds and must not hold a database connection."""
    now = now.replace(microsecond=0)  # the token carries whole seconds; published_at matches its iat

    def read(session: Session) -> tuple[StatusArray, int, str | None]:
        last = latest(session, list_id)
        return build(session, list_id), (last.sequence if last else 0), (last.content_sha256 if last else None)

    statuses, last_sequence, last_sha = run(read)
    sha = hashlib.sha256(statuses.packed + statuses.count.to_bytes(8, "big")).hexdigest()
    if not force and last_sha == sha and not run(lambda s: _half_expired(latest(s, list_id), now)):
        return Outcome(list_id, "unchanged", last_sequence, statuses.count)
    sequence = last_sequence + 1
    try:
        blob = signer.sign_status_list(list_id, sequence, statuses, now, now + policy.validity, policy.ttl)
    except (RefusedError, SignerUnavailable) as error:
        code = error.code.value if isinstance(error, RefusedError) else "unavailable"
        detail, index = str(error), getattr(error, "index", None)
        log.error("status list %d sequence %d not signed (%s); stations keep the last list", list_id, sequence, detail)
        run(
            lambda s: audit.record(
                s,
                PUBLISHER,
                "status_list_refused",
                "status_list",
                list_id,
                now,
                sequence=sequence,
                refusal=code,
                detail=detail,
                index=index,
            )
        )
        return Outcome(list_id, "refused", sequence, statuses.count, detail)

    def store(session: Session) -> None:
        session.add(
            StatusListPublication(
                list_id=list_id,
                sequence=sequence,
                blob=blob,
                count=statuses.count,
                content_sha256=sha,
                ttl_s=int(policy.ttl.total_seconds()),
                published_at=now,
                expires_at=now + policy.validity,
            )
        )
        session.flush()
        keep = (
            select(StatusListPublication.sequence)
            .where(StatusListPublication.list_id == list_id)
            .order_by(StatusListPublication.sequence.desc())
            .limit(KEEP_LISTS)
        )
        session.execute(
            delete(StatusListPublication).where(
                StatusListPublication.list_id == list_id, StatusListPublication.sequence.not_in(keep.scalar_subquery())
            )
        )

    run(store)
    log.info("published status list %d sequence %d (%d entries, %d bytes)", list_id, sequence, statuses.count, len(blob))
    return Outcome(list_id, "published", sequence, statuses.count)


def _half_expired(last: StatusListPublication | None, now: datetime) -> bool:
    """A list past half its validity is signed again even unchanged, so stations never hold an expired one."""
    return last is None or now >= last.published_at + (last.expires_at - last.published_at) / 2


def publish_due(run: Runner, signer: ListSigner, now: datetime, policy: Policy = Policy()) -> list[Outcome]:
    """One round of the background publisher: every list whose entries changed or that ages."""
    outcomes = []
    for list_id in run(list_ids):
        if run(lambda s, i=list_id: is_due(s, i, now)):  # type: ignore[misc]
            outcomes.append(publish(run, signer, list_id, now, policy))
    return outcomes
