"""Scan-event ingestion through the batch endpoint on PostgreSQL.

Seeds a small city (stations, cylinders) in a scratch PostgreSQL database, serves it with
`cylinder-registry serve`, and has N stations post batches of new events concurrently (each
station with its own token, as in the field). Prints one JSON object with events/s and batch
latency. Goal: >= 20,000 events/s.

    python bench/bench_registry_ingest.py [--scale 0.1] [--seconds 10] [--batch 500] [--stations 8]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import (
    child_server,
    closed_loop,
    free_port,
    print_json,
    registry_server_argv,
    scratch_database,
)

GOAL_EVENTS_PER_S = 20_000


def setup(database_url: str, vehicles: int, stations: int) -> tuple[list[str], list[str], list[str]]:
    from sqlalchemy import select

    from registry_service import migrate
    from registry_service.config import RegistryConfig
    from registry_service.db import make_engine, make_session_factory, run_in_transaction
    from registry_service.models import Cylinder, Role, Station
    from registry_service.seed import DemoShape, seed_demo
    from registry_service.services import accounts

    engine = make_engine(RegistryConfig(database_url=database_url))
    migrate.upgrade(engine)
    seed_demo(engine, 3, datetime.now(UTC).date(), DemoShape(vehicles=vehicles), progress=False)
    with engine.connect() as c:
        codes = list(c.scalars(select(Station.code).order_by(Station.id).limit(stations)))
        cylinder_ids = list(c.scalars(select(Cylinder.cylinder_id).limit(100_000)))
    now = datetime.now(UTC)
    sessions = make_session_factory(engine)

    def users(s):  # type: ignore[no-untyped-def]
        tokens = []
        for code in codes:
            accounts.create_user(s, "bench", now, username=f"u-{code}", role=Role.STATION, station_code=code)
            tokens.append(accounts.issue_token(s, "bench", now, username=f"u-{code}").token)
        return tokens

    tokens = run_in_transaction(sessions, users)
    engine.dispose()
    return codes, tokens, cylinder_ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 100,000-vehicle seed")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--stations", type=int, default=8, help="concurrent stations (connections)")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--prebuilt", type=int, default=600, help="request bodies built before measuring")
    args = parser.parse_args()

    with scratch_database() as url:
        codes, tokens, cylinder_ids = setup(url, max(100, int(100_000 * args.scale)), args.stations)
        rng = random.Random(5)
        start = datetime.now(UTC) - timedelta(hours=1)

        def make_body() -> bytes:
            events = []
            for _ in range(args.batch):
                refused = rng.random() < 0.06
                events.append(
                    {
                        "event_id": str(uuid.uuid4()),
                        "occurred_at": (start + timedelta(milliseconds=rng.randrange(3_600_000))).isoformat(),
                        "pump": rng.randint(1, 4),
                        "cylinder_id": rng.choice(cylinder_ids),
                        "tag_uid": f"04{rng.getrandbits(48):012X}",
                        "read_counter": rng.randint(1, 100_000),
                        "decision": "refuse" if refused else "allow",
                        "outcome": "refused" if refused else "allowed",
                        "reasons": ["inspection_overdue"] if refused else [],
                    }
                )
            return json.dumps({"events": events}).encode()

        # Bodies are built before the clock starts: the client shares the machine with the server
        # and PostgreSQL, and building JSON is not what is being measured.
        prebuilt = [make_body() for _ in range(args.prebuilt)]

        def batch_request(n: int) -> tuple[str, str, bytes, dict[str, str]]:
            station = (n // 1_000_000) % len(codes)
            body = prebuilt.pop() if prebuilt else make_body()
            return (
                "POST",
                f"/api/v1/stations/{codes[station]}/scan-events",
                body,
                {"Authorization": f"Bearer {tokens[station]}", "Content-Type": "application/json"},
            )

        port = free_port()
        with child_server(registry_server_argv(url, port, args.threads), port):
            result = closed_loop(port, len(codes), args.seconds, batch_request, warmup_s=2.0).summary()
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as c:
            stored = c.scalar(text("SELECT count(*) FROM scan_events"))
        engine.dispose()
    events_per_s = result["requests_per_s"] * args.batch
    print_json(
        {
            "benchmark": "registry_ingest",
            "database": "postgresql",
            "batch_size": args.batch,
            "stations": len(codes),
            "waitress_threads": args.threads,
            "batches": result,
            "events_per_s": round(events_per_s),
            "events_stored_total": stored,
            "goal_events_per_s": GOAL_EVENTS_PER_S,
            "goal_met": events_per_s >= GOAL_EVENTS_PER_S,
            "note": "client generates and encodes JSON in the same 2-core machine as server and PostgreSQL",
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
