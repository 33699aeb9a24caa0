"""Judging one read: verify the record offline, apply the station's own rules, then ask the
registry within the time budget. The registry's status is authoritative when it answers (it knows
revocations newer than the last sync and which vehicle a cylinder is registered to); a refusal on
either side refuses. When it does not answer the decision is offline, and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from station_agent.breaker import RegistryBreaker
from station_agent.config import Policy
from station_agent.errors import RegistryRejected, RegistryUnavailable
from station_agent.outbox import Pending
from station_agent.reasons import CLOCK_UNSET, REFILLED_TOO_SOON
from station_agent.registry_client import RegistryClient
from station_agent.session import CylinderResult
from station_agent.sync import TrustCache
from station_agent.tagsource import TagReading
from tag_tools.verdict import Decision, Reason
from tag_tools.verify import VerificationPolicy, verify_tag

log = logging.getLogger(__name__)


class RiderSource(Protocol):
    """Pending events and the heartbeat, which may ride on a status request (station_agent.sync.SyncWorker)."""

    def take_riders(self) -> list[Pending]: ...

    def riders_delivered(self, riders: list[Pending], answer: dict[str, Any]) -> None: ...

    def take_heartbeat(self) -> dict[str, Any] | None: ...

    def heartbeat_delivered(self, answer: str | None) -> None: ...

    def heartbeat_refused_with_status(self) -> None: ...


EARLIEST_PLAUSIBLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)  # before this release existed: the clock is not set
UNKNOWN = "unknown"  # the registry's answer for a record newer than any it holds


class Assessor:
    def __init__(
        self,
        cache: TrustCache,
        policy: Policy,
        *,
        client: RegistryClient | None = None,
        budget_s: float = 0.3,
        last_fill: Callable[[str], datetime | None] = lambda _: None,
        breaker: RegistryBreaker | None = None,
        riders: RiderSource | None = None,
    ) -> None:
        self.cache = cache
        self.policy = policy
        self.client = client
        self.budget_s = budget_s
        self.last_fill = last_fill
        self.breaker = breaker or RegistryBreaker()
        self.riders = riders
        self.verification = VerificationPolicy(
            warning_days=policy.warning_days,
            refuse_non_genuine_chip=policy.refuse_non_genuine_chip,
            local_timezone=ZoneInfo(policy.timezone),
        )

    def assess(self, reading: TagReading, now: datetime, session_start: datetime | None = None) -> CylinderResult:
        """Judge one read. Fills recorded since `session_start` belong to the current session and do
        not count against the refill rule (a cylinder re-read during its own fill)."""
        verdict = verify_tag(
            reading.uid,
            reading.ndef_message or b"",
            trust=self.cache.store,
            now=now,
            revocations=self.cache.revocations,
            chip=reading.chip,
            policy=self.verification,
            status_lists=self.cache.status_lists.lists,
        )
        record = verdict.record
        if record is not None and record.status_ref is not None:
            self.cache.status_lists.want([record.status_ref.list_id])
        result = CylinderResult(
            tag_uid=reading.uid.hex().upper(),
            decision=verdict.decision.value,
            reasons=tuple(r.value for r in verdict.reasons),
            online=False,
            cylinder_id=str(record.cylinder_id) if record else None,
            plate=record.plate if record else None,
            vin=record.vin if record else None,
            vehicle_cylinders=record.vehicle_cylinders if record else None,
            next_due=record.next_due if record else None,
            record_sequence=record.sequence if record else None,
            read_counter=reading.read_counter,
            detail=verdict.detail,
        )
        if now < EARLIEST_PLAUSIBLE_TIME:
            # A box that booted with no RTC battery and no time sync yet: every date check would be
            # meaningless. Refuse with a clear reason; the next read after time syncs is judged normally.
            return result.refuse_with(CLOCK_UNSET, f"station clock reads {now.isoformat()}: wait for time sync")
        if result.cylinder_id is None:
            return result  # nothing trustworthy to ask the registry about
        result = self._frequency(result, now, session_start)
        return self._ask_registry(result)

    def _frequency(self, result: CylinderResult, now: datetime, session_start: datetime | None) -> CylinderResult:
        interval = self.policy.min_refill_interval
        if not interval or result.cylinder_id is None:
            return result
        last = self.last_fill(result.cylinder_id)
        if last is not None and session_start is not None and last >= session_start:
            return result
        if last is not None and last > now:
            # The wall clock was stepped back since that fill: the gap cannot be measured, and a
            # fill "in the future" must not refuse every vehicle until the clock catches up.
            log.warning("last fill of %s is after now (%s > %s): clock stepped back", result.cylinder_id, last, now)
            return result
        if last is not None and now - last < interval:
            return result.refuse_with(REFILLED_TOO_SOON, f"last filled {last.isoformat()}")
        return result

    def _ask_registry(self, result: CylinderResult) -> CylinderResult:
        if self.client is None or result.cylinder_id is None:
            return result
        if not self.breaker.allow():
            return result  # the registry is known down: decide offline now, not after the budget
        riders = self.riders.take_riders() if self.riders is not None else []
        heartbeat = self.riders.take_heartbeat() if self.riders is not None else None
        try:
            status, stored, beat = self.client.status_with_events(
                result.plate,
                result.cylinder_id,
                result.tag_uid,
                self.budget_s,
                result.record_sequence,
                [p.body["registry"] for p in riders],
                heartbeat=heartbeat,
            )
        except RegistryUnavailable as error:
            self.breaker.failure(error.retry_after_s)
            log.info("deciding offline: %s", error)
            return result
        except RegistryRejected as error:
            self.breaker.success()  # it answered: reachable, though it refused this request
            if heartbeat is not None and self.riders is not None:
                self.riders.heartbeat_refused_with_status()
            log.info("deciding offline: %s", error)
            return result
        self.breaker.success()
        if self.riders is not None:
            self.riders.riders_delivered(riders, stored)
            if heartbeat is not None:
                self.riders.heartbeat_delivered(beat)
        if status.get("decision") == UNKNOWN:
            # The registry has not yet seen the record on this tag (it lags the centre's upload): its
            # older view must not override a newer signed record. Keep the offline verdict.
            log.info("registry does not know record %s of %s yet: deciding offline", result.record_sequence, result.cylinder_id)
            return result
        reasons = [r for r in status.get("reasons", []) if isinstance(r, str)]
        merged = result.reasons + tuple(r for r in reasons if r not in result.reasons)
        decision = result.decision
        if status.get("decision") == Decision.REFUSE.value:
            decision = Decision.REFUSE.value
        elif decision == Decision.ALLOW.value and status.get("decision") == Decision.ALLOW_WITH_WARNING.value:
            decision = Decision.ALLOW_WITH_WARNING.value
        if decision != Decision.REFUSE.value and Reason.DUE_SOON.value in merged and decision == Decision.ALLOW.value:
            decision = Decision.ALLOW_WITH_WARNING.value
        detail = result.detail
        if status.get("decision") == Decision.REFUSE.value:
            detail = "; ".join(filter(None, [detail, f"registry: {', '.join(reasons)}"]))
        return CylinderResult(**{**result.__dict__, "decision": decision, "reasons": merged, "online": True, "detail": detail})
