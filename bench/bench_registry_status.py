"""Status-check throughput of the registry against a bare Flask + waitress "hello", same settings.

Seeds a registry with about 1 M cylinders (x --scale) on PostgreSQL (or --database-url), serves
it with `cylinder-registry serve` and a hello app with identical waitress settings, each in its
own process, and drives both with the same closed-loop client: 16 keep-alive connections posting
one status request per vehicle (by plate, random among 50,000 vehicles; --shape station sends
what a station agent sends instead: the cylinder just read, and the plate). The client is wrk when it
is installed (Debian package wrk), so it takes little of the CPU the servers and PostgreSQL share;
otherwise a Python client, which takes about a core of its own. Prints one JSON object. Goal: ratio >= 0.7.

    python bench/bench_registry_status.py [--scale 0.01] [--seconds 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import (
    child_server,
    closed_loop,
    free_port,
    print_json,
    registry_server_argv,
    scratch_database,
    wrk_available,
    wrk_closed_loop,
)

GOAL_RATIO = 0.7
CYLINDERS_AT_SCALE_1 = 1_000_000
CYLINDERS_PER_VEHICLE = 1.5  # the seed's mix of 1-4 cylinders averages about this

HELLO_APP = """
import sys, waitress
from flask import Flask, jsonify
app = Flask("hello")
@app.post("/api/v1/status")
def hello():
    return jsonify({"hello": "world"})
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), connection_limit=500,
               channel_timeout=60)
"""


def seed(database_url: str, cylinders: int) -> tuple[list[tuple[str, str, str]], str, float]:
    """Seeds the city; returns (plate, first cylinder id, its tag UID) per vehicle, a station token
    and the seconds seeding took."""
    from sqlalchemy import select

    from registry_service import migrate
    from registry_service.config import RegistryConfig
    from registry_service.db import make_engine, make_session_factory, run_in_transaction
    from registry_service.models import Cylinder, Role, Vehicle
    from registry_service.seed import DemoShape, seed_demo
    from registry_service.services import accounts

    engine = make_engine(RegistryConfig(database_url=database_url))
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    seed_demo(engine, 1, datetime.now(UTC).date(), DemoShape(vehicles=int(cylinders / CYLINDERS_PER_VEHICLE)), progress=False)
    seconds = time.perf_counter() - t0
    with engine.begin() as c:
        c.exec_driver_sql("ANALYZE") if engine.dialect.name == "postgresql" else None
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)

    def user(s):  # type: ignore[no-untyped-def]
        accounts.create_user(s, "bench", now, username="bench-station", role=Role.STATION, station_code="ST-410105-01")
        return accounts.issue_token(s, "bench", now, username="bench-station").token

    token = run_in_transaction(sessions, user)
    with engine.connect() as c:
        first_cylinders = select(Vehicle.plate, Cylinder.cylinder_id, Cylinder.tag_uid).join(
            Cylinder, Cylinder.vehicle_id == Vehicle.id
        )
        vehicles = [tuple(row) for row in c.execute(first_cylinders.where(Cylinder.position == 1).limit(200_000))]
    engine.dispose()
    return vehicles, token, seconds  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1 M cylinders")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, same for both servers")
    parser.add_argument(
        "--shape",
        choices=("plate", "station"),
        default="plate",
        help="plate: one request per vehicle by plate (the goal); station: a read cylinder plus the plate",
    )
    parser.add_argument("--python-client", action="store_true", help="use the Python load generator even if wrk is installed")
    parser.add_argument("--database-url", help="use this (empty) database instead of a scratch PostgreSQL one")
    args = parser.parse_args()
    cylinders = int(CYLINDERS_AT_SCALE_1 * args.scale)
    use_wrk = wrk_available() and not args.python_client

    def run(database_url: str) -> dict[str, object]:
        vehicles, token, seed_s = seed(database_url, cylinders)
        rng = random.Random(7)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        asked = rng.sample(vehicles, min(50_000, len(vehicles)))
        if args.shape == "plate":
            bodies = [json.dumps({"plate": plate}, ensure_ascii=False).encode() for plate, _, _ in asked]
        else:  # what station_agent.registry_client sends: the cylinder just read, and the plate
            bodies = [
                json.dumps(
                    {"plate": plate, "cylinders": [{"cylinder_id": cylinder_id, "tag_uid": tag_uid}]}, ensure_ascii=False
                ).encode()
                for plate, cylinder_id, tag_uid in asked
            ]

        def drive(port: int, seconds: float = args.seconds) -> dict[str, Any]:
            if use_wrk:
                return wrk_closed_loop(port, args.connections, seconds, "POST", "/api/v1/status", headers, bodies)
            return closed_loop(
                port, args.connections, seconds, lambda _: ("POST", "/api/v1/status", rng.choice(bodies), headers)
            ).summary()

        port = free_port()
        with child_server(registry_server_argv(database_url, port, args.threads), port):
            drive(port, 3)  # warm-up: connection pool, prepared statements, PostgreSQL's caches
            registry = drive(port)
        port = free_port()
        with child_server([sys.executable, "-c", HELLO_APP, str(port), str(args.threads)], port):
            drive(port, 3)
            hello = drive(port)
        ratio = registry["requests_per_s"] / hello["requests_per_s"] if hello["requests_per_s"] else 0.0
        return {
            "benchmark": "registry_status",
            "database": database_url.split(":", 1)[0],
            "cylinders": cylinders,
            "seed_seconds": round(seed_s, 1),
            "request_shape": args.shape,
            "connections": args.connections,
            "load_generator": "wrk" if use_wrk else "python",
            "waitress_threads": args.threads,
            "registry": registry,
            "hello": hello,
            "ratio": round(ratio, 3),
            "goal_ratio": GOAL_RATIO,
            "goal_met": ratio >= GOAL_RATIO,
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        }

    if args.database_url:
        print_json(run(args.database_url))
    else:
        with scratch_database() as url:
            print_json(run(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
