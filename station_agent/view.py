"""What the attendant sees: the JSON the booth page renders, and the terminal's one line per read.

Texts come in both languages (tag_tools.labels; reason texts from the reason catalogue's gettext
catalogues, in every language installed), so the page can switch language without asking the agent again.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any, Protocol

from station_agent.clock_offset import ClockOffset
from station_agent.config import Policy, StationConfig
from station_agent.faults import FaultBoard
from station_agent.pump import PumpGuard
from station_agent.reasons import texts_for
from station_agent.session import CylinderResult, SessionState, VehicleSession
from station_agent.sync import SyncWorker
from tag_tools.labels import decision_text
from tag_tools.verdict import Decision


class ShownAgent(Protocol):
    """What the view reads of the agent (station_agent.agent.Agent has it all).

    A protocol rather than an import: the agent imports this module to render itself, so the view
    names only the state it shows and the two modules do not import each other.
    """

    @property
    def fault(self) -> str | None: ...

    config: StationConfig
    policy: Policy
    pump: PumpGuard
    faults: FaultBoard
    clock_offset: ClockOffset
    sync: SyncWorker | None
    session: VehicleSession | None
    reader_problem: str | None
    attendant: str
    recent: deque[str]
    undelivered: int
    version: int


# Colour of the big panel: green fill, amber wait or warning, red stop.
COLOURS = {
    SessionState.READY: "green",
    SessionState.OVERRIDDEN: "amber",
    SessionState.COLLECTING: "amber",
    SessionState.REFUSED: "red",
    SessionState.DONE: "idle",
    SessionState.EXPIRED: "idle",
}

HEADLINES: dict[str, tuple[str, str]] = {
    "idle": ("请读取气瓶标签", "Read the cylinder tags"),
    "collecting": ("请继续读取本车其他气瓶", "Read the vehicle's other cylinders"),
    "ready": ("可以加气", "Fill"),
    "ready_warning": ("可以加气（请注意）", "Fill (note the warning)"),
    "refused": ("禁止加气", "Do not fill"),
    "would_refuse": ("监测模式：本应禁止加气", "Monitor mode: would refuse"),
    "overridden": ("主管已授权加气", "Released by a supervisor"),
    "done": ("加气结束", "Fill finished"),
    "expired": ("未读完全部气瓶，会话结束", "Session ended before every cylinder was read"),
    "fault": ("系统故障，禁止加气", "System fault: do not fill"),
}


def _both(pair: tuple[str, str]) -> dict[str, str]:
    return {"zh": pair[0], "en": pair[1]}


def cylinder_view(result: CylinderResult, refill_interval: timedelta | None = None) -> dict[str, Any]:
    decision = Decision(result.decision)
    return {
        "cylinder_id": result.cylinder_id,
        "tag_uid": result.tag_uid,
        "next_due": result.next_due.isoformat() if result.next_due else None,
        "decision": result.decision,
        "decision_text": {"zh": decision_text(decision, "zh"), "en": decision_text(decision, "en")},
        "reasons": [texts_for(r, refill_interval=refill_interval) for r in result.reasons],
        "online": result.online,
    }


def _headline(agent: ShownAgent, session: VehicleSession | None) -> tuple[str, str]:
    if agent.fault is not None:
        return "fault", "red"
    if session is None:
        return "idle", "idle"
    state = session.state
    if not agent.policy.enforcing and session.refused_cylinders and not session.finished:
        return "would_refuse", "amber"
    if state is SessionState.READY and any(c.decision == Decision.ALLOW_WITH_WARNING.value for c in session.cylinders.values()):
        return "ready_warning", "amber"
    return state.value, COLOURS[state]


def snapshot(agent: ShownAgent) -> dict[str, Any]:
    session = agent.session
    key, colour = _headline(agent, session)
    sync = agent.sync.status if agent.sync is not None else None
    body: dict[str, Any] = {
        "version": agent.version,
        "station": agent.config.station_code,
        "pump": agent.config.pump,
        "mode": agent.policy.mode,
        "language": agent.config.language,
        "pump_enabled": agent.pump.enabled,
        "attendant": agent.attendant,
        "registry_online": sync.online if sync is not None else None,
        "fault": agent.fault,
        "faults": [
            {"code": f.code, "detail": f.detail, "since": f.since.isoformat(), "blocks_pump": f.blocks_pump}
            for f in agent.faults.active()
        ],
        "undelivered": agent.undelivered,
        "clock_offset_ms": agent.clock_offset.offset_ms(),
        "reader_problem": agent.reader_problem,
        "colour": colour,
        "headline": _both(HEADLINES[key]),
        "state": key,
        "session": None,
        "recent": list(agent.recent)[:10],
    }
    if session is not None:
        interval = agent.policy.min_refill_interval
        body["session"] = {
            "id": session.id,
            "state": session.state.value,
            "plate": session.plate,
            "expected": session.expected,
            "read": len(session.cylinders),
            "cylinders": [cylinder_view(c, interval) for c in session.cylinders.values()],
            "reasons": [texts_for(r, refill_interval=interval) for r in session.summary_reasons()],
        }
    return body


def console_line(
    now: datetime, pump: int, result: CylinderResult, session: VehicleSession, pump_on: bool, fault: str | None
) -> str:
    expected = session.expected if session.expected is not None else "?"
    reasons = ",".join(result.reasons) or "-"
    where = "online" if result.online else "offline"
    tail = f"FAULT {fault}" if fault else ("PUMP ON" if pump_on else "pump off")
    return (
        f"{now:%H:%M:%S} pump {pump} {session.plate or '-'} {result.cylinder_id or result.tag_uid} "
        f"{result.decision.upper()} {reasons} ({where}) [{len(session.cylinders)}/{expected}] {tail}"
    )
