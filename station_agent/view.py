"""What the attendant sees: the JSON the booth page renders, and the terminal's one line per read.

The texts the agent composes (headline, decisions, reasons) come from the gettext catalogues in every
page language (station_agent.page_words), so the page can switch language without asking the agent again.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from station_agent import faults as station_faults
from station_agent import overrides
from station_agent.clock_offset import ClockOffset
from station_agent.config import Policy, StationConfig
from station_agent.errors import OverrideLocked, OverrideRefused
from station_agent.faults import ActiveFault, FaultBoard
from station_agent.page_words import in_every_language, page_plural, page_text
from station_agent.pump import PumpGuard
from station_agent.reasons import text_for, texts_for
from station_agent.session import CylinderResult, SessionState, VehicleSession
from station_agent.sync import SyncWorker
from tag_tools.fields import ATTENDANT, OVERRIDE_REASON, SUPERVISOR
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


@dataclass(frozen=True)
class Look:
    """How the whole screen looks: its colour and the large shape drawn on it."""

    colour: str
    shape: str


# The screen says what the pump does before anything else (docs/station.md "What the attendant
# sees"): the colours differ in luminance, not only in hue (tests/station_agent/test_attendant_kiosk.py
# measures them), and each has its own shape, so neither a colour-blind eye nor a glance mixes them up.
FILL = Look("green", "tick")  # the pump is on: fill
STOP = Look("red", "cross")  # the pump is off: do not fill (the page sounds it)
WAIT = Look("blue", "count")  # the pump is off: read the vehicle's other cylinders (1/3)
IDLE = Look("grey", "ring")  # the pump is off, nothing is asked: read a vehicle
# States that tell the attendant to stop whatever the pump does (a fault beats everything), and
# those that tell them to fill, which are shown as such only while the pump is on.
STOP_STATES = frozenset({"refused", "expired", "fault"})
FILL_STATES = frozenset({"ready", "ready_warning", "overridden"})

# The panel's states: a session's own, and those the view adds (nothing read yet, a warning to note,
# monitor mode's would-be refusal, a fault). Each has a headline in the "attendant" catalogues.
PANEL_STATES: tuple[str, ...] = ("idle", *(s.value for s in SessionState), "ready_warning", "would_refuse", "fault")
# Faults with words of their own ("fault.<code>"); any other (a newer agent's) is "fault.other".
FAULT_CODES: tuple[str, ...] = (
    station_faults.INTERLOCK,
    station_faults.OUTBOX_FULL,
    station_faults.OUTBOX,
    station_faults.OUTBOX_CORRUPT,
    station_faults.READER,
    station_faults.AGENT,
    station_faults.CLOCK_SKEW,
    station_faults.METER,
)
# Refusals of the booth's actions said in one message each ("refusal.<code>"); the others take values.
PLAIN_REFUSALS = (overrides.MONITOR_MODE, overrides.NO_REFUSED_VEHICLE, overrides.BAD_CREDENTIALS, overrides.NOT_RECORDED)
INPUT_REFUSALS = (overrides.INPUT_EMPTY, overrides.INPUT_TOO_SHORT, overrides.INPUT_TOO_LONG, overrides.INPUT_INVALID)
TYPED_FIELDS = (ATTENDANT.field, SUPERVISOR.field, OVERRIDE_REASON.field)  # "field.<name>" names them


def headline_msgid(state: str) -> str:
    return f"headline.{state}"


def fault_msgid(code: str) -> str:
    return f"fault.{code}"


def refusal_msgid(code: str) -> str:
    return f"refusal.{code}"


def field_msgid(name: str) -> str:
    return f"field.{name}"


def dynamic_msgids() -> frozenset[str]:
    """The keys made from codes rather than written in a call: headlines, faults, refusals, fields."""
    return frozenset(
        [headline_msgid(state) for state in PANEL_STATES]
        + [fault_msgid(code) for code in FAULT_CODES]
        + [refusal_msgid(code) for code in (*PLAIN_REFUSALS, *INPUT_REFUSALS)]
        + [field_msgid(name) for name in TYPED_FIELDS]
    )


def station_time(policy: Policy, when: datetime) -> datetime:
    """`when` on the station's clock face (policy.timezone): what the page and the terminal show."""
    return when.astimezone(ZoneInfo(policy.timezone))


def cylinder_view(result: CylinderResult, refill_interval: timedelta | None = None) -> dict[str, Any]:
    decision = Decision(result.decision)
    return {
        "cylinder_id": result.cylinder_id,
        "tag_uid": result.tag_uid,
        "next_due": result.next_due.isoformat() if result.next_due else None,
        "decision": result.decision,
        "decision_text": in_every_language(partial(decision_text, decision)),
        "reasons": [texts_for(r, refill_interval=refill_interval) for r in result.reasons],
        "online": result.online,
    }


