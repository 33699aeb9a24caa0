"""The station's side of the registry's /api/v1 contract (schemas/registry-api.yaml), behind a
small protocol so the agent can be tested with an in-memory fake.

Every call has a time budget; a timeout, a refused connection or a 5xx is RegistryUnavailable
(decide offline, retry later), a 4xx other than auth/throttling is RegistryRejected (do not retry
the same request).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from station_agent.errors import RegistryRejected, RegistryUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrustListDownload:
    blob: bytes
    etag: str | None


class RegistryClient(Protocol):
    def status(self, plate: str | None, cylinder_id: str, tag_uid: str, budget_s: float) -> dict[str, Any]:
        """The registry's status of one cylinder (the `cylinders[0]` item of POST /status)."""

    def upload(self, station_code: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """POST a batch of scan events; the answer counts accepted and duplicate events."""

    def trust_list(self, etag: str | None) -> TrustListDownload | None:
        """The current signed trust list, or None when it is unchanged since `etag`."""

    def revocations(self, since: int, limit: int) -> dict[str, Any]:
        """Revocations with an id above `since`: {revocations, next_cursor, has_more}."""


class HttpRegistryClient:
    """requests over HTTP(S). One session per thread: the agent loop and the sync thread each get theirs."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "station-agent/0.1"}
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)
        return session

    def _request(self, method: str, path: str, timeout: float, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self._session().request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            raise RegistryUnavailable(f"{method} {path}: {type(error).__name__}: {error}") from error
        if response.status_code >= 500 or response.status_code in (401, 403, 408, 429):
            raise RegistryUnavailable(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            raise RegistryRejected(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response

    def status(self, plate: str | None, cylinder_id: str, tag_uid: str, budget_s: float) -> dict[str, Any]:
        body: dict[str, Any] = {"cylinders": [{"cylinder_id": cylinder_id, "tag_uid": tag_uid}]}
        if plate:
            body["plate"] = plate
        answer = self._request("POST", "/status", budget_s, json=body).json()
        try:
            item = answer["cylinders"][0]
            if not isinstance(item, dict):
                raise TypeError
        except (KeyError, IndexError, TypeError):
            raise RegistryUnavailable(f"unexpected /status answer: {str(answer)[:200]}") from None
        return item

    def upload(self, station_code: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        response = self._request("POST", f"/stations/{station_code}/scan-events", self.timeout_s, json={"events": events})
        return dict(response.json())

    def trust_list(self, etag: str | None) -> TrustListDownload | None:
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request("GET", "/trust-list", self.timeout_s, headers=headers)
        if response.status_code == 304:
            return None
        return TrustListDownload(response.content, response.headers.get("ETag"))

    def revocations(self, since: int, limit: int) -> dict[str, Any]:
        return dict(self._request("GET", "/revocations", self.timeout_s, params={"since": since, "limit": limit}).json())
