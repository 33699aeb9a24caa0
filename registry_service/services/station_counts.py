"""The aggregate by station as the overview uses it at national size: 10,000 stations read as
plain tuples and named only where a name is shown.

queries.aggregate labels every group (a dict and a station name each, then a sort): right for the
API, which returns them all, but for the overview, which shows ten stations and sums the rest into
a few areas, that Python was a third of the page at national size. The numbers are the same
statement's (queries.aggregate_statement); the ranking is queries.rank_stations' order.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.models import Outcome, Station
from registry_service.services import queries

COLUMNS = ("total", *(o.value for o in Outcome))  # the order of each station's counts
_OVERRIDDEN, _REFUSED, _WOULD_REFUSE = (
    COLUMNS.index(o.value) for o in (Outcome.OVERRIDDEN, Outcome.REFUSED, Outcome.WOULD_REFUSE)
)
# Beyond this many stations to name, every station is read instead of an IN list (as queries does).
_NAMED_BY_ID = 1000

StationCounts = Mapping[int, Sequence[int]]


def counts_by_station(
    session: Session, flt: queries.EventFilter, now: datetime, utc_offset_hours: int, *, raw_events: bool = False
) -> dict[int, tuple[int, ...]]:
    """Station id to its counts (COLUMNS), for the stations with any scan the filter counts."""
    query = queries.aggregate_statement(session, flt, now, "station", utc_offset_hours, raw_events=raw_events)
    if query is None:
        return {}
    return {row[0]: tuple(map(int, row[1:])) for row in session.execute(query)}


def problem_ranking(session: Session, counts: StationCounts, limit: int) -> list[dict[str, Any]]:
    """The first `limit` stations of queries.rank_stations' order (overrides, then refusals, then
    would-refusals, then code) among those with a problem outcome, in its shape. The order is
    settled on the numbers; only the stations tied with the last place or above are named."""
    order = {
        station: (-counted[_OVERRIDDEN], -counted[_REFUSED], -counted[_WOULD_REFUSE])
        for station, counted in counts.items()
        if counted[_OVERRIDDEN] or counted[_REFUSED] or counted[_WOULD_REFUSE]
    }
    if not order or limit <= 0:
        return []
    last = heapq.nsmallest(limit, order.values())[-1]
    candidates = [station for station, key in order.items() if key <= last]
    names = _names(session, candidates)
    ranked = sorted(candidates, key=lambda station: (order[station], names.get(station, (str(station), ""))[0]))
    result = []
    for station in ranked[:limit]:
        code, name = names.get(station, (str(station), ""))
        group: dict[str, Any] = {"key": code, "name": name, **dict(zip(COLUMNS, counts[station], strict=True))}
        group["override_rate"] = round(group["overridden"] / group["total"], 4) if group["total"] else 0.0
        result.append(group)
    return result


def _names(session: Session, stations: list[int]) -> dict[int, tuple[str, str]]:
    query = select(Station.id, Station.code, Station.name)
    if len(stations) <= _NAMED_BY_ID:
        query = query.where(Station.id.in_(stations))
    return {station: (code, name) for station, code, name in session.execute(query)}
