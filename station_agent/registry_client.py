"""The station's side of the registry's /api/v1 contract (schemas/registry-api.yaml), behind a
small protocol so the agent can be tested with an in-memory fake.

Every call is bounded by one deadline for the whole request (station_agent.deadline_http). Only a
well-formed problem+json refusal from the registry is RegistryRejected (do not retry that request);
everything else that is not the expected answer — no answer in time, a refused or reset connection,
a 5xx, 401/403/408/429, a redirect, a proxy's HTML page, a body that is not a JSON object — is
RegistryUnavailable: a network fault, decided offline and retried later.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlencode

from station_agent.clock_offset import ClockOffset
from station_agent.deadline_http import Answer, DeadlineHttp, ExchangeFailed
from station_agent.errors import RegistryRejected, RegistryUnavailable
from tag_tools import identifiers

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRIED_4XX = {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}


@dataclass(frozen=True)
class TrustListDownload:
    blob: bytes
    etag: str | None


class StatusAnswer(NamedTuple):
    """POST /status's answer: the cylinder's status, and the registry's word on what rode along."""

    status: dict[str, Any]  # the `cylinders[0]` item
    events: dict[str, Any]  # {received, accepted, duplicates} or {error}; {} when no events rode
    heartbeat: str | None  # "recorded" or why not; None when no heartbeat rode (or the registry said nothing)


