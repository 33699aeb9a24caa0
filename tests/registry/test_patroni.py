"""The registry on a highly available PostgreSQL: etcd and a three-member Patroni cluster with
strict synchronous replication (tests/registry/patroni_cluster.py), one for the whole module.

A named subset of the registry's behaviours runs against it, through the real registry served by
waitress in a child process (tests/registry/served.py): writes, the status check, event ingest and
a bureau query. Then where reads go (a replica within the staleness bound, else the leader), a
planned switchover under load (no request may fail) and, last because it leaves the cluster one
member short, the loss of the leader's node under load (503 with Retry-After during the switch,
never a 500, every accepted event stored exactly once). bench/bench_failover.py measures the same
failover and switchover.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from registry_service import migrate
from registry_service.config import RegistryConfig, from_env
from registry_service.db import Reconnect, ReportRoute, make_engine, make_reader_engine
from registry_service.errors import ConfigError
from registry_service.models import ScanEvent
from registry_service.node import Registry
from tests.peers import free_tcp_port as free_port
from tests.registry.mixed_load import PLATES, STATION, Fleet, MixedLoad, seed, station_event
from tests.registry.patroni_cluster import PatroniCluster
from tests.registry.served import serving

DATABASE = "registry"
RECONNECT_WAIT_MS = 5000  # longer than a switchover here (~2 s), shorter than a failover (~11 s)
COMMIT_WAIT_MS = 5000  # longer than a standby takes to follow a new leader here (~3 s)
MAX_LAG_MS = 1000


@dataclass(frozen=True)
class Deployment:
    cluster: PatroniCluster
    writer_url: str
    reader_url: str
    fleet: Fleet
    base: str  # the served registry
    log: Path  # its log

    def connections_lost(self) -> int:
        """How often the served registry has logged a lost database connection so far."""
        return self.log.read_text(errors="replace").count("connection lost")

    def config(self, **changes: Any) -> RegistryConfig:
        config = RegistryConfig(
            database_url=self.writer_url,
            reader_database_url=self.reader_url,
            reader_max_lag_s=MAX_LAG_MS / 1000,
            reconnect_wait_s=RECONNECT_WAIT_MS / 1000,
            commit_wait_s=COMMIT_WAIT_MS / 1000,
            pool_size=2,
            max_overflow=2,
        )
        return replace(config, **changes)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PatroniCluster]:
    cluster = PatroniCluster.in_temp_folder().start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def deployment(cluster: PatroniCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    cluster.create_database(DATABASE)
    writer_url, reader_url = cluster.writer_url(DATABASE), cluster.reader_url(DATABASE)
    engine = make_engine(RegistryConfig(database_url=writer_url, lock_wait_s=30))
    try:
        migrate.upgrade(engine)
        fleet = seed(engine)
    finally:
        engine.dispose()
    env = {
        "REGISTRY_READER_DATABASE_URL": reader_url,
        "REGISTRY_READER_MAX_LAG_MS": str(MAX_LAG_MS),
        "REGISTRY_RECONNECT_WAIT_MS": str(RECONNECT_WAIT_MS),
        "REGISTRY_COMMIT_WAIT_MS": str(COMMIT_WAIT_MS),
    }
    log = tmp_path_factory.mktemp("patroni-registry") / "registry.log"
    with serving(writer_url, "--threads", "4", env=env, log=log) as base:
        yield Deployment(cluster, writer_url, reader_url, fleet, base, log)


def _call(deployment: Deployment, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
    token = deployment.fleet.station_token if who == "station" else deployment.fleet.bureau_token
    request = urllib.request.Request(
        deployment.base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _writer(deployment: Deployment) -> Engine:
    return create_engine(deployment.writer_url)


def _station_events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ScanEvent)) or 0)


def _on_a_replica(registry: Registry) -> bool:
    return bool(registry.report(lambda s: s.scalar(text("SELECT pg_is_in_recovery()"))))


# --- the configuration (no cluster needed) -------------------------------------------------------


def test_the_roles_and_waits_come_from_the_environment() -> None:
    config = from_env(
        {
            "REGISTRY_DATABASE_URL": "postgresql://w@/registry?host=a:5432&host=b:5432&target_session_attrs=read-write",
            "REGISTRY_READER_DATABASE_URL": "postgresql://r@/registry?host=a:5432&target_session_attrs=prefer-standby",
            "REGISTRY_READER_MAX_LAG_MS": "2500",
            "REGISTRY_RECONNECT_WAIT_MS": "8000",
            "REGISTRY_COMMIT_WAIT_MS": "4000",
        }
    )
    assert config.reader_database_url is not None and "prefer-standby" in config.reader_database_url
    assert (config.reader_max_lag_s, config.reconnect_wait_s, config.commit_wait_s) == (2.5, 8.0, 4.0)
    defaults = from_env({})
    assert (defaults.reader_database_url, defaults.reconnect_wait_s, defaults.commit_wait_s) == (None, 0.0, 0.0)
    with pytest.raises(ConfigError):
        from_env({"REGISTRY_RECONNECT_WAIT_MS": "soon"})
    with pytest.raises(ConfigError):
        make_reader_engine(RegistryConfig(reader_database_url="sqlite:///replica.sqlite3"))


def test_a_lost_connection_is_retried_until_the_wait_is_over() -> None:
    quick = Reconnect()  # the default: three tries
    assert [quick.pause_s(n, 0.0) for n in (1, 2, 3)] == [0.2, 0.4, None]
    patient = Reconnect(wait_s=5.0)
    assert patient.pause_s(3, 1.0) == 0.5  # backoff capped at MAX_PAUSE_S
    assert patient.pause_s(9, 4.4) == 0.5 and patient.pause_s(9, 4.6) is None


# --- the cluster, and the registry's behaviours on it ---------------------------------------------


def test_the_cluster_replicates_synchronously(cluster: PatroniCluster) -> None:
    leader = cluster.wait_healthy()
    roles = sorted(m["role"] for m in cluster.state())
    assert roles == ["leader", "replica", "sync_standby"], cluster.state()
    engine = create_engine(leader.url())
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW synchronous_standby_names")) not in ("", None)
            assert connection.scalar(text("SHOW synchronous_commit")) == "on"
            states = set(connection.scalars(text("SELECT sync_state FROM pg_stat_replication")))
    finally:
        engine.dispose()
    assert "sync" in states, states


def test_writes_status_ingest_and_bureau_queries(deployment: Deployment) -> None:
    engine = _writer(deployment)
    try:
        before = _station_events(engine)
        # A write: an event upload, sent twice as a station's retry would (stored once).
        upload = [station_event(), station_event(outcome="refused", decision="refuse", reasons=["overdue"])]
        path = f"/api/v1/stations/{STATION}/scan-events"
        status, first = _call(deployment, "POST", path, "station", {"events": upload})
        assert status == 200 and (first["accepted"], first["duplicates"]) == (2, 0), first
        status, again = _call(deployment, "POST", path, "station", {"events": upload})
        assert status == 200 and (again["accepted"], again["duplicates"]) == (0, 2), again
        # The status check, with an event riding on it (ingest on the status path).
        body = {"plate": PLATES[0], "cylinders": [{"cylinder_id": "156-4101-20000001"}], "events": [station_event()]}
        status, answer = _call(deployment, "POST", "/api/v1/status", "station", body)
        assert status == 200, answer
        assert answer["cylinders"][0]["decision"] == "allow" and answer["events"]["accepted"] == 1, answer
        assert _station_events(engine) == before + 3
    finally:
        engine.dispose()
    # A bureau query, answered from a replica: it sees the events once the replica replayed them.
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    deadline = time.monotonic() + 10
    while True:
        status, report = _call(deployment, "GET", f"/api/v1/bureau/aggregates?group_by=station&since={since}", "bureau")
        assert status == 200, report
        totals = {g["key"]: g["total"] for g in report["groups"]}
        if totals.get(STATION, 0) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert totals.get(STATION, 0) >= 3, report


# --- where reads go ------------------------------------------------------------------------------


def test_bureau_reads_go_to_a_fresh_replica_else_the_leader(deployment: Deployment) -> None:
    cluster = deployment.cluster
    cluster.wait_healthy()
    registry = Registry(deployment.config())
    try:
        assert _on_a_replica(registry), "a healthy replica serves the bureau"
        # Replicas that replay late fall behind the staleness bound: the leader answers.
        cluster.set_replica_parameters({"recovery_min_apply_delay": f"{3 * MAX_LAG_MS}ms"})
        try:
            _upload_one(deployment)  # WAL the replicas receive but hold back
            time.sleep(MAX_LAG_MS / 1000 + 0.5)
            assert not _on_a_replica(registry), "a replica behind the bound must not answer"
        finally:
            cluster.set_replica_parameters({"recovery_min_apply_delay": None})
        deadline = time.monotonic() + 10
        while not _on_a_replica(registry) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _on_a_replica(registry), "a replica that caught up serves the bureau again"
        # Both replicas down: the reader URL (prefer-standby) finds only the leader; the bureau's
        # queries still answer.
        replicas = cluster.replicas()
        for replica in replicas:
            cluster.stop_member(replica)
        upload = [station_event()]
        try:
            assert not _on_a_replica(registry)
            status, report = _call(deployment, "GET", "/api/v1/bureau/refuel-attempts?limit=5", "bureau")
            assert status == 200, report
            # An upload now commits on the leader alone: its wait for a standby is cancelled after
            # COMMIT_WAIT_MS, and it is not acknowledged (sync_commit.py).
            status, refused = _call(deployment, "POST", f"/api/v1/stations/{STATION}/scan-events", "station", {"events": upload})
            assert status == 503 and "unconfirmed" in refused, refused
        finally:
            for replica in replicas:
                cluster.start_member(replica)
            cluster.wait_healthy(120)
        status, again = _call(deployment, "POST", f"/api/v1/stations/{STATION}/scan-events", "station", {"events": upload})
        assert status == 200 and again["duplicates"] == 1, again  # the station's resend: stored once
    finally:
        registry.engine.dispose()
        if registry.reports is not None:
            registry.reports.reader.dispose()


def test_an_unreachable_reader_sends_reads_to_the_writer(deployment: Deployment) -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/{DATABASE}"
    config = deployment.config(reader_database_url=nowhere)
    reader = make_reader_engine(config)
    assert reader is not None
    ticks = [0.0]
    route = ReportRoute(reader, 1.0, pause_s=5.0, monotonic=lambda: ticks[0])
    asked: list[str] = []

    def on_writer(work: Any) -> str:
        asked.append("writer")
        return "writer"

    try:
        assert route.run(lambda s: "reader", on_writer) == "writer"
        ticks[0] = 1.0  # within pause_s: the reader is not tried (it would raise on connect)
        route.reader = create_engine("sqlite://")  # would answer "reader" if it were asked
        assert route.run(lambda s: "reader", on_writer) == "writer"
        assert asked == ["writer", "writer"]
    finally:
        reader.dispose()


def _upload_one(deployment: Deployment) -> None:
    status, answer = _call(
        deployment, "POST", f"/api/v1/stations/{STATION}/scan-events", "station", {"events": [station_event()]}
    )
    assert status == 200, answer


# --- switchover and failover under load -----------------------------------------------------------


def test_a_switchover_loses_no_request(deployment: Deployment) -> None:
    cluster = deployment.cluster
    old = cluster.wait_healthy()
    lost_before = deployment.connections_lost()
    load = MixedLoad(deployment.base, deployment.fleet)
    with load.running():
        time.sleep(1.5)
        new = cluster.switchover()
        time.sleep(2.0)
    assert new is not old
    assert deployment.connections_lost() > lost_before, "the registry never noticed the switch"
    assert load.failed() == [], load.failed()[:5]
    assert {"upload", "status", "bureau"} <= {a.kind for a in load.answers}
    engine = _writer(deployment)
    try:
        assert load.lost_and_duplicated(engine) == (0, 0)
    finally:
        engine.dispose()


def test_losing_the_leaders_node_under_load(deployment: Deployment) -> None:
    cluster = deployment.cluster
    old = cluster.wait_healthy()
    load = MixedLoad(deployment.base, deployment.fleet)
    with load.running():
        time.sleep(2.0)
        killing_at = time.monotonic()
        cluster.kill(old)
        killed_at = time.monotonic()
        new = cluster.wait_leader(other_than=old, timeout_s=60)
        promoted_at = time.monotonic()
        time.sleep(3.0)
        settled_at = time.monotonic()
        time.sleep(2.0)
    assert new is not old
    statuses = load.statuses()
    assert statuses[500] == 0 and statuses[-1] == 0, load.failed()[:5]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0, "the switch was not noticed: the test did not test anything"
    for answer in load.failed():  # every refusal is a 503 problem with Retry-After, during the switch
        assert answer.retry_after and answer.content_type == "application/problem+json", answer
        assert killing_at <= answer.ended <= promoted_at + (RECONNECT_WAIT_MS + COMMIT_WAIT_MS) / 1000 + 1, (
            answer,
            killed_at,
            promoted_at,
        )
    assert load.statuses(since=settled_at) == {200: sum(load.statuses(since=settled_at).values())}
    assert 1 <= load.write_gap_s(killed_at) <= 30  # writes stopped (the kill was real), and came back
    engine = _writer(deployment)
    try:
        assert load.accepted == load.sent, "every upload was drained to an acknowledgement"
        assert load.lost_and_duplicated(engine) == (0, 0)
    finally:
        engine.dispose()
