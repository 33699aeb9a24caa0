"""Vehicle sessions: the pump is enabled only when every cylinder the vehicle carries has been read
and allowed within the session window. One refused cylinder refuses the vehicle; a cylinder whose
record names another vehicle is refused as a registration mismatch.

Pure logic with time as a parameter: no I/O here (the agent assesses reads, commits events and
drives the pump around it). The session window runs on the monotonic clock (seconds, as from
time.monotonic): a wall clock stepped back must not keep a stale session alive, nor one stepped
forward end a live one. `started_at` (wall time) only dates the session for the refill rule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from station_agent.reasons import CYLINDER_MISSING, REGISTRATION_MISMATCH
from tag_tools.identifiers import plate_key, vin_key


class SessionState(StrEnum):
    COLLECTING = "collecting"  # some cylinders read, none refused, more to read
    READY = "ready"  # every cylinder read and allowed: the pump may run
    REFUSED = "refused"
    OVERRIDDEN = "overridden"  # refused, then released by a supervisor
    DONE = "done"  # fill finished or timed out
    EXPIRED = "expired"  # window closed before every cylinder was read


@dataclass(frozen=True)
class CylinderResult:
    """One read, judged: the local verdict merged with the registry's status when it answered."""

    tag_uid: str
    decision: str  # tag_tools Decision value
    reasons: tuple[str, ...]
    online: bool
    cylinder_id: str | None = None
    plate: str | None = None
    vin: str | None = None
    vehicle_cylinders: int | None = None
    next_due: date | None = None
    record_sequence: int | None = None
    read_counter: int | None = None
    detail: str = ""

    @property
    def refused(self) -> bool:
        return self.decision == "refuse"

    @property
    def key(self) -> str:
        return self.cylinder_id or self.tag_uid

    def refuse_with(self, reason: str, detail: str) -> CylinderResult:
        reasons = self.reasons if reason in self.reasons else (*self.reasons, reason)
        return replace(self, decision="refuse", reasons=reasons, detail="; ".join(filter(None, [self.detail, detail])))


@dataclass
class VehicleSession:
    started_at: datetime
    last_read_mono: float
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    plate: str | None = None
    vin: str | None = None
    expected: int | None = None
    cylinders: dict[str, CylinderResult] = field(default_factory=dict)
    state: SessionState = SessionState.COLLECTING
    override_by: str | None = None
    overridden_keys: frozenset[str] = frozenset()
    ended: bool = False  # a refused session closed by time or a fault: over, and still refused (see close)

    @property
    def finished(self) -> bool:
        return self.ended or self.state in (SessionState.DONE, SessionState.EXPIRED)

    @property
    def refused_cylinders(self) -> list[CylinderResult]:
        return [c for c in self.cylinders.values() if c.refused]

    @property
    def complete(self) -> bool:
        return self.expected is not None and len(self.cylinders) >= self.expected

    def expired(self, mono_now: float, window: timedelta) -> bool:
        idle = mono_now - self.last_read_mono
        return self.state in (SessionState.COLLECTING, SessionState.REFUSED) and idle > window.total_seconds()

    def add(self, result: CylinderResult, mono_now: float) -> CylinderResult:
        """Add a judged read; returns it, refused if it names another vehicle. Updates the state."""
        if self.plate is not None and result.plate is not None and not _same_vehicle(result, self.plate, self.vin):
            result = result.refuse_with(
                REGISTRATION_MISMATCH, f"record names {result.plate}/{result.vin}, session is {self.plate}/{self.vin}"
            )
        elif self.plate is None and result.plate is not None:
            self.plate, self.vin = result.plate, result.vin
        if result.vehicle_cylinders is not None and REGISTRATION_MISMATCH not in result.reasons:
            self.expected = max(self.expected or 0, result.vehicle_cylinders)
        earlier = self.cylinders.get(result.key)
        if earlier is not None and earlier.refused and not result.refused:
            # A refusal sticks for the session: re-reading after unplugging the network (offline,
            # without the registry's newer revocation) must not turn a refused cylinder into an allowed one.
            missing = tuple(r for r in earlier.reasons if r not in result.reasons)
            result = replace(
                result,
                decision="refuse",
                reasons=missing + result.reasons,
                detail="; ".join(filter(None, ["refused earlier in this session", result.detail])),
            )
        self.cylinders[result.key] = result
        self.last_read_mono = mono_now
        self._update_state()
        return result

    def _update_state(self) -> None:
        if self.state in (SessionState.DONE, SessionState.EXPIRED, SessionState.OVERRIDDEN):
            if self.state is SessionState.OVERRIDDEN and self.refused_cylinders and self._new_refusal():
                self.state = SessionState.REFUSED
            return
        if self.refused_cylinders:
            self.state = SessionState.REFUSED
        elif self.complete:
            self.state = SessionState.READY
        else:
            self.state = SessionState.COLLECTING

    def _new_refusal(self) -> bool:
        return any(c.key not in self.overridden_keys for c in self.refused_cylinders)

    def mark_overridden(self, supervisor: str) -> None:
        self.overridden_keys = frozenset(c.key for c in self.refused_cylinders)
        self.state = SessionState.OVERRIDDEN
        self.override_by = supervisor

    def missing(self) -> int:
        return max(0, (self.expected or 0) - len(self.cylinders))

    def close(self, state: SessionState) -> None:
        """End the session as `state`. A refused vehicle is not let off by time: closing it as EXPIRED
        (its window passed, or a fault ended it) ends the session but keeps it REFUSED, so the screen
        still says "do not fill" until the next vehicle, rather than "not every cylinder was read".
        The next read starts a new session either way (`finished`)."""
        if state is SessionState.EXPIRED and self.state is SessionState.REFUSED:
            self.ended = True
            return
        self.state = state

    @property
    def pump_allowed(self) -> bool:
        return self.state in (SessionState.READY, SessionState.OVERRIDDEN)

    def summary_reasons(self) -> list[str]:
        """Every distinct reason of the session, refusals first; a missing cylinder when incomplete."""
        seen: dict[str, None] = {}
        for cylinder in sorted(self.cylinders.values(), key=lambda c: not c.refused):
            for reason in cylinder.reasons:
                seen.setdefault(reason, None)
        if self.state is SessionState.EXPIRED and self.missing():
            seen.setdefault(CYLINDER_MISSING, None)
        return list(seen)


def _same_vehicle(result: CylinderResult, plate: str, vin: str | None) -> bool:
    """Plates and VINs compared in canonical form (tag_tools.identifiers): the signed bytes of two
    records may spell the same vehicle differently (a full-width letter, a space, lower case)."""
    if plate_key(result.plate or "") != plate_key(plate):
        return False
    if result.vin is None or vin is None:
        return result.vin == vin
    return vin_key(result.vin) == vin_key(vin)