class RegistryClient(Protocol):
    def status(
        self, plate: str | None, cylinder_id: str, tag_uid: str, budget_s: float, record_sequence: int | None = None
    ) -> dict[str, Any]:
        """The registry's status of one cylinder (the `cylinders[0]` item of POST /status). With the
        tag's record sequence, a registry that has not seen that record yet answers "unknown"."""

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
        """`status`, with pending scan events and the agent's heartbeat riding along; also returns
        the registry's word on them."""

    def upload(self, station_code: str, events: list[dict[str, Any]], heartbeat: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a batch of scan events, with the agent's heartbeat riding along when one is due; the
        answer counts accepted and duplicate events."""

    def heartbeat(
        self, station_code: str, heartbeat: dict[str, Any], reports: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """POST the agent's heartbeat alone (schemas/station-heartbeat.md), with pending fault reports
        riding as its "reports" member when given; the answer's "reports" counts them as /faults does."""

    def upload_faults(self, station_code: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
        """POST a batch of fault reports (schemas/station-fault-report.md)."""

    def trust_list(self, etag: str | None) -> TrustListDownload | None:
        """The current signed trust list, or None when it is unchanged since `etag`."""

    def revocations(self, since: int, limit: int) -> dict[str, Any]:
        """Revocations with an id above `since`: {revocations, next_cursor, has_more}."""

    def status_list(self, list_id: int, etag: str | None) -> TrustListDownload | None:
        """Signed status list `list_id`, or None when unchanged since `etag` (RegistryRejected: none yet)."""

    def station_policy(self, station_code: str, etag: str | None) -> TrustListDownload | None:
        """This station's signed central policy, or None when unchanged since `etag` (RegistryRejected: none yet)."""


def classify(method: str, path: str, answer: Answer) -> Answer:
    """The answer when it is a success; otherwise the error it stands for (see the module doc)."""
    what = f"{method} {path}: HTTP {answer.status}"
    if 200 <= answer.status < 300 or answer.status == HTTPStatus.NOT_MODIFIED:
        return answer
    if 400 <= answer.status < 500 and answer.status not in RETRIED_4XX:
        problem = _problem(answer)
        if problem is not None:
            raise RegistryRejected(f"{what} {problem.get('title', '')}: {str(problem.get('detail', ''))[:400]}")
        raise RegistryUnavailable(
            f"{what} without a problem+json body: not the registry's answer ({answer.content_type or 'no content type'})"
        )
    raise RegistryUnavailable(f"{what} {answer.body[:200]!r}", retry_after_s=_retry_after(answer))


def _problem(answer: Answer) -> dict[str, Any] | None:
    """The registry's RFC 9457 problem document, or None when the body is not one."""
    if answer.content_type != PROBLEM_JSON:
        return None
    try:
        problem = json.loads(answer.body)
    except ValueError:
        return None
    if not isinstance(problem, dict) or problem.get("status") != answer.status or not isinstance(problem.get("title"), str):
        return None
    return problem


def _retry_after(answer: Answer) -> float | None:
    value = answer.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare, and the back-off covers it


def json_object(method: str, path: str, answer: Answer) -> dict[str, Any]:
    """The body as a JSON object, or RegistryUnavailable: a 200 that is not JSON is not the registry's."""
    try:
        value = json.loads(answer.body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RegistryUnavailable(f"{method} {path}: HTTP {answer.status} but not a JSON object: {answer.body[:120]!r}")
    return value


class HttpRegistryClient:
    """The registry over HTTP(S), every call within its deadline. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        timezone: str | None = None,
        clock_offset: ClockOffset | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.timezone = timezone  # the station's zone: the registry judges "today" in it
        self.clock_offset = clock_offset
        self.wall_clock = wall_clock
        self._http = DeadlineHttp(self.base_url)
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "station-agent/0.1", "Accept": "application/json"}

    def _call(
        self, method: str, path: str, deadline_s: float, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        body = None
        merged = {**self._headers, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            merged["Content-Type"] = "application/json"
        try:
            answer = self._http.exchange(method, path, deadline_s=deadline_s, body=body, headers=merged)
        except ExchangeFailed as error:
            raise RegistryUnavailable(str(error)) from error
        return classify(method, path, answer)

    def _json(self, method: str, path: str, deadline_s: float, **kwargs: Any) -> dict[str, Any]:
        sent = self.wall_clock()
        answer = json_object(method, path, self._call(method, path, deadline_s, **kwargs))
        self._observe_clock(sent, answer.get("registry_time"))
        return answer

    def _observe_clock(self, sent: datetime, registry_time: object) -> None:
        if self.clock_offset is None or not isinstance(registry_time, str):
            return
        try:
            stamp = datetime.fromisoformat(registry_time)
        except ValueError:
            return
        if stamp.tzinfo is not None:
            self.clock_offset.observe(sent, self.wall_clock(), stamp)

    def status(
        self, plate: str | None, cylinder_id: str, tag_uid: str, budget_s: float, record_sequence: int | None = None
    ) -> dict[str, Any]:
        return self.status_with_events(plate, cylinder_id, tag_uid, budget_s, record_sequence, []).status

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
        # Identifiers in canonical form (tag_tools.identifiers); one the registry would refuse (an
        # old record's odd plate) is left out rather than cost the read its status answer.
        item: dict[str, Any] = {"cylinder_id": cylinder_id}
        uid = identifiers.canonical_or_none(identifiers.tag_uid, tag_uid, "tag_uid")
        if uid is not None:
            item["tag_uid"] = uid
        if record_sequence is not None:
            item["record_sequence"] = record_sequence
        body: dict[str, Any] = {"cylinders": [item]}
        canonical_plate = identifiers.canonical_or_none(identifiers.plate, plate, "plate") if plate else None
        if canonical_plate is not None:
            body["plate"] = canonical_plate
        if self.timezone:
            body["timezone"] = self.timezone
        if events:
            body["events"] = events
        if heartbeat is not None:
            body["heartbeat"] = heartbeat
        answer = self._json("POST", "/status", budget_s, json_body=body)
        cylinders = answer.get("cylinders")
        if not isinstance(cylinders, list) or not cylinders or not isinstance(cylinders[0], dict):
            raise RegistryUnavailable(f"unexpected /status answer: {str(answer)[:200]}")
        riders = answer.get("events")
        beat = answer.get("heartbeat") if heartbeat is not None else None
        return StatusAnswer(
            dict(cylinders[0]), dict(riders) if isinstance(riders, dict) else {}, str(beat) if beat is not None else None
        )

    def upload(self, station_code: str, events: list[dict[str, Any]], heartbeat: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"events": events}
        if heartbeat is not None:
            body["heartbeat"] = heartbeat
        return self._json("POST", f"/stations/{station_code}/scan-events", self.timeout_s, json_body=body)

    def heartbeat(
        self, station_code: str, heartbeat: dict[str, Any], reports: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body = heartbeat if not reports else {**heartbeat, "reports": reports}
        return self._json("POST", f"/stations/{station_code}/heartbeats", self.timeout_s, json_body=body)

    def upload_faults(self, station_code: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json("POST", f"/stations/{station_code}/faults", self.timeout_s, json_body={"reports": reports})

    def trust_list(self, etag: str | None) -> TrustListDownload | None:
        headers = {"If-None-Match": etag} if etag else {}
        answer = self._call("GET", "/trust-list", self.timeout_s, headers=headers)
        if answer.status == HTTPStatus.NOT_MODIFIED:
            return None
        return TrustListDownload(answer.body, answer.headers.get("ETag"))

    def status_list(self, list_id: int, etag: str | None) -> TrustListDownload | None:
        headers = {"If-None-Match": etag} if etag else {}
        answer = self._call("GET", f"/status-lists/{list_id}", self.timeout_s, headers=headers)
        if answer.status == HTTPStatus.NOT_MODIFIED:
            return None
        return TrustListDownload(answer.body, answer.headers.get("ETag"))

    def station_policy(self, station_code: str, etag: str | None) -> TrustListDownload | None:
        headers = {"If-None-Match": etag} if etag else {}
        answer = self._call("GET", f"/stations/{station_code}/policy", self.timeout_s, headers=headers)
        if answer.status == HTTPStatus.NOT_MODIFIED:
            return None
        return TrustListDownload(answer.body, answer.headers.get("ETag"))

    def revocations(self, since: int, limit: int) -> dict[str, Any]:
        return self._json("GET", f"/revocations?{urlencode({'since': since, 'limit': limit})}", self.timeout_s)

    def close(self) -> None:
        self._http.close()
