"""The registry rides out a PostgreSQL restart under load without being restarted itself:
requests during the outage get 503 problem+json (never a 500), and once the database is back
every request succeeds again on the same process, engine and pool."""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry_service import migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.models import ScanEvent
from tests.registry.helpers import post_json, station_with_token
from tests.registry.pg_cluster import ThrowawayCluster
from tests.waitress_thread import served_in_thread


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    cluster = ThrowawayCluster(Path(tempfile.mkdtemp(prefix="registry-pg-"))).init()
    cluster.start()
    yield cluster
    cluster.destroy()


def test_registry_recovers_after_database_restart_under_load(cluster: ThrowawayCluster) -> None:
    config = RegistryConfig(database_url=cluster.url, pool_size=4, max_overflow=2, token_cache_s=0, pool_timeout_s=2)
    app = create_app(config)
    registry = app.extensions["registry"]
    migrate.upgrade(registry.engine)
    token = station_with_token(registry.sessions)
    results: list[tuple[float, int, dict[str, str]]] = []
    uploads: list[int] = []
    checks: list[int] = []
    stop = threading.Event()

    def upload_events(base: str) -> None:
        while not stop.is_set():
            event = {
                "event_id": str(uuid.uuid4()),
                "occurred_at": datetime.now(UTC).isoformat(),
                "decision": "allow",
                "outcome": "allowed",
            }
            status, headers = post_json(f"{base}/stations/ST-1/scan-events", token, {"events": [event]})
            results.append((time.monotonic(), status, headers))
            uploads.append(status)

    def check_status(base: str) -> None:  # the status path keeps its own connections (services/status_reads.py)
        while not stop.is_set():
            status, headers = post_json(f"{base}/status", token, {"plate": "豫A00001"})
            results.append((time.monotonic(), status, headers))
            checks.append(status)

    with served_in_thread(app) as port:
        base = f"http://127.0.0.1:{port}/api/v1"
        workers = [
            threading.Thread(target=work, args=(base,)) for work in (upload_events, upload_events, check_status, check_status)
        ]
        try:
            for worker in workers:
                worker.start()
            time.sleep(1.0)
            cluster.stop("fast")
            down_at = time.monotonic()
            time.sleep(2.0)
            cluster.start()
            up_at = time.monotonic()
            time.sleep(3.0)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)

    statuses = Counter(status for _, status, _ in results)
    assert statuses[-1] == 0, [headers["error"] for _, status, headers in results if status == -1][:3]
    assert statuses[500] == 0, statuses
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0, "the outage was not noticed: the test did not test anything"
    assert all(headers.get("Content-Type") == "application/problem+json" for _, status, headers in results if status == 503)
    before = [s for t, s, _ in results if t < down_at]
    after = [s for t, s, _ in results if t > up_at + 1.0]
    assert before and all(s == 200 for s in before)
    assert len(after) > 10 and all(s == 200 for s in after), Counter(after)
    # Through the registry's own (reconnecting) read: nothing above used the writer's pool since the
    # restart (uploads have a pool of their own, token lookups the status connections).
    stored = registry.read(lambda c: c.scalar(select(func.count()).select_from(ScanEvent)))
    assert stored == uploads.count(200)
    assert uploads.count(503) > 0 and checks.count(503) > 0, "both paths must notice the outage"
    assert checks.count(200) > 0 and checks[-1] == 200, "the status path must recover too"
    registry.engine.dispose()
    registry.station_engine.dispose()
