"""What the station keeps in step with the registry, in the background: scan events and fault
reports up (batches, backoff, idempotent by UUID), trust list and revocations down (by ETag and
cursor).

Only the registry's own problem+json refusal of one event parks it for good, and that produces a
fault report the bureau sees; a network fault of any shape is retried (station_agent.registry_client).

The last good trust list and the revocations survive restarts in the outbox database; a trust
list with a lower sequence than the one held never replaces it (rollback protection).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from station_agent.breaker import RegistryBreaker
from station_agent.central_policy import CentralPolicy
from station_agent.errors import OutboxError, RegistryRejected, RegistryUnavailable
from station_agent.outbox import Outbox, Pending
from station_agent.registry_client import RegistryClient
from station_agent.status_lists import StatusListCache
from tag_tools.errors import TrustError
from tag_tools.revocations import CylinderRevocation, Revocations, revocations_from_json
from tag_tools.trustlist import TrustList, TrustStore, check_succession, parse_trust_list

log = logging.getLogger(__name__)

TRUST_KEY, ETAG_KEY, REVOCATIONS_KEY, CURSOR_KEY = "trust_list", "trust_list_etag", "revocations", "revocations_cursor"
REVOCATION_PAGE = 500
REPORT_BATCH = 100
TRUST_LIST_EVERY = 4  # with the default 15-minute interval: the trust list hourly, status data every interval
RIDERS_PER_STATUS = 20  # events riding on one status request: a few KiB, well inside the read's budget
# A status request carries the heartbeat from this share of its interval before it is due: a pump
# with a read at least every quarter interval never sends one alone, and no beat goes early by more.
HEARTBEAT_RIDES_EARLY = 0.25
# After a status request carrying a heartbeat was refused as a whole (a registry older than the
# "heartbeat" member), reads stop carrying it for this long: a heartbeat must never cost reads their answer.
HEARTBEAT_RIDE_PAUSE_S = 3600.0
# Pending fault reports ride on a heartbeat sent alone. One still waiting this many heartbeat
# intervals after the sync thread first saw it (beats riding on reads, none built, none recorded)
# goes by its own request (POST /faults), so every report reaches the registry within minutes; and
# never later than one trust-sync interval, when reports went before they could ride.
REPORT_RIDE_WAIT = 2.0
# After a heartbeat carrying reports was refused, or answered without counting them (a registry
# older than the member), heartbeats carry none for this long and the reports go by /faults.
REPORT_RIDE_PAUSE_S = 3600.0


class TrustCache:
    """The trust store and revocations decisions use right now; replaced atomically on sync.

    A new trust list replaces the one held only when it is authentic at the station's time (the
    root's signature, or a list signer the root certified and has not revoked) and may succeed it
    (tag_tools.trustlist.check_succession: no rollback, no list from a signer the root revoked)."""

    def __init__(
        self,
        outbox: Outbox,
        root: x509.Certificate,
        max_age: timedelta,
        initial: bytes | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox = outbox
        self.root = root
        self.max_age = max_age
        self.clock = clock
        self.store = TrustStore(root, max_age, None, problem_detail="no trust list yet: connect to the registry")
        self.trust_list: TrustList | None = None
        saved = outbox.get_state(TRUST_KEY)
        for candidate, source in ((saved, "saved copy"), (initial, "initial file")):
            if candidate is not None:
                self.offer(candidate, source, persist=source != "saved copy")
        self.status_lists = StatusListCache(outbox, lambda: self.trust_list, clock)
        raw = outbox.get_state(REVOCATIONS_KEY)
        self.revocations = revocations_from_json(json.loads(raw)) if raw else Revocations()
        cursor = outbox.get_state(CURSOR_KEY)
        self.cursor = int(cursor) if cursor else 0

    @property
    def sequence(self) -> int:
        return self.trust_list.sequence if self.trust_list is not None else -1

    def offer(self, blob: bytes, source: str, *, persist: bool = True) -> bool:
        """Adopt `blob` if it is authentic now and may follow the list held. True when adopted."""
        now = self.clock()
        try:
            candidate = parse_trust_list(blob, self.root, now=now)
            if self.trust_list is not None and candidate.sequence == self.trust_list.sequence:
                return False  # the list held, again
            check_succession(self.trust_list, candidate)
        except TrustError as error:
            log.error("trust list from %s rejected: %s", source, error)
            return False
        if persist:
            self.outbox.put_state(TRUST_KEY, blob)
        self.store = TrustStore.load(self.root, blob, self.max_age, now=now)
        self.trust_list = candidate
        log.info("trust list sequence %d adopted from %s", candidate.sequence, source)
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


class SyncWorker:
    """One background thread. Pending events ride on the next read's status request
    (`take_riders`/`riders_delivered`), so a busy pump needs no upload request at all; what is
    still pending `upload_debounce_s` after the last ride (an idle pump, offline decisions) goes up
    in one batch. The heartbeat rides on a read's status request too when it is (nearly) due
    (`take_heartbeat`/`heartbeat_delivered`), else on an upload, else goes alone. Trust data is
    refreshed on its own schedule (`sync_interval_s`, jittered within its last 10 % so that
    stations spread out), never because of a read. Failures back off with jitter through
    the breaker the read path shares."""

    def __init__(
        self,
        outbox: Outbox,
        cache: TrustCache,
        client: RegistryClient,
        station_code: str,
        *,
        pump: int | None = None,
        batch: int = 200,
        sync_interval_s: float = 60.0,
        max_backoff_s: float = 300.0,
        upload_debounce_s: float = 300.0,
        breaker: RegistryBreaker | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        uniform: Callable[[float, float], float] = random.uniform,
        heartbeat: Callable[[], dict[str, Any]] | None = None,
        heartbeat_s: float = 60.0,
    ) -> None:
        self.outbox, self.cache, self.client = outbox, cache, client
        self.station_code = station_code
        self.pump = pump
        self.batch = batch
        self.sync_interval_s = sync_interval_s
        self.max_backoff_s = max_backoff_s
        self.upload_debounce_s = upload_debounce_s
        self.breaker = breaker or RegistryBreaker(max_backoff_s=max_backoff_s, monotonic=monotonic, uniform=uniform)
        self.clock = clock
        self.monotonic = monotonic
        self.uniform = uniform
        self.status = SyncStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._upload_at: float | None = 0.0  # monotonic time of the next upload; None: nothing waiting
        self._trust_at = 0.0  # monotonic time of the next trust-data refresh
        self._retry_at = 0.0  # no exchange before this (back-off after a failure)
        self._syncs = 0  # trust-data syncs that got past the trust list
        # The heartbeat (station_agent/heartbeat.py): built when sent, never queued; it rides on a
        # status request or an upload that goes anyway, else goes alone. None: this worker sends none.
        self.heartbeat = heartbeat
        self.heartbeat_s = heartbeat_s
        self.heartbeats_sent = 0
        self._heartbeat_at = 0.0  # monotonic time the next heartbeat is due
        self._rider: dict[str, Any] | None = None  # the heartbeat for the next upload request
        self._rider_delivered = False
        self._status_rides_after = 0.0  # monotonic time from which status requests may carry the heartbeat
        self.heartbeats_on_status = 0  # of heartbeats_sent, those that rode on a status request
        self.reports_on_heartbeats = 0  # fault reports a heartbeat sent alone delivered
        self._reports_ride_after = 0.0  # monotonic time from which heartbeats may carry reports
        # The oldest pending report and when this thread first saw it: the clock of REPORT_RIDE_WAIT.
        # Only in memory: after a restart a report waits at most REPORT_RIDE_WAIT intervals more.
        self._report_head: tuple[str, float] | None = None
        self.central_policy: CentralPolicy | None = None  # set by the agent; refreshed with the trust data

    def start(self) -> SyncWorker:
        self._thread = threading.Thread(target=self._run, name="registry-sync", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """New events are waiting: upload them within `upload_debounce_s` unless they ride on a
        status request first (not at once: the next reads of a busy pump carry them for free)."""
        if self._upload_at is None:
            self._upload_at = self.monotonic() + self.upload_debounce_s
            self._wake.set()

    def take_riders(self, limit: int = RIDERS_PER_STATUS) -> list[Pending]:
        """Pending events for the next status request (none while the registry is known down)."""
        if self.breaker.is_open:
            return []
        try:
            return self.outbox.unsent(limit)
        except OutboxError as error:
            log.warning("no riders: %s", error)
            return []

    def riders_delivered(self, riders: list[Pending], answer: dict[str, Any]) -> None:
        """The registry's word on riding events: stored (all of them, new or duplicate) marks them
        sent and pushes the batch upload back; anything else leaves them for the upload path."""
        if not riders:
            return
        stored = answer.get("accepted", 0) + answer.get("duplicates", 0) if "error" not in answer else 0
        if stored != len(riders):
            log.info("riding events not stored (%s): they go by upload", answer.get("error", answer))
            return
        try:
            self.outbox.mark_sent([p.event_id for p in riders], self.clock())
        except OutboxError as error:
            log.warning("cannot mark riding events sent (they will be sent again, harmlessly): %s", error)
            return
        self.status.last_upload = self.clock()
        self._upload_at = self.monotonic() + self.upload_debounce_s

    def take_heartbeat(self) -> dict[str, Any] | None:
        """The heartbeat for the next status request, when one is due or nearly (HEARTBEAT_RIDES_EARLY);
        None otherwise, and while the registry is known down."""
        if self.heartbeat is None or self.breaker.is_open:
            return None
        now = self.monotonic()
        if now < self._status_rides_after or now < self._heartbeat_at - HEARTBEAT_RIDES_EARLY * self.heartbeat_s:
            return None
        return self._heartbeat_body()

    def heartbeat_delivered(self, answer: str | None) -> None:
        """The registry's word on a heartbeat that rode on a status request: "recorded" restarts the
        interval. Anything else leaves the beat due: the sync thread sends it alone when due (a refusal
        there names what is wrong) and reads carry none for one interval."""
        if answer == "recorded":
            self.heartbeats_on_status += 1
            self._heartbeat_sent()
            return
        log.info("heartbeat on a status request not recorded (%s): it goes alone", answer)
        self._status_rides_after = max(self._status_rides_after, self.monotonic() + self.heartbeat_s)

    def heartbeat_refused_with_status(self) -> None:
        """A status request carrying the heartbeat was refused as a whole: perhaps a registry that does
        not know the member. Reads carry none for a while; the sync thread sends it alone meanwhile."""
        log.warning("a status request with a heartbeat was refused: reads carry none for %.0f s", HEARTBEAT_RIDE_PAUSE_S)
        self._status_rides_after = self.monotonic() + HEARTBEAT_RIDE_PAUSE_S

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> float:
        """Do whatever is due now; returns how long the thread may sleep before the next duty."""
        now = self.monotonic()
        if now < self._retry_at:
            return self._retry_at - now
        try:
            beat_due = self.heartbeat is not None and now >= self._heartbeat_at
            if self._upload_at is not None and now >= self._upload_at:
                self._upload_at = None
                self._rider, self._rider_delivered = (self._heartbeat_body() if beat_due else None), False
                try:
                    self.upload_pending()
                finally:
                    self._rider = None
                if self._rider_delivered:
                    self._heartbeat_sent()
                    beat_due = False
                self._upload_reports_due()
            if beat_due:
                self.send_heartbeat()
            if now >= self._trust_at:
                self._sync_trust_logged()
                # Jitter spreads the fleet, but only earlier: a revocation must reach every station
                # within one interval (plus the registry's publishing).
                self._trust_at = self.monotonic() + self.sync_interval_s * self.uniform(0.9, 1.0)
                self._upload_reports_due()
            elif self.heartbeat is not None:
                self._upload_reports_due()  # those that waited too long for a ride
            self.breaker.success()
            self.status.backoff_s = 0.0
            self.status.online = True
        except RegistryUnavailable as error:
            wait = self.breaker.failure(error.retry_after_s)
            self.status.online = False
            self.status.last_error = str(error)
            self.status.backoff_s = wait
            log.warning("registry unavailable (retry in %.1f s): %s", wait, error)
            self._retry_at = self.monotonic() + wait
            self._upload_at = self._upload_at if self._upload_at is not None else self._retry_at
            self._trust_at = min(self._trust_at, self._retry_at)  # refresh as soon as it is back
        except OutboxError as error:
            self.status.last_error = str(error)
            log.error("outbox error in the sender: %s", error)
            self._retry_at = self.monotonic() + min(self.max_backoff_s, 5.0)
            self._upload_at = self._upload_at if self._upload_at is not None else self._retry_at
        due = min(
            [self._trust_at]
            + ([self._upload_at] if self._upload_at is not None else [])
            + ([self._heartbeat_at] if self.heartbeat is not None else [])
            + ([self._report_head[1] + self._report_wait_s] if self.heartbeat is not None and self._report_head else [])
        )
        return max(0.0, max(due, self._retry_at) - self.monotonic())

    def send_heartbeat(self) -> None:
        """Send the heartbeat alone, with up to REPORT_BATCH pending fault reports riding on it.
        RegistryUnavailable goes to the caller's back-off (the beat stays due, the reports pending);
        a refusal is logged and the next beat is sent on schedule, not retried at once."""
        body = self._heartbeat_body()
        if body is not None:
            reports = self._reports_to_ride()
            try:
                answer = self._post_heartbeat(body, reports)
            except RegistryRejected as error:
                self.status.last_error = str(error)
                log.error("registry refused the heartbeat: %s", error)
                self._heartbeat_at = self.monotonic() + self.heartbeat_s
                return
            self._reports_delivered(reports, answer)
        self._heartbeat_sent()

    def _post_heartbeat(self, body: dict[str, Any], reports: list[dict[str, Any]]) -> dict[str, Any]:
        if not reports:
            return self.client.heartbeat(self.station_code, body)
        try:
            return self.client.heartbeat(self.station_code, body, reports=reports)
        except RegistryRejected as error:
            # Perhaps a registry without the member, perhaps the beat itself: never let the reports
            # cost the heartbeat. It goes again without them; they go by /faults (run_once) for a while.
            log.warning("heartbeat with %d fault report(s) refused (%s): sending it without them", len(reports), error)
            self._reports_ride_after = self.monotonic() + REPORT_RIDE_PAUSE_S
            return self.client.heartbeat(self.station_code, body)

    def _reports_to_ride(self) -> list[dict[str, Any]]:
        """The pending fault reports for a heartbeat sent alone (none while rides are paused)."""
        if self.monotonic() < self._reports_ride_after:
            return []
        try:
            reports = self.outbox.unsent_reports(REPORT_BATCH)
        except OutboxError as error:
            log.warning("no reports on the heartbeat: %s", error)
            return []
        self._note_head(reports)
        return reports

    def _reports_delivered(self, reports: list[dict[str, Any]], answer: dict[str, Any]) -> None:
        """The registry's word on riding reports: counted all (new or duplicate) marks them sent;
        a short count leaves them for the next ride or /faults. No count at all: a registry that
        ignores the member (never ours), so rides pause and /faults takes them."""
        if not reports:
            return
        counts = answer.get("reports")
        if not isinstance(counts, dict):
            log.warning("the heartbeat's answer does not count its reports: they go by /faults for a while")
            self._reports_ride_after = self.monotonic() + REPORT_RIDE_PAUSE_S
            return
        stored = sum(n for n in (counts.get("accepted"), counts.get("duplicates")) if isinstance(n, int))
        if stored != len(reports):
            log.info("fault reports on the heartbeat not all stored (%s of %d): they go again", stored, len(reports))
            return
        try:
            self.outbox.mark_reports_sent([str(r["report_id"]) for r in reports], self.clock())
        except OutboxError as error:
            log.warning("cannot mark riding reports sent (they will be sent again, harmlessly): %s", error)
            return
        self.reports_on_heartbeats += len(reports)
        self._report_head = None  # the next pending one (if any) starts its wait when seen

    @property
    def _report_wait_s(self) -> float:
        return min(REPORT_RIDE_WAIT * self.heartbeat_s, self.sync_interval_s)

    def _note_head(self, reports: list[dict[str, Any]]) -> None:
        """Start the wait of the oldest pending report when it first shows (oldest first: reports[0])."""
        if not reports:
            self._report_head = None
        elif self._report_head is None or self._report_head[0] != str(reports[0].get("report_id")):
            self._report_head = (str(reports[0].get("report_id")), self.monotonic())

    def _upload_reports_due(self) -> None:
        """Send pending fault reports by their own request when no heartbeat will carry them soon:
        without a heartbeat duty, while rides are paused, or once the oldest waited REPORT_RIDE_WAIT."""
        if self.heartbeat is not None and self.monotonic() >= self._reports_ride_after:
            self._note_head(self.outbox.unsent_reports(1))
            if self._report_head is None or self.monotonic() < self._report_head[1] + self._report_wait_s:
                return
        self.upload_reports()
        # What is left (refused by /faults, or newer) waits again from when it is next seen: a refused
        # batch is retried after REPORT_RIDE_WAIT, not in a loop.
        self._report_head = None

    def _heartbeat_body(self) -> dict[str, Any] | None:
        if self.heartbeat is None:
            return None
        try:
            return self.heartbeat()
        except Exception:  # a bug in building it must not stop uploads or the trust sync
            log.exception("cannot build the heartbeat")
            return None

    def _heartbeat_sent(self) -> None:
        self.heartbeats_sent += 1
        self._heartbeat_at = self.monotonic() + self.heartbeat_s

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception as error:
                self.status.last_error = f"{type(error).__name__}: {error}"
                log.exception("unexpected error in the registry sync")
                wait = min(self.max_backoff_s, 5.0)
            self._wake.wait(wait)
            self._wake.clear()

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
        heartbeat, self._rider = self._rider, None  # rides on the first request only
        try:
            self.client.upload(self.station_code, [p.body["registry"] for p in pending], heartbeat=heartbeat)
        except RegistryRejected as error:
            if heartbeat is not None:
                # Perhaps the heartbeat was refused, not an event: never let it cost an event. The
                # batch goes again without it, and the heartbeat alone (run_once) shows which it was.
                log.warning("upload with a heartbeat refused (%s): sending the events without it", error)
                return self._upload(pending)
            if len(pending) == 1:
                log.error("registry rejected event %s for good: %s", pending[0].event_id, error)
                self.outbox.mark_rejected(pending[0].event_id, str(error), at=self.clock(), pump=self.pump)
                return 0
            # One bad event must not block the others: find it by sending them one at a time.
            return sum(self._upload([p]) for p in pending)
        self._rider_delivered = self._rider_delivered or heartbeat is not None
        self.outbox.mark_sent([p.event_id for p in pending], self.clock())
        self.status.last_upload = self.clock()
        return len(pending)

    def upload_reports(self) -> int:
        """Send the fault reports waiting in the outbox. The registry accepts every well-formed
        batch (schemas/station-fault-report.md); a refusal is logged and the reports stay queued."""
        sent = 0
        while not self._stop.is_set():
            reports = self.outbox.unsent_reports(REPORT_BATCH)
            if not reports:
                break
            try:
                self.client.upload_faults(self.station_code, reports)
            except RegistryRejected as error:
                self.status.last_error = str(error)
                log.error("registry refused %d fault report(s): %s", len(reports), error)
                break
            self.outbox.mark_reports_sent([str(r["report_id"]) for r in reports], self.clock())
            sent += len(reports)
            if len(reports) < REPORT_BATCH:
                break
        return sent

    def sync_trust(self) -> None:
        """Refresh trust data: the revocation feed and the status lists every time, the trust list
        (which the bureau publishes weekly) and the central policy (changed rarely: it reaches the
        station within an hour, not a sync interval) every TRUST_LIST_EVERY syncs and on the first."""
        slow_data_due = self._syncs % TRUST_LIST_EVERY == 0
        if slow_data_due:
            etag = self.outbox.get_state(ETAG_KEY)
            download = self.client.trust_list(etag.decode() if etag else None)
            if download is not None:
                adopted = self.cache.offer(download.blob, "registry")
                # Also for the list already held (e.g. the provisioning file): else every fetch is a full download.
                if download.etag and (adopted or download.blob == self.outbox.get_state(TRUST_KEY)):
                    self.outbox.put_state(ETAG_KEY, download.etag.encode())
        self._syncs += 1
        while True:
            page = self.client.revocations(self.cache.cursor, REVOCATION_PAGE)
            items = page.get("revocations", [])
            self.cache.apply_revocations(items, int(page.get("next_cursor", self.cache.cursor)))
            if not page.get("has_more"):
                break
        self._sync_status_lists()
        if slow_data_due and self.central_policy is not None:  # after the trust list, which names its signers
            self.central_policy.refresh(self.client)
        self.status.last_trust_sync = self.clock()

    def _sync_status_lists(self) -> None:
        """Fetch every status list the station uses, conditionally (ETag): unchanged costs a 304."""
        cache = self.cache.status_lists
        for list_id in cache.wanted():
            try:
                download = self.client.status_list(list_id, cache.etag(list_id))
            except RegistryRejected as error:  # none published yet (404), or an older registry
                log.info("status list %d not available: %s", list_id, error)
                continue
            if download is not None:
                cache.offer(list_id, download.blob, "registry", etag=download.etag)
