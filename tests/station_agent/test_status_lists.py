"""The station's signed status lists: fetched on the sync (ETag), adopted only when authentic, newer
and clearing no raised entry, kept across restarts, and used for every read with a status index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography import x509

from station_agent.outbox import Outbox
from station_agent.sync import SyncWorker, TrustCache
from tag_tools import crypto
from tag_tools.claims import StatusReference
from tag_tools.status_list import StatusArray, StatusList, StatusValue, build_status_list
from tests.station_agent.conftest import Station, uid_for, vehicle_claims
from tests.station_agent.fakes import FakeRegistry
from tests.testkit import TestPki


def signed(
    pki_: TestPki,
    sequence: int,
    values: dict[int, StatusValue],
    key: crypto.PrivateKey | None = None,
    certificate: x509.Certificate | None = None,
) -> bytes:
    body = StatusList(
        0,
        sequence,
        pki_.now - timedelta(minutes=5),
        pki_.now + timedelta(days=2),
        timedelta(minutes=5),
        StatusArray.from_mapping(values, 128),
    )
    return build_status_list(body, key or pki_.signer_key, certificate or pki_.signer_certificate)


def cache_with_signer(tmp_path: Path, pki_: TestPki) -> TrustCache:
    cache = TrustCache(
        Outbox(tmp_path / "o.sqlite3"),
        pki_.root_certificate,
        timedelta(days=7),
        pki_.signed_trust_list(2),
        clock=lambda: pki_.now,
    )
    assert cache.sequence == 2 and cache.trust_list is not None
    return cache


def test_fetched_with_etag_kept_across_restarts(tmp_path: Path, test_pki: TestPki) -> None:
    cache = cache_with_signer(tmp_path, test_pki)
    registry = FakeRegistry(status_blobs={0: signed(test_pki, 3, {5: StatusValue.REVOKED_SCRAPPED})})
    worker = SyncWorker(cache.outbox, cache, registry, "ST-JS-01", clock=lambda: test_pki.now)
    worker.sync_trust()
    assert cache.status_lists.lists[0].status(5) is StatusValue.REVOKED_SCRAPPED
    assert cache.status_lists.etag(0) is not None
    worker.sync_trust()  # unchanged: the ETag makes it a 304 (None)
    cache.outbox.close()
    again = TrustCache(Outbox(tmp_path / "o.sqlite3"), test_pki.root_certificate, timedelta(days=7), clock=lambda: test_pki.now)
    assert again.status_lists.lists[0].sequence == 3


def test_forged_rolled_back_and_clearing_lists_are_refused(tmp_path: Path, test_pki: TestPki) -> None:
    cache = cache_with_signer(tmp_path, test_pki).status_lists
    assert cache.offer(0, signed(test_pki, 3, {5: StatusValue.REVOKED_STOLEN}), "registry")
    rogue_pki = TestPki.create(test_pki.now)  # a root of the same name, not the pinned one
    rogue_key, rogue = rogue_pki.signer_key, rogue_pki.signer_certificate
    assert not cache.offer(0, signed(test_pki, 9, {}, rogue_key, rogue), "registry")  # forged
    assert not cache.offer(0, signed(test_pki, 2, {5: StatusValue.REVOKED_STOLEN}), "registry")  # rolled back
    assert not cache.offer(0, signed(test_pki, 4, {}), "registry")  # clears a revocation
    assert cache.lists[0].sequence == 3 and cache.lists[0].status(5) is StatusValue.REVOKED_STOLEN
    assert cache.offer(0, signed(test_pki, 4, {5: StatusValue.REVOKED_STOLEN, 6: StatusValue.SUPERSEDED}), "registry")


def test_reads_are_judged_by_the_list_offline(make_station: Callable[..., Station]) -> None:
    station = make_station(online=False)
    pki_ = station.pki
    assert station.agent.cache.offer(pki_.signed_trust_list(2), "registry")
    assert station.agent.cache.status_lists.offer(0, signed(pki_, 3, {7: StatusValue.REVOKED_SCRAPPED}), "registry")
    allowed = station.read(uid_for(0), **vehicle_claims(0, status_ref=StatusReference(0, 6)))
    assert allowed.decision == "allow" and not allowed.online
    station.agent.end_fill()
    refused = station.read(uid_for(1), **vehicle_claims(1, plate="豫A00002", status_ref=StatusReference(0, 7)))
    assert refused.decision == "refuse" and "cylinder_revoked" in refused.reasons
