"""The agent's heartbeat to the registry (schemas/station-heartbeat.md): what this pump runs and
how it is, every `[registry] heartbeat_s`. The registry keeps the latest per pump and alarms on a
station that goes silent while it is open; a heartbeat is never queued (only the latest matters),
so it is built afresh each time the sync worker sends one (station_agent/sync.py).

Reads the agent through `AgentView`, not station_agent.agent (which builds the sync worker that
calls this: importing it would be a cycle).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from station_agent.central_policy import policy_sha256
from station_agent.clock_offset import ClockOffset
from station_agent.config import Policy, StationConfig
from station_agent.errors import OutboxError
from station_agent.faults import FaultBoard
from station_agent.lifecycle import agent_version
from station_agent.outbox import Outbox
from station_agent.pump import PumpGuard
from station_agent.sync import TrustCache

log = logging.getLogger(__name__)

SCHEMA = 1


class AgentView(Protocol):
    """What a heartbeat reads of station_agent.agent.Agent."""

    @property
    def config(self) -> StationConfig: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def cache(self) -> TrustCache: ...
    @property
    def clock_offset(self) -> ClockOffset: ...
    @property
    def reader_problem(self) -> str | None: ...
    @property
    def pump(self) -> PumpGuard: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def faults(self) -> FaultBoard: ...
    @property
    def policy_sequence(self) -> int | None: ...
    def meter_reading(self) -> tuple[float, str] | None: ...


def heartbeat_of(agent: AgentView, now: datetime) -> dict[str, Any]:
    """The heartbeat body as of `now` (the station's clock)."""
    trust_list = agent.cache.trust_list
    offset = agent.clock_offset.offset_ms()
    return {
        "schema": SCHEMA,
        "pump": agent.config.pump,
        "sent_at": rfc3339(now),
        "agent_version": agent_version(),
        "policy": {
            "mode": agent.policy.mode,
            "sequence": agent.policy_sequence,
            "sha256": policy_sha256(agent.policy),
        },
        "trust_list_sequence": trust_list.sequence if trust_list is not None else None,
        "status_list_sequences": {str(k): v.sequence for k, v in sorted(agent.cache.status_lists.lists.items())},
        "clock_offset_ms": int(offset) if offset is not None else None,
        "reader": "lost" if agent.reader_problem else "ok",
        "interlock": "ok" if agent.pump.healthy else "fault",
        "pump_enabled": agent.pump.enabled,
        "outbox_backlog": _backlog(agent.outbox),
        "last_fill_at": _last_fill(agent.outbox),
        "totaliser": _totaliser(agent),
        "faults": sorted({fault.code for fault in agent.faults.active()}),
    }


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _backlog(outbox: Outbox) -> int:
    """Events and fault reports not yet delivered (0 when the outbox cannot be read: its fault says so)."""
    try:
        counts = outbox.counts()
    except OutboxError as error:
        log.debug("no backlog for the heartbeat: %s", error)
        return 0
    return counts.unsent + counts.reports_unsent


def _last_fill(outbox: Outbox) -> str | None:
    try:
        at = outbox.latest_fill()
    except OutboxError:
        return None
    return rfc3339(at) if at is not None else None


def _totaliser(agent: AgentView) -> dict[str, Any] | None:
    """The dispenser's totaliser (agent.meter_reading(), where metering is configured)."""
    try:
        value = agent.meter_reading()
    except Exception as error:  # a meter that cannot be read must not cost the heartbeat
        log.warning("no totaliser reading for the heartbeat: %s", error)
        return None
    if value is None:
        return None
    amount, unit = value
    return {"value": float(amount), "unit": str(unit)}
