"""The audit log: every change a person makes, appended in the same transaction as the change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from registry_service.models import AuditEntry
from registry_service.principal import Principal


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    entity: str,
    entity_ref: object,
    now: datetime,
    **detail: Any,
) -> None:
    """Append one entry. `actor` is a Principal, or a name for command-line operators."""
    if isinstance(actor, Principal):
        actor_id, actor_name = actor.user_id, actor.username
    else:
        actor_id, actor_name = None, f"cli:{actor}"
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            actor=actor_name[:80],
            action=action,
            entity=entity,
            entity_ref=str(entity_ref)[:120],
            detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
        )
    )
