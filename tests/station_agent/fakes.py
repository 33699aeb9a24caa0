"""In-memory stand-ins for the registry and the clock, shared by the station agent's unit tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from station_agent.errors import RegistryRejected, RegistryUnavailable
from station_agent.registry_client import StatusAnswer, TrustListDownload


@dataclass
class Clock:
    """A wall clock and a monotonic clock that pass time together (`advance`); `step` moves the
    wall clock alone, as an NTP step or an operator would."""

    now: datetime
    mono: float = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
        self.mono += timedelta(**delta).total_seconds()

    def step(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class FakeRegistry:
    """Answers like registry_service's /api/v1 station endpoints; `down` makes every call fail."""

    down: bool = False
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # cylinder id -> status item
    received: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> event
    uploads: int = 0
    reject_event_ids: set[str] = field(default_factory=set)
    trust_blob: bytes | None = None
    revocation_feed: list[dict[str, Any]] = field(default_factory=list)
    status_calls: int = 0
    status_attempts: int = 0  # including those that failed because the registry was down
    trust_list_calls: int = 0
    revocation_calls: int = 0
    riders: int = 0  # events that rode on status requests
    status_blobs: dict[int, bytes] = field(default_factory=dict)  # list id -> signed status list
    fault_reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # report id -> report
    heartbeats: list[dict[str, Any]] = field(default_factory=list)  # as received, alone or riding
    heartbeats_alone: int = 0  # requests that carried only a heartbeat
    heartbeats_on_status: int = 0  # heartbeats recorded from status requests
    older_status: bool = False  # refuse a status request carrying a heartbeat, as a registry without the member
    status_with_heartbeat: int = 0  # status requests that carried one (recorded or not)
    reject_heartbeats: bool = False  # refuse every heartbeat as the registry refuses a malformed one
    # Fault reports riding on a heartbeat sent alone: None stores and counts them all; a number stores
    # and counts only that many of each batch (a short count); riding_reports_uncounted: an answer
    # without the "reports" member, as a registry that ignored them.
    riding_reports_stored: int | None = None
    riding_reports_uncounted: bool = False
    reports_on_heartbeats: int = 0  # reports received riding on heartbeats sent alone
    fault_uploads: int = 0  # POST /faults requests that arrived
    policy_blob: bytes | None = None  # the station's signed central policy (None: 404)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _check(self) -> None:
        if self.down:
            raise RegistryUnavailable("connection refused (fake)")

    def status_with_events(
        self,
        plate: str | None,
        cylinder_id: str,
        tag_uid: str,
        budget_s: float,
        record_sequence: int | None,
        events: list[dict[str, Any]],
        heartbeat: dict[str, Any] | None = None,
    ) -> StatusAnswer:
        if heartbeat is not None:
            self.status_with_heartbeat += 1
            if self.older_status:
                raise RegistryRejected("HTTP 422 Unprocessable Content: unknown field(s) heartbeat (fake)")
        item = self.status(plate, cylinder_id, tag_uid, budget_s, record_sequence)
        beat = None if heartbeat is None else self._riding_heartbeat(heartbeat)
        if not events:
            return StatusAnswer(item, {}, beat)
        if any(e["event_id"] in self.reject_event_ids for e in events):
            return StatusAnswer(item, {"error": "events[0]: bad event (fake)"}, beat)
        self.riders += len(events)
        return StatusAnswer(item, self._store(events), beat)

    def _riding_heartbeat(self, heartbeat: dict[str, Any]) -> str:
        """As the registry answers a heartbeat on a status request: recorded, or why not (never raised)."""
        try:
            self._heartbeat(heartbeat)
        except RegistryRejected as error:
            return str(error)
        with self.lock:
            self.heartbeats_on_status += 1
        return "recorded"

    def status(
        self, plate: str | None, cylinder_id: str, tag_uid: str, budget_s: float, record_sequence: int | None = None
    ) -> dict[str, Any]:
        self.status_attempts += 1
        self._check()
        self.status_calls += 1
        return self.statuses.get(cylinder_id, {"cylinder_id": cylinder_id, "decision": "allow", "reasons": []})

    def upload(self, station_code: str, events: list[dict[str, Any]], heartbeat: dict[str, Any] | None = None) -> dict[str, Any]:
        self._check()
        if any(e["event_id"] in self.reject_event_ids for e in events):
            raise RegistryRejected("HTTP 400 bad event (fake)")
        if heartbeat is not None:
            self._heartbeat(heartbeat)
        with self.lock:
            self.uploads += 1
        return self._store(events)

    def heartbeat(
        self, station_code: str, heartbeat: dict[str, Any], reports: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        self._check()
        self._heartbeat(heartbeat)
        with self.lock:
            self.heartbeats_alone += 1
        answer: dict[str, Any] = {"registry_time": "2026-11-22T08:00:00.000Z"}
        if reports and not self.riding_reports_uncounted:
            with self.lock:
                self.reports_on_heartbeats += len(reports)
            answer["reports"] = self._store_reports(reports[: self.riding_reports_stored])
        return answer

    def _heartbeat(self, heartbeat: dict[str, Any]) -> None:
        if self.reject_heartbeats:
            raise RegistryRejected("HTTP 422 heartbeat: bad heartbeat (fake)")
        with self.lock:
            self.heartbeats.append(heartbeat)

    def _store(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            fresh = [e for e in events if e["event_id"] not in self.received]
            for event in fresh:
                self.received[event["event_id"]] = event
        return {"received": len(events), "accepted": len(fresh), "duplicates": len(events) - len(fresh)}

    def upload_faults(self, station_code: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
        self._check()
        with self.lock:
            self.fault_uploads += 1
        return self._store_reports(reports)

    def _store_reports(self, reports: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            fresh = [r for r in reports if r["report_id"] not in self.fault_reports]
            self.fault_reports.update({r["report_id"]: r for r in fresh})
        return {"received": len(reports), "accepted": len(fresh), "duplicates": len(reports) - len(fresh)}

    def status_list(self, list_id: int, etag: str | None) -> TrustListDownload | None:
        self._check()
        blob = self.status_blobs.get(list_id)
        if blob is None:
            raise RegistryRejected(f"HTTP 404 no status list {list_id} (fake)")
        tag = f'"{list_id}-{len(blob)}-{hash(blob)}"'
        return None if etag == tag else TrustListDownload(blob, tag)

    def station_policy(self, station_code: str, etag: str | None) -> TrustListDownload | None:
        self._check()
        if self.policy_blob is None:
            raise RegistryRejected(f"HTTP 404 no policy for {station_code} (fake)")
        tag = f'"{hash(self.policy_blob)}"'
        return None if etag == tag else TrustListDownload(self.policy_blob, tag)

    def trust_list(self, etag: str | None) -> TrustListDownload | None:
        self.trust_list_calls += 1
        self._check()
        return TrustListDownload(self.trust_blob, None) if self.trust_blob else None

    def revocations(self, since: int, limit: int) -> dict[str, Any]:
        self.revocation_calls += 1
        self._check()
        items = [r for r in self.revocation_feed if r["id"] > since][:limit]
        return {
            "revocations": items,
            "next_cursor": items[-1]["id"] if items else since,
            "has_more": len([r for r in self.revocation_feed if r["id"] > since]) > limit,
        }
