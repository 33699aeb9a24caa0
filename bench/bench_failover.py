"""The registry through a failover and a switchover of its PostgreSQL, under station-shaped load.

Starts etcd and a fresh three-member Patroni cluster with strict synchronous replication
(tests/registry/patroni_cluster.py), migrates and seeds a registry on it, serves it with
`cylinder-registry serve` (writer: libpq multi-host URL with target_session_attrs=read-write;
bureau reads: prefer-standby) and drives it with status checks, scan-event uploads that a station
would resend after a 503, and bureau queries (tests/registry/mixed_load.py). Then, per round:

1. kill: SIGKILL the leader's Patroni and postgres together. `write_unavailable_s` is from the
   kill to the first acknowledged upload sent after it; `lost_events` are acknowledged events not
   in the database, `duplicated_events` events stored twice, `responses_500` any 500 seen.
2. the killed member rejoins (pg_rewind), then a planned switchover through Patroni's REST API;
   `switchover_failed_requests` counts every request that did not get a 200.

The baseline is the same load's throughput before the first fault. Prints one JSON object; the
top-level figures are the worst (window) or the sum (counts) over the rounds. Goals: write
unavailability <= 30 s, no event lost or duplicated, no 500, no failed request in a switchover.

    python bench/bench_failover.py [--quick] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import child_server, free_port, print_json, registry_server_argv

from tests.registry import patroni_cluster
from tests.registry.mixed_load import MixedLoad, seed
from tests.registry.patroni_cluster import PatroniCluster

GOAL_WRITE_UNAVAILABLE_S = 30.0
DATABASE = "registry"


def _rates(load: MixedLoad, seconds: float) -> dict[str, float]:
    kinds = sorted({a.kind for a in load.answers})
    return {kind: round(sum(1 for a in load.answers if a.kind == kind) / seconds, 1) for kind in kinds}


def _statuses(load: MixedLoad) -> dict[str, int]:
    return {str(status): count for status, count in sorted(load.statuses().items())}


def steady_rates(base: str, fleet: Any, seconds: float) -> dict[str, Any]:
    """The mixed load's throughput per kind over `seconds`, with no fault."""
    load = MixedLoad(base, fleet)
    with load.running():
        time.sleep(seconds)
    uploads = sorted(a.ended - a.started for a in load.answers if a.kind == "upload" and a.status == 200)
    return {
        "requests_per_s": _rates(load, seconds),
        "upload_p50_ms": round(1000 * uploads[len(uploads) // 2], 2) if uploads else None,
        "failed_requests": len(load.failed()),
    }


def sync_cost(cluster: PatroniCluster, base: str, fleet: Any, seconds: float) -> dict[str, Any]:
    """What strict synchronous replication costs: the same load with it, without it, and with it
    again (alternated, so a drift of the shared machine shows as a difference between the two
    synchronous runs rather than as a cost)."""
    runs: list[dict[str, Any]] = []
    for on in (True, False, True):
        cluster.set_synchronous_mode(on)
        runs.append({"synchronous": on, **steady_rates(base, fleet, seconds)})
    synchronous = [r["requests_per_s"].get("upload", 0.0) for r in runs if r["synchronous"]]
    asynchronous = runs[1]["requests_per_s"].get("upload", 0.0)
    mean_sync = sum(synchronous) / len(synchronous)
    latencies = [r["upload_p50_ms"] for r in runs if r["synchronous"] and r["upload_p50_ms"] is not None]
    return {
        "runs": runs,
        "uploads_per_s_synchronous": round(mean_sync, 1),
        "uploads_per_s_asynchronous": asynchronous,
        # > 0: the share of upload throughput that waiting for the standby's flush costs.
        "upload_throughput_cost": round(1 - mean_sync / asynchronous, 3) if asynchronous else None,
        "upload_p50_ms_synchronous": round(sum(latencies) / len(latencies), 2) if latencies else None,
        "upload_p50_ms_asynchronous": runs[1]["upload_p50_ms"],
        "seconds_per_run": seconds,
    }


def kill_round(cluster: PatroniCluster, base: str, fleet: Any, engine: Any, settle_s: float) -> dict[str, Any]:
    leader = cluster.wait_healthy(120)
    load = MixedLoad(base, fleet)
    with load.running():
        time.sleep(settle_s)
        cluster.kill(leader)
        killed_at = time.monotonic()  # after the SIGKILLs: a request sent before them may still succeed
        cluster.wait_leader(other_than=leader, timeout_s=120)
        promoted_s = time.monotonic() - killed_at
        time.sleep(settle_s + 2)
    lost, duplicated = load.lost_and_duplicated(engine)
    statuses = load.statuses()
    rejoin_started = time.monotonic()
    cluster.start_member(leader)  # the lost node comes back and rejoins as a replica
    cluster.wait_healthy(180)
    return {
        "write_unavailable_s": round(load.write_gap_s(killed_at), 2),
        "leader_promoted_s": round(promoted_s, 2),
        "lost_events": lost,
        "duplicated_events": duplicated,
        "responses_500": statuses[500],
        "no_answer": statuses[-1],
        "responses_503_without_retry_after": sum(1 for a in load.failed() if a.status == 503 and not a.retry_after),
        "responses": _statuses(load),
        "events_acknowledged": len(load.accepted),
        "events_unacknowledged": len(load.sent - load.accepted),
        "killed_member_rejoined_s": round(time.monotonic() - rejoin_started, 1),
    }


def switchover_round(cluster: PatroniCluster, base: str, fleet: Any, engine: Any, settle_s: float) -> dict[str, Any]:
    load = MixedLoad(base, fleet)
    with load.running():
        time.sleep(settle_s)
        started = time.monotonic()
        cluster.switchover()
        switched_s = time.monotonic() - started
        time.sleep(settle_s)
    lost, duplicated = load.lost_and_duplicated(engine)
    return {
        "failed_requests": len(load.failed()),
        "switchover_s": round(switched_s, 2),
        "requests": len(load.answers),
        "responses": _statuses(load),
        "lost_events": lost,
        "duplicated_events": duplicated,
        "failed_samples": [f"{a.kind} {a.status} {a.detail[:120]}" for a in load.failed()[:5]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one kill and one switchover (under three minutes)")
    parser.add_argument("--rounds", type=int, default=3, help="kills and switchovers each (default 3; --quick: 1)")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--reconnect-wait-ms", type=int, default=5000, help="REGISTRY_RECONNECT_WAIT_MS of the registry")
    parser.add_argument("--commit-wait-ms", type=int, default=5000, help="REGISTRY_COMMIT_WAIT_MS of the registry")
    parser.add_argument(
        "--sync-cost",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the load with and without synchronous replication (default: on, off with --quick)",
    )
    parser.add_argument("--reader-max-lag-ms", type=int, default=5000, help="REGISTRY_READER_MAX_LAG_MS of the registry")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    settle_s = 2.0 if args.quick else 4.0
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from registry_service import migrate
    from registry_service.config import RegistryConfig
    from registry_service.db import make_engine

    began = time.monotonic()
    cluster = PatroniCluster.in_temp_folder()
    try:
        cluster.start()
        cluster_start_s = time.monotonic() - began
        cluster.create_database(DATABASE)
        writer_url, reader_url = cluster.writer_url(DATABASE), cluster.reader_url(DATABASE)
        setup = make_engine(RegistryConfig(database_url=writer_url, lock_wait_s=30))
        migrate.upgrade(setup)
        fleet = seed(setup)
        setup.dispose()
        env = {
            "REGISTRY_READER_DATABASE_URL": reader_url,
            "REGISTRY_READER_MAX_LAG_MS": str(args.reader_max_lag_ms),
            "REGISTRY_RECONNECT_WAIT_MS": str(args.reconnect_wait_ms),
            "REGISTRY_COMMIT_WAIT_MS": str(args.commit_wait_ms),
        }
        port = free_port()
        engine = create_engine(writer_url, poolclass=NullPool)  # each count finds the leader of the moment
        with child_server(registry_server_argv(writer_url, port, args.threads), port, env):
            base = f"http://127.0.0.1:{port}"
            baseline = steady_rates(base, fleet, settle_s + 1)
            measure_sync = not args.quick if args.sync_cost is None else args.sync_cost
            synchronous = sync_cost(cluster, base, fleet, 8.0) if measure_sync else None
            kills, switchovers = [], []
            for _ in range(rounds):
                kills.append(kill_round(cluster, base, fleet, engine, settle_s))
                switchovers.append(switchover_round(cluster, base, fleet, engine, settle_s))
        engine.dispose()
    finally:
        cluster.destroy()
    result: dict[str, Any] = {
        "benchmark": "failover",
        "write_unavailable_s": max(k["write_unavailable_s"] for k in kills),
        "lost_events": sum(k["lost_events"] + s["lost_events"] for k, s in zip(kills, switchovers, strict=True)),
        "duplicated_events": sum(
            k["duplicated_events"] + s["duplicated_events"] for k, s in zip(kills, switchovers, strict=True)
        ),
        "responses_500": sum(k["responses_500"] for k in kills),
        "switchover_failed_requests": sum(s["failed_requests"] for s in switchovers),
        "kills": kills,
        "switchovers": switchovers,
        "baseline": baseline,
        "synchronous_replication_cost": synchronous,
        "cluster_start_s": round(cluster_start_s, 1),
        "total_s": round(time.monotonic() - began, 1),
        "patroni": {
            "members": len(cluster.members),
            "ttl_s": patroni_cluster.TTL_S,
            "loop_wait_s": patroni_cluster.LOOP_WAIT_S,
            "retry_timeout_s": patroni_cluster.RETRY_TIMEOUT_S,
            "synchronous_mode": True,
            "synchronous_mode_strict": True,
            "router": "libpq multi-host (target_session_attrs read-write / prefer-standby)",
        },
        "registry": {
            "waitress_threads": args.threads,
            "reconnect_wait_s": args.reconnect_wait_ms / 1000,
            "commit_wait_s": args.commit_wait_ms / 1000,
            "reader_max_lag_s": args.reader_max_lag_ms / 1000,
        },
        "goal_write_unavailable_s": GOAL_WRITE_UNAVAILABLE_S,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    result["goal_met"] = (
        result["write_unavailable_s"] <= GOAL_WRITE_UNAVAILABLE_S
        and result["lost_events"] == 0
        and result["duplicated_events"] == 0
        and result["responses_500"] == 0
        and result["switchover_failed_requests"] == 0
    )
    print_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
