"""Status indexes: blocks handed to centres, and the entry of every record that uses one.

A centre asks for a block before signing a batch (`cylinder-tag status-block fetch`), and each
record it signs carries the next index of its block (claim 21). When the record is uploaded the
index must lie in one of that centre's blocks and be unused; its entry starts VALID and the
cylinder's older entries become SUPERSEDED in the same transaction. Revoking a cylinder raises its
entries to REVOKED_STOLEN or REVOKED_SCRAPPED.

Values never go down: every update here is `SET value = new WHERE value < new`, and migration 0005
adds a trigger that refuses any lowering. Undoing a revocation is a new record with a new index
(schemas/status-list.md, "Undoing a revocation").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, InvalidInput, NotFound, RecordRejected
from registry_service.models import InspectionCentre, RevocationKind, StatusEntry, StatusIndexBlock
from registry_service.principal import Principal
from registry_service.services import audit
from tag_tools.claims import StatusReference
from tag_tools.status_list import MAX_INDEXES, MAX_LIST_ID, StatusValue

MAX_BLOCK = 100_000
# A list holds at most 2^26 indexes (schemas/status-list.md: about 16 years of records); then the
# next list id opens. Half of the format's limit, so a list never nears the 16 MiB token cap.
LIST_CAPACITY = MAX_INDEXES // 2
_ALLOCATION_LOCK = 0x5354_4154  # "STAT": PostgreSQL advisory lock serialising allocations

REVOKED_VALUE = {
    RevocationKind.STOLEN: StatusValue.REVOKED_STOLEN,
    RevocationKind.CONDEMNED: StatusValue.REVOKED_SCRAPPED,
    RevocationKind.SCRAPPED: StatusValue.REVOKED_SCRAPPED,
}


def allocate(session: Session, principal: Principal, now: datetime, centre_code: str, count: int) -> StatusIndexBlock:
    """The next `count` free indexes of the current list, for the caller's own centre."""
    if not 1 <= count <= MAX_BLOCK:
        raise InvalidInput(f"count must be 1..{MAX_BLOCK}")
    centre = session.scalar(select(InspectionCentre).where(InspectionCentre.code == centre_code))
    if centre is None:
        raise NotFound(f"no inspection centre {centre_code}")
    principal.require_centre(centre.id)
    if not centre.active:
        raise Conflict(f"centre {centre_code} is suspended")
    if session.get_bind().dialect.name == "postgresql":
        # Two allocations at once must not read the same "last block" (the unique (list_id, first)
        # constraint would refuse the second as a 409; the lock makes it wait instead).
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ALLOCATION_LOCK})
    last = session.scalar(
        select(StatusIndexBlock).order_by(StatusIndexBlock.list_id.desc(), StatusIndexBlock.first.desc()).limit(1)
    )
    list_id, first = (0, 0) if last is None else (last.list_id, last.first + last.count)
    if first + count > LIST_CAPACITY:
        list_id, first = list_id + 1, 0
        if list_id > MAX_LIST_ID:
            raise Conflict("every status list id is used")
    block = StatusIndexBlock(centre_id=centre.id, list_id=list_id, first=first, count=count, allocated_at=now)
    session.add(block)
    session.flush()
    audit.record(
        session,
        principal,
        "allocate_status_indexes",
        "inspection_centre",
        centre_code,
        now,
        list_id=list_id,
        first=first,
        count=count,
    )
    return block


def claim(session: Session, centre_id: int, cylinder_pk: int, record_sequence: int, ref: StatusReference, now: datetime) -> None:
    """Record that a newly uploaded record uses `ref`; RecordRejected (422) when it may not."""
    block = session.scalar(
        select(StatusIndexBlock)
        .where(StatusIndexBlock.list_id == ref.list_id, StatusIndexBlock.first <= ref.index)
        .order_by(StatusIndexBlock.first.desc())
        .limit(1)
    )
    if block is None or ref.index >= block.first + block.count or block.centre_id != centre_id:
        raise RecordRejected(
            f"status index {ref.list_id}/{ref.index} was not allocated to this centre",
            errors=[{"reason": "status_index_not_allocated"}],
        )
    if session.get(StatusEntry, (ref.list_id, ref.index)) is not None:
        raise RecordRejected(
            f"status index {ref.list_id}/{ref.index} is already used by another record",
            errors=[{"reason": "status_index_used"}],
        )
    session.add(
        StatusEntry(
            list_id=ref.list_id,
            idx=ref.index,
            cylinder_pk=cylinder_pk,
            record_sequence=record_sequence,
            value=StatusValue.VALID,
            changed_at=now,
        )
    )
    session.flush()


def supersede_older(session: Session, cylinder_pk: int, record_sequence: int, now: datetime) -> None:
    """A newer record of the cylinder exists: its older VALID entries become SUPERSEDED."""
    _raise(
        session,
        now,
        StatusValue.SUPERSEDED,
        StatusEntry.cylinder_pk == cylinder_pk,
        StatusEntry.record_sequence < record_sequence,
    )


def revoke(session: Session, cylinder_pk: int, kind: RevocationKind, now: datetime) -> None:
    """Raise every entry of the cylinder to the revocation's value (superseded ones too: a stolen
    cylinder's old tag contents are refused as stolen, not merely as old)."""
    _raise(session, now, REVOKED_VALUE[kind], StatusEntry.cylinder_pk == cylinder_pk)


def _raise(session: Session, now: datetime, value: StatusValue, *where: object) -> None:
    session.execute(
        update(StatusEntry)
        .where(*where, StatusEntry.value < int(value))  # type: ignore[arg-type]
        .values(value=int(value), changed_at=now)
        .execution_options(synchronize_session=False)
    )


def block_json(block: StatusIndexBlock) -> dict[str, int]:
    return {"list_id": block.list_id, "first": block.first, "count": block.count}
