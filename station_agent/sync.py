"""What the station keeps in step with the registry, in the background: scan events up (batches,
backoff, idempotent by event UUID), trust list and revocations down (by ETag and cursor).

The last good trust list and the revocations survive restarts in the outbox database; a trust
list with a lower sequence than the one held never replaces it (rollback protection).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509

from station_agent.errors import OutboxError, RegistryRejected, RegistryUnavailable
from station_agent.outbox import Outbox
from station_agent.registry_client import RegistryClient
from tag_tools.errors import TrustError
from tag_tools.revocations import CylinderRevocation, Revocations, revocations_from_json
from tag_tools.trustlist import TrustStore, parse_trust_list

log = logging.getLogger(__name__)

TRUST_KEY, ETAG_KEY, REVOCATIONS_KEY, CURSOR_KEY = "trust_list", "trust_list_etag", "revocations", "revocations_cursor"
REVOCATION_PAGE = 500


class TrustCache:
    """The trust store and revocations decisions use right now; replaced atomically on sync."""

    def __init__(self, outbox: Outbox, root: x509.Certificate, max_age: timedelta, initial: bytes | None = None) -> None:
        self.outbox = outbox
        self.root = root
        self.max_age = max_age
        self.store = TrustStore(root, max_age, None, problem_detail="no trust list yet: connect to the registry")
        self.sequence = -1
        saved = outbox.get_state(TRUST_KEY)
        for candidate, source in ((saved, "saved copy"), (initial, "initial file")):
            if candidate is not None:
                self.offer(candidate, source, persist=source != "saved copy")
        raw = outbox.get_state(REVOCATIONS_KEY)
        self.revocations = revocations_from_json(json.loads(raw)) if raw else Revocations()
        cursor = outbox.get_state(CURSOR_KEY)
        self.cursor = int(cursor) if cursor else 0

    def offer(self, blob: bytes, source: str, *, persist: bool = True) -> bool:
        """Adopt `blob` if it is authentic and newer than the list held. True when adopted."""
        try:
            sequence = parse_trust_list(blob, self.root).sequence
        except TrustError as error:
            log.error("trust list from %s rejected: %s", source, error)
            return False
        if sequence <= self.sequence:
            if sequence < self.sequence:
                log.warning("trust list from %s has sequence %d below the %d held: ignored", source, sequence, self.sequence)
            return False
        if persist:
            self.outbox.put_state(TRUST_KEY, blob)
        self.store = TrustStore.load(self.root, blob, self.max_age)
        self.sequence = sequence
        log.info("trust list sequence %d adopted from %s", sequence, source)
        return True

    def apply_revocations(self, items: list[dict[str, object]], cursor: int) -> None:
        cylinders = dict(self.revocations.cylinders)
        latest = dict(self.revocations.latest_sequence)
        for item in items:
            cylinder_id, kind = str(item.get("cylinder_id")), item.get("kind")
            if kind == "superseded":
                below = item.get("below_sequence")
                if isinstance(below, int):
                    latest[cylinder_id] = max(latest.get(cylinder_id, 0), below)
            else:
                try:
                    cylinders[cylinder_id] = CylinderRevocation(str(kind))
                except ValueError:
                    log.warning("unknown revocation kind %r for %s: ignored", kind, cylinder_id)
        self.revocations = Revocations(cylinders, latest)
        body = {"cylinders": {k: v.value for k, v in cylinders.items()}, "latest_sequence": latest}
        self.outbox.put_state(REVOCATIONS_KEY, json.dumps(body).encode())
        self.outbox.put_state(CURSOR_KEY, str(cursor).encode())
        self.cursor = cursor


@dataclass
class SyncStatus:
    online: bool | None = None  # None: not tried yet
    last_upload: datetime | None = None
    last_trust_sync: datetime | None = None
    last_error: str = ""
    backoff_s: float = 0.0
    history: list[str] = field(default_factory=list)


class SyncWorker:
    """One background thread: drain the outbox, then refresh trust data every `sync_interval`."""

    def __init__(
        self,
        outbox: Outbox,
        cache: TrustCache,
        client: RegistryClient,
        station_code: str,
        *,
        batch: int = 200,
        sync_interval_s: float = 60.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox, self.cache, self.client = outbox, cache, client
        self.station_code = station_code
        self.batch = batch
        self.sync_interval_s = sync_interval_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.status = SyncStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SyncWorker:
        self._thread = threading.Thread(target=self._run, name="registry-sync", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """New events are waiting: upload without waiting for the interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        next_trust = 0.0
        elapsed = 0.0
        while not self._stop.is_set():
            wait = self.sync_interval_s
            try:
                self.upload_pending()
                if elapsed >= next_trust:
                    next_trust = elapsed + self.sync_interval_s
                    self._sync_trust_logged()
                self.status.backoff_s = 0.0
                self.status.online = True
            except RegistryUnavailable as error:
                self.status.online = False
                self.status.last_error = str(error)
                self.status.backoff_s = min(self.max_backoff_s, max(0.5, self.status.backoff_s * 2))
                log.warning("registry unavailable (retry in %.1f s): %s", self.status.backoff_s, error)
                wait = self.status.backoff_s
                next_trust = elapsed  # refresh trust data as soon as the registry is back
            except OutboxError as error:
                self.status.last_error = str(error)
                log.error("outbox error in the sender: %s", error)
                wait = self.max_backoff_s
            except Exception as error:
                self.status.last_error = f"{type(error).__name__}: {error}"
                log.exception("unexpected error in the registry sync")
                wait = min(self.max_backoff_s, 5.0)
            self._wake.wait(wait)
            self._wake.clear()
            elapsed += wait  # coarse: trust sync is due at least every interval of waiting

    def _sync_trust_logged(self) -> None:
        """A rejected trust request (no list published yet, bad cursor) must not stop uploads."""
        try:
            self.sync_trust()
        except RegistryRejected as error:
            self.status.last_error = str(error)
            log.warning("trust data sync rejected: %s", error)

    def upload_pending(self) -> int:
        """Upload until the outbox is drained. Returns how many events the registry confirmed."""
        confirmed = 0
        while not self._stop.is_set():
            pending = self.outbox.unsent(self.batch)
            if not pending:
                break
            confirmed += self._upload(pending)
            if len(pending) < self.batch:
                break
        return confirmed

    def _upload(self, pending: list) -> int:  # type: ignore[type-arg]
        try:
            self.client.upload(self.station_code, [p.body["registry"] for p in pending])
        except RegistryRejected as error:
            if len(pending) == 1:
                log.error("registry rejected event %s for good: %s", pending[0].event_id, error)
                self.outbox.mark_rejected(pending[0].event_id, str(error))
                return 0
            # One bad event must not block the others: find it by sending them one at a time.
            return sum(self._upload([p]) for p in pending)
        self.outbox.mark_sent([p.event_id for p in pending], self.clock())
        self.status.last_upload = self.clock()
        return len(pending)

    def sync_trust(self) -> None:
        etag = self.outbox.get_state(ETAG_KEY)
        download = self.client.trust_list(etag.decode() if etag else None)
        if download is not None:
            if self.cache.offer(download.blob, "registry") and download.etag:
                self.outbox.put_state(ETAG_KEY, download.etag.encode())
        while True:
            page = self.client.revocations(self.cache.cursor, REVOCATION_PAGE)
            items = page.get("revocations", [])
            self.cache.apply_revocations(items, int(page.get("next_cursor", self.cache.cursor)))
            if not page.get("has_more"):
                break
        self.status.last_trust_sync = self.clock()
