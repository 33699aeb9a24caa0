"""The signed status lists the station holds (tag_tools.status_list, schemas/status-list.md): one
compressed bit array for the whole country, so a read decides "superseded" or "revoked" in O(1)
and offline.

A list is adopted only when it is authentic (signed by a list signer the held trust list names,
itself certified by the pinned root), unexpired at the station's time, not older than the list held
(no rollback), and clears no entry the held list had raised: a compromised registry can delay a
revocation, never undo it. The last good list survives restarts in the outbox database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from station_agent.errors import OutboxError
from station_agent.outbox import Outbox
from tag_tools.errors import StatusListError
from tag_tools.status_list import StatusList, check_no_cleared_revocations, parse_status_list
from tag_tools.trustlist import TrustList

log = logging.getLogger(__name__)

NATIONAL_LIST = 0  # version 1 of the format has one list for the country; others open when it fills


def _blob_key(list_id: int) -> str:
    return f"status_list:{list_id}"


def _etag_key(list_id: int) -> str:
    return f"status_list_etag:{list_id}"


class StatusListCache:
    def __init__(self, outbox: Outbox, trust_list: Callable[[], TrustList | None], clock: Callable[[], datetime]) -> None:
        self.outbox = outbox
        self.trust_list = trust_list
        self.clock = clock
        self._lists: dict[int, StatusList] = {}
        self._wanted: set[int] = {NATIONAL_LIST}
        known = self.outbox.get_state("status_list_ids")
        for list_id in sorted({NATIONAL_LIST, *_ids(known)}):
            saved = self.outbox.get_state(_blob_key(list_id))
            if saved is not None:
                self.offer(list_id, saved, "saved copy", persist=False)

    @property
    def lists(self) -> Mapping[int, StatusList]:
        """By list id, for tag_tools.verify.verify_tag(status_lists=...)."""
        return self._lists

    def want(self, list_ids: Iterable[int]) -> None:
        """Lists named by records this station has read: fetch them too from now on."""
        new = set(list_ids) - self._wanted
        if new:
            self._wanted |= new
            try:
                self.outbox.put_state("status_list_ids", ",".join(map(str, sorted(self._wanted))).encode())
            except OutboxError as error:  # kept in memory; saved with the next new id
                log.warning("cannot save the status list ids: %s", error)

    def wanted(self) -> list[int]:
        return sorted(self._wanted)

    def etag(self, list_id: int) -> str | None:
        raw = self.outbox.get_state(_etag_key(list_id))
        return raw.decode() if raw else None

    def offer(self, list_id: int, blob: bytes, source: str, *, persist: bool = True, etag: str | None = None) -> bool:
        """Adopt `blob` as list `list_id` if it passes every check in the module doc. True when adopted."""
        trust_list = self.trust_list()
        if trust_list is None:
            log.warning("status list %d from %s ignored: no trust list held to know its signers", list_id, source)
            return False
        now = self.clock()
        held = self._lists.get(list_id)
        try:
            candidate = parse_status_list(
                blob,
                trust_list.status_signers(now),
                now=now,
                list_id=list_id,
                min_sequence=held.sequence if held is not None else 0,
            )
            if held is not None and candidate.sequence == held.sequence:
                return False  # the list held, again
            if held is not None:
                check_no_cleared_revocations(held, candidate)
        except StatusListError as error:
            log.error("status list %d from %s rejected: %s", list_id, source, error)
            return False
        if persist:
            self.outbox.put_state(_blob_key(list_id), blob)
            if etag:
                self.outbox.put_state(_etag_key(list_id), etag.encode())
        self._lists[list_id] = candidate
        log.info("status list %d sequence %d adopted from %s (%d entries)", list_id, candidate.sequence, source, len(candidate))
        return True


def _ids(raw: bytes | None) -> set[int]:
    if not raw:
        return set()
    return {int(part) for part in raw.decode().split(",") if part.isdigit()}
