"""Cases as Open311 GeoReport v2 service requests, read-only, so a city's grid or hotline platform
can pull them (docs/grid.md, "Open311").

service_code is the case kind; status is open or closed (status_notes carries the workflow state);
agency_responsible is the handling region's code; address the found region's names from the top
down; lat/long the station's. Requests are the newest first, at most MAX_REQUESTS, by default from
the last DEFAULT_DAYS days, as the GeoReport v2 specification asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import CaseKind, CaseState
from registry_service.principal import Principal
from registry_service.services import case_queries

MAX_REQUESTS: Final = 1000
DEFAULT_DAYS: Final = 90
STATUSES: Final = ("open", "closed")
GROUP: Final = "cylinder_supervision"


def services() -> list[dict[str, Any]]:
    """The service list: one service per case kind (codes only: the API carries no words)."""
    return [
        {
            "service_code": kind.value,
            "service_name": kind.value,
            "description": "",
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": GROUP,
        }
        for kind in CaseKind
    ]


def requests(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    statuses: Sequence[str] = (),
    service_codes: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    for status in statuses:
        if status not in STATUSES:
            raise InvalidInput("status must be open or closed (comma-separated)")
    for code in service_codes:
        if code not in case_queries.KINDS:
            raise InvalidInput(f"service_code must be among: {', '.join(case_queries.KINDS)}")
    if start is None and end is None:
        start = now - timedelta(days=DEFAULT_DAYS)
    state = None
    if set(statuses) == {"open"}:
        state = case_queries.OPEN
    elif set(statuses) == {"closed"}:
        state = CaseState.CLOSED.value
    kinds: list[str | None] = [*sorted(set(service_codes))] or [None]
    rows: list[Any] = []
    for kind in kinds:  # a handful of kinds at most: one indexed query each
        flt = case_queries.CaseFilter(kind=kind, state=state, since=start, until=end)
        rows.extend(case_queries.rows_for(session, principal, flt, MAX_REQUESTS))
    rows.sort(key=lambda row: (row[0].opened_at, row[0].id), reverse=True)
    return _requests(session, rows[:MAX_REQUESTS])


def request(session: Session, principal: Principal, number: str) -> list[dict[str, Any]]:
    """One request, as GeoReport v2 returns it: a list of one."""
    return _requests(session, [case_queries.row_for(session, principal, number)])


def _requests(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    addresses = case_queries.region_name_paths(session, (row[3] for row in rows))
    return [_request(row, addresses[row[3]]) for row in rows]


def _request(row: Any, address: str) -> dict[str, Any]:
    case = row[0]
    updated = max(case.state_since, case.last_seen_at)
    return {
        "service_request_id": case.number,
        "status": "closed" if case.state == CaseState.CLOSED else "open",
        "status_notes": case.state,
        "service_name": case.kind,
        "service_code": case.kind,
        "description": case.detail,
        "agency_responsible": row[4],
        "service_notice": "",
        "requested_datetime": case.opened_at.isoformat(),
        "updated_datetime": updated.isoformat(),
        "expected_datetime": case.due_at.isoformat() if case.due_at else None,
        "address": address,
        "address_id": row[6],
        "zipcode": None,
        "lat": row[7],
        "long": row[8],
        "media_url": None,
    }
