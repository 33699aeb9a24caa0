"""The bureau's policy for this station (tag_tools.station_policy, schemas/station-policy.md):
fetched during the trust sync, adopted only when authentic and newer, kept across restarts, and
merged with the station's own file so that the file can tighten the bureau's terms, never loosen them.

Authentic means signed by a list signer that the trust list held names and the bureau root
certified, not revoked, and valid at the station's time (at its issue time for the copy saved
before a restart: a signer certificate that expires later does not undo a policy it signed).
Newer means a sequence above the one held: a replayed older document, or the same one again, changes
nothing. A policy that cannot be verified is logged and ignored: the station keeps what it holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from cryptography import x509

from station_agent.config import Policy
from station_agent.errors import OutboxError, RegistryRejected
from station_agent.outbox import Outbox
from station_agent.registry_client import TrustListDownload
from tag_tools import pki
from tag_tools.errors import PolicyError
from tag_tools.station_policy import Mode, StationPolicy, parse_station_policy
from tag_tools.trustlist import TrustList

log = logging.getLogger(__name__)

POLICY_KEY, ETAG_KEY = "central_policy", "central_policy_etag"  # outbox state


class PolicySource(Protocol):
    """What the holder needs of the registry client (station_agent.registry_client)."""

    def station_policy(self, station_code: str, etag: str | None) -> TrustListDownload | None: ...


def merge(local: Policy, central: StationPolicy | None) -> Policy:
    """The policy in force: the central terms, tightened by the local file where it is stricter.

    enforce beats monitor; the larger warning window; only reasons both allow may be overridden;
    the longer minimum refill interval. A term the bureau did not set is the file's alone. Terms the
    bureau does not set at all (timezone, session window, chip rule, trust-list age) stay local."""
    if central is None:
        return local
    terms = central.terms
    mode = local.mode
    if terms.mode is Mode.ENFORCE:
        mode = "enforce"
    warning_days = max(local.warning_days, terms.warning_days) if terms.warning_days is not None else local.warning_days
    overridable = local.overridable & terms.overridable if terms.overridable is not None else local.overridable
    interval = local.min_refill_interval
    if terms.min_refill_interval is not None:
        interval = max(interval, terms.min_refill_interval)
    return replace(local, mode=mode, warning_days=warning_days, overridable=overridable, min_refill_interval=interval)


def policy_sha256(policy: Policy) -> str:
    """SHA-256 (hex) of the policy in force as canonical JSON (sorted keys, durations in seconds,
    sets sorted): what the heartbeat reports, so the bureau sees which stations run which rules."""
    body = {
        "mode": policy.mode,
        "warning_days": policy.warning_days,
        "trust_list_max_age_s": policy.trust_list_max_age.total_seconds(),
        "refuse_non_genuine_chip": policy.refuse_non_genuine_chip,
        "timezone": policy.timezone,
        "session_window_s": policy.session_window.total_seconds(),
        "min_refill_interval_s": policy.min_refill_interval.total_seconds(),
        "overridable": sorted(policy.overridable),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class CentralPolicy:
    """Holds the newest authentic central policy and tells `apply` the merged policy (and the
    central sequence) whenever it changes, starting with the copy saved before a restart."""

    def __init__(
        self,
        outbox: Outbox,
        trust_list: Callable[[], TrustList | None],
        station_code: str,
        local: Policy,
        *,
        apply: Callable[[Policy, int | None], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.outbox, self.trust_list, self.station_code = outbox, trust_list, station_code
        self.local, self.apply, self.clock = local, apply, clock
        self.held: StationPolicy | None = None
        saved = outbox.get_state(POLICY_KEY)
        if saved is not None:
            self.offer(saved, "saved copy", persist=False)

    @property
    def sequence(self) -> int | None:
        return self.held.sequence if self.held is not None else None

    @property
    def effective(self) -> Policy:
        return merge(self.local, self.held)

    def etag(self) -> str | None:
        raw = self.outbox.get_state(ETAG_KEY)
        return raw.decode() if raw else None

    def offer(self, blob: bytes, source: str, *, persist: bool = True, etag: str | None = None) -> bool:
        """Adopt `blob` if authentic and newer than the policy held; True when adopted (and applied)."""
        trust_list = self.trust_list()
        if trust_list is None:
            log.warning("central policy from %s ignored: no trust list held to know its signers", source)
            return False
        if self.held is not None and blob == self.outbox.get_state(POLICY_KEY):
            return False  # the policy held, again
        now = self.clock()
        saved = source == "saved copy"
        try:
            candidate = parse_station_policy(
                blob,
                _signers(trust_list, None if saved else now),
                now=now,
                station_code=self.station_code,
                after_sequence=self.sequence,
            )
        except PolicyError as error:
            log.error("central policy from %s refused: %s", source, error)
            return False
        try:
            if persist:
                self.outbox.put_state(POLICY_KEY, blob)
                if etag:
                    self.outbox.put_state(ETAG_KEY, etag.encode())
        except OutboxError as error:  # in force now; fetched and saved again after a restart
            log.warning("cannot save the central policy: %s", error)
        self.held = candidate
        effective = self.effective
        log.info(
            "central policy sequence %d adopted from %s: %s mode, sha256 %s",
            candidate.sequence,
            source,
            effective.mode,
            policy_sha256(effective),
        )
        self.apply(effective, candidate.sequence)
        return True

    def refresh(self, client: PolicySource) -> bool:
        """Fetch this station's policy (conditional GET); True when a newer one was adopted.
        None published yet (404) is not an error; an unreachable registry is (RegistryUnavailable)."""
        try:
            download = client.station_policy(self.station_code, self.etag())
        except RegistryRejected as error:
            log.info("no central policy for station %s: %s", self.station_code, error)
            return False
        if download is None:
            return False
        return self.offer(download.blob, "registry", etag=download.etag)


def _signers(trust_list: TrustList, now: datetime | None) -> tuple[x509.Certificate, ...]:
    """The list signers a policy may come from: at `now` for a fresh download (valid and not
    revoked: TrustList.status_signers); for the saved copy, any listed signer not revoked (the
    parser still checks it was valid when it signed)."""
    if now is not None:
        return trust_list.status_signers(now)
    revoked = trust_list.revoked_list_signers() | {r.kid for r in trust_list.revoked}
    candidates = trust_list.signers + ((trust_list.signed_by,) if trust_list.signed_by is not None else ())
    return tuple(c for c in candidates if pki.kid_of(c) not in revoked)