def _state(agent: ShownAgent, session: VehicleSession | None) -> str:
    if agent.fault is not None:
        return "fault"
    if session is None:
        return "idle"
    if not agent.policy.enforcing and session.state is SessionState.REFUSED:
        return "would_refuse"  # monitor mode blocks nothing: never "do not fill"
    if session.state is SessionState.READY and any(
        c.decision == Decision.ALLOW_WITH_WARNING.value for c in session.cylinders.values()
    ):
        return "ready_warning"
    return session.state.value


def screen(state: str, pump_on: bool) -> tuple[str, Look]:
    """The state shown and its look, so that the screen never says "fill" while the pump is off:
    a state that says stop is shown as stop whatever the pump does; otherwise a pump that is on is
    shown as on (monitor mode fills while it reads); a fill state whose pump is off shows the fill
    as over (only a moment before the agent closes the session can show one)."""
    if state in STOP_STATES:
        return state, STOP
    if pump_on:
        return state, FILL
    if state in FILL_STATES:
        return "done", IDLE
    if state == "collecting":
        return state, WAIT
    if state in ("idle", "done"):
        return state, IDLE
    return state, STOP


def _headline_text(key: str, session: VehicleSession | None, language: str) -> str:
    text = page_text(headline_msgid(key), language)
    if session is not None and session.state is SessionState.COLLECTING and session.expected:
        # How far the reading has got, whatever the panel says (a fault, monitor mode's would-refuse).
        return page_text("headline.read_count", language, headline=text, read=len(session.cylinders), expected=session.expected)
    return text


def _undelivered_text(count: int, language: str) -> str:
    return page_plural("problem.undelivered", "problem.undelivered.plural", count, language)


def _fault_text(fault: ActiveFault, policy: Policy, language: str) -> str:
    """A fault in the attendant's words, with the station's local time it began; its detail (an
    exception's text) goes to the log and to the bureau, never to the screen."""
    if fault.code in FAULT_CODES:
        problem = page_text(fault_msgid(fault.code), language)
    else:
        problem = page_text("fault.other", language)
    return page_text("fault.line", language, problem=problem, time=f"{station_time(policy, fault.since):%H:%M}")


def refusal_text(error: OverrideRefused, language: str) -> str:
    """Why the booth refused an action, in the attendant's words (the English message is for the log)."""
    values = error.values
    if isinstance(error, OverrideLocked):
        wait = max(1, math.ceil(error.retry_after_s))
        if wait < 60:
            return page_text("refusal.wait_seconds", language, seconds=wait)
        return page_text("refusal.wait_minutes", language, minutes=math.ceil(wait / 60))
    if error.code == overrides.CYLINDERS_MISSING:
        count = values.get("n")
        return page_plural(
            "refusal.cylinders_missing", "refusal.cylinders_missing.plural", count if isinstance(count, int) else 1, language
        )
    if error.code == overrides.NOT_OVERRIDABLE:
        codes = values.get("reasons")
        separator = page_text("page.list_separator", language)
        reasons = separator.join(text_for(str(code), language) for code in (codes if isinstance(codes, tuple) else ()))
        return page_text("refusal.not_overridable", language, reasons=reasons)
    if error.code in INPUT_REFUSALS:
        name = values.get("field")
        if name in TYPED_FIELDS:
            field = page_text(field_msgid(str(name)), language)
            return page_text(refusal_msgid(error.code), language, field=field, min=values.get("min"), max=values.get("max"))
    if error.code in PLAIN_REFUSALS:
        return page_text(refusal_msgid(error.code), language)
    return page_text("refusal.other", language)


def refusal_texts(error: OverrideRefused) -> dict[str, str]:
    return in_every_language(partial(refusal_text, error))


def snapshot(agent: ShownAgent) -> dict[str, Any]:
    session = agent.session
    pump_on = agent.pump.enabled
    key, look = screen(_state(agent, session), pump_on)
    sync = agent.sync.status if agent.sync is not None else None
    body: dict[str, Any] = {
        "version": agent.version,
        "station": agent.config.station_code,
        "pump": agent.config.pump,
        "mode": agent.policy.mode,
        "pump_enabled": pump_on,
        "attendant": agent.attendant,
        "registry_online": sync.online if sync is not None else None,
        "fault": agent.fault,
        "faults": [
            {
                "code": f.code,
                "detail": f.detail,  # for tools and the log; the page shows `text`
                "since": f.since.isoformat(),
                "blocks_pump": f.blocks_pump,
                "text": in_every_language(partial(_fault_text, f, agent.policy)),
            }
            for f in agent.faults.active()
        ],
        "undelivered": agent.undelivered,
        "undelivered_text": in_every_language(partial(_undelivered_text, agent.undelivered)) if agent.undelivered else None,
        "clock_offset_ms": agent.clock_offset.offset_ms(),
        "reader_problem": agent.reader_problem,
        "colour": look.colour,
        "shape": look.shape,
        "refusal_sound": agent.config.refusal_sound,
        "override_allowed": overrides.may_override(agent.config, session),
        "headline": in_every_language(partial(_headline_text, key, session)),
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
