"""Trust data and the sender: newer trust lists only, revocations by cursor, state that survives a
restart, and one bad event never blocking the rest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from station_agent.outbox import Outbox
from station_agent.sync import SyncWorker, TrustCache
from tag_tools.trustlist import TrustList, build_trust_list
from tests.peers import wait_until
from tests.station_agent.fakes import FakeRegistry
from tests.testkit import TestPki


def signed_list(pki: TestPki, sequence: int) -> bytes:
    body = TrustList(sequence, pki.now - timedelta(hours=1), pki.now + timedelta(days=30), (pki.centre_certificate,))
    return build_trust_list(body, pki.root_certificate, pki.root_key)


def test_lower_sequence_never_replaces_higher_and_state_survives_restart(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    assert cache.sequence == 1
    assert cache.offer(signed_list(test_pki, 5), "registry")
    assert not cache.offer(signed_list(test_pki, 3), "registry") and cache.sequence == 5
    assert not cache.offer(b"\x84garbage", "registry") and cache.sequence == 5
    outbox.close()
    restarted = TrustCache(
        Outbox(tmp_path / "o.sqlite3"), test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes
    )  # the provisioning file holds sequence 1
    assert restarted.sequence == 5 and restarted.store.trust_list is not None


def test_revocations_follow_the_cursor_across_pages_and_restarts(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    registry = FakeRegistry(trust_blob=signed_list(test_pki, 2))
    registry.revocation_feed = [{"id": i, "cylinder_id": f"156-4101-{i}", "kind": "condemned"} for i in range(1, 1201)]
    registry.revocation_feed.append({"id": 1201, "cylinder_id": "156-4101-7", "kind": "superseded", "below_sequence": 4})
    SyncWorker(outbox, cache, registry, "ST-JS-01").sync_trust()
    assert cache.sequence == 2 and cache.cursor == 1201 and len(cache.revocations.cylinders) == 1200
    assert cache.revocations.is_superseded("156-4101-7", 3) and not cache.revocations.is_superseded("156-4101-7", 4)
    outbox.close()
    again = TrustCache(Outbox(tmp_path / "o.sqlite3"), test_pki.root_certificate, timedelta(days=7))
    assert again.cursor == 1201 and again.revocations.cylinder_revocation("156-4101-1200") is not None


def test_rejected_event_is_parked_and_the_rest_delivered(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    for index in range(5):
        outbox.add(f"e{index}", {"registry": {"event_id": f"e{index}"}})
    registry = FakeRegistry(reject_event_ids={"e2"})
    worker = SyncWorker(outbox, cache, registry, "ST-JS-01", batch=10)
    assert worker.upload_pending() == 4
    assert sorted(registry.received) == ["e0", "e1", "e3", "e4"]
    assert outbox.counts().rejected == 1 and outbox.counts().unsent == 0


def test_worker_thread_delivers_after_the_registry_comes_back(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    for index in range(450):
        outbox.add(f"e{index}", {"registry": {"event_id": f"e{index}"}})
    registry = FakeRegistry(down=True)
    worker = SyncWorker(
        outbox, cache, registry, "ST-JS-01", batch=100, sync_interval_s=0.05, max_backoff_s=0.1, upload_debounce_s=0.01
    ).start()
    try:
        wait_until(lambda: worker.status.online is False, "the worker offline")
        registry.down = False
        wait_until(lambda: outbox.counts().unsent == 0, "the outbox drained")
    finally:
        worker.stop()
    assert len(registry.received) == 450 and worker.status.online


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reads_never_trigger_trust_syncs_and_uploads_coalesce(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    registry, ticks = FakeRegistry(), Ticks()
    worker = SyncWorker(
        outbox,
        cache,
        registry,
        "ST-JS-01",
        sync_interval_s=60,
        upload_debounce_s=5,
        monotonic=ticks,
        uniform=lambda low, high: (low + high) / 2,
    )
    worker.run_once()  # start: leftover uploads and the first trust sync
    assert registry.trust_list_calls == 1 and registry.revocation_calls == 1
    for index in range(20):  # 20 reads in 2 s, each poking the sender as the agent does
        ticks.now = index * 0.1
        outbox.add(f"e{index}", {"registry": {"event_id": f"e{index}"}})
        worker.poke()
        worker.run_once()
    assert registry.revocation_calls == 1 and registry.uploads == 0  # nothing due yet
    ticks.now = 5.0
    assert worker.run_once() > 0
    assert registry.uploads == 1 and len(registry.received) == 20  # one batch for the burst
    assert registry.revocation_calls == 1
    for interval in range(1, 5):
        ticks.now = 60.0 * interval
        worker.run_once()
        assert registry.revocation_calls == 1 + interval and registry.uploads == 1  # trust data on its own interval
    assert registry.trust_list_calls == 2  # the trust list every TRUST_LIST_EVERY (4) syncs


def test_a_down_registry_backs_off_with_jitter_then_recovers(tmp_path: Path, test_pki: TestPki) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    cache = TrustCache(outbox, test_pki.root_certificate, timedelta(days=7), test_pki.trust_list_bytes)
    registry, ticks = FakeRegistry(down=True), Ticks()
    worker = SyncWorker(
        outbox, cache, registry, "ST-JS-01", upload_debounce_s=1, max_backoff_s=8, monotonic=ticks, uniform=lambda low, high: low
    )
    outbox.add("e0", {"registry": {"event_id": "e0"}})
    waits = []
    for _ in range(6):
        waits.append(worker.run_once())
        ticks.now += waits[-1]
    assert waits == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]  # the lower end of each doubled, capped back-off
    ticks.now -= 2.0  # halfway through the last back-off
    assert worker.breaker.is_open
    calls = registry.trust_list_calls
    worker.run_once()  # during the back-off nothing is tried
    assert registry.trust_list_calls == calls
    registry.down = False
    ticks.now += 4.0
    worker.run_once()
    assert "e0" in registry.received and not worker.breaker.is_open and worker.status.online
