"""Status-check throughput of the registry against a bare WSGI "hello" and a Flask "hello", same server.

Seeds a registry with about 1 M cylinders (x --scale) and 1,000 stations (x --scale), each with a
station user and token of its own, on PostgreSQL (or --database-url). Serves it with
`cylinder-registry serve`, and the two hellos with the waitress options `serve` computes from the
same flags, each in its own process, and drives all three with the same closed-loop client: 16
keep-alive connections posting one status request per vehicle (by plate, random among 50,000
vehicles; --shape station sends what a station agent sends instead: the cylinder just read, and
the plate), each request with a station token drawn at random (wrk) or in turn (Python client):
the registry caches tokens per node, and one token would make that cache look free. The client is
wrk when it is installed (Debian package wrk), so it takes little of the CPU the servers and
PostgreSQL share; otherwise a Python client, which takes about a core of its own. Prints one JSON
object. Goal: ratio_vs_wsgi_hello >= 0.7, since the status check is answered in front of Flask
(registry_service/api/status.py); ratio_vs_flask_hello (also `ratio`, the key earlier runs wrote)
is reported beside it. A fourth server, the bare WSGI hello plus one prepared one-row query
through libpq on a connection per thread (`wsgi_db_hello`), measures what the goal's baseline
leaves any path that must read the database once: `db_round_trip_ceiling_vs_wsgi_hello`. A fifth,
the registry with its token cache off (`registry_token_lookups`), is what every request costs when
it must look its token up: so it was in production before the token watch (a station's requests
come a minute or so apart, beyond the 10 s the cache kept a token; registry_service/token_watch.py);
`token_cache_gain` is the registry against it. When
that ceiling is above 1 (the bare hello answered fewer requests than the hello doing more), the bare
hello stalled: `baseline_stalled` is true and `goal_met` false whatever the ratio.

    python bench/bench_registry_status.py [--scale 0.01] [--seconds 5] [--rounds 3] [--threads 8]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import (
    child_server,
    closed_loop,
    free_port,
    hello_server_argv,
    print_json,
    registry_server_argv,
    scratch_database,
    wrk_available,
    wrk_closed_loop,
    wsgi_db_hello_env,
)

GOAL_RATIO = 0.7
# The registry with its token cache off, on a node and while listening (config.py).
TOKEN_CACHE_OFF = {"REGISTRY_TOKEN_CACHE_S": "0", "REGISTRY_TOKEN_CACHE_LISTENING_S": "0"}
CYLINDERS_AT_SCALE_1 = 1_000_000
CYLINDERS_PER_VEHICLE = 1.5  # the seed's mix of 1-4 cylinders averages about this
STATIONS_AT_SCALE_1 = 1_000


def seed(database_url: str, cylinders: int, stations: int) -> tuple[list[tuple[str, str, str]], list[str], float]:
    """Seeds the city with at least `stations` stations; returns (plate, first cylinder id, its
    tag UID) per vehicle, one token for each of `stations` station users, and the seconds seeding took."""
    from sqlalchemy import select

    from registry_service import migrate
    from registry_service.config import RegistryConfig
    from registry_service.db import make_engine, make_session_factory, run_in_transaction
    from registry_service.models import Cylinder, Role, Station, Vehicle
    from registry_service.seed import DISTRICTS, DemoShape, seed_demo
    from registry_service.services import accounts

    engine = make_engine(RegistryConfig(database_url=database_url))
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    shape = DemoShape(
        vehicles=int(cylinders / CYLINDERS_PER_VEHICLE), stations_per_district=max(1, math.ceil(stations / len(DISTRICTS)))
    )
    seed_demo(engine, 1, datetime.now(UTC).date(), shape, progress=False)
    seconds = time.perf_counter() - t0
    with engine.begin() as c:
        c.exec_driver_sql("ANALYZE") if engine.dialect.name == "postgresql" else None
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)

    def users(s):  # type: ignore[no-untyped-def]
        tokens = []
        for code in s.scalars(select(Station.code).order_by(Station.id).limit(stations)):
            accounts.create_user(s, "bench", now, username=f"bench-{code}", role=Role.STATION, station_code=code)
            tokens.append(accounts.issue_token(s, "bench", now, username=f"bench-{code}").token)
        return tokens

    tokens = run_in_transaction(sessions, users)
    with engine.connect() as c:
        first_cylinders = select(Vehicle.plate, Cylinder.cylinder_id, Cylinder.tag_uid).join(
            Cylinder, Cylinder.vehicle_id == Vehicle.id
        )
        vehicles = [tuple(row) for row in c.execute(first_cylinders.where(Cylinder.position == 1).limit(200_000))]
    engine.dispose()
    return vehicles, tokens, seconds  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1 M cylinders and of 1,000 stations")
    parser.add_argument("--stations", type=int, help="stations with a token each (default 1,000 x --scale, at least 1)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one server's window in a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one window per server, in turn")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, same for all three servers")
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
    stations = args.stations or max(1, round(STATIONS_AT_SCALE_1 * args.scale))
    use_wrk = wrk_available() and not args.python_client

    def run(database_url: str) -> dict[str, object]:
        vehicles, tokens, seed_s = seed(database_url, cylinders, stations)
        rng = random.Random(7)
        headers = {"Content-Type": "application/json"}
        authorizations = [f"Bearer {token}" for token in tokens]
        turn = itertools.count()  # next() on a count is atomic under the GIL: one turn per request
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
                return wrk_closed_loop(
                    port,
                    args.connections,
                    seconds,
                    "POST",
                    "/api/v1/status",
                    headers,
                    bodies,
                    rotating_header=("Authorization", authorizations),
                )

            def request(_: int) -> tuple[str, str, bytes, dict[str, str]]:
                authorization = authorizations[next(turn) % len(authorizations)]
                return "POST", "/api/v1/status", rng.choice(bodies), {**headers, "Authorization": authorization}

            return closed_loop(port, args.connections, seconds, request).summary()

        # All five servers run side by side (an idle one costs nothing) and are driven in turn, one
        # window each, for --rounds rounds: on a shared machine the load drifts, and measuring each
        # server once, one after the other, let the drift decide the ratio.
        servers: dict[str, tuple[Callable[[int], list[str]], dict[str, str]]] = {
            "registry": (lambda port: registry_server_argv(database_url, port, args.threads), {}),
            "registry_token_lookups": (lambda port: registry_server_argv(database_url, port, args.threads), TOKEN_CACHE_OFF),
            "wsgi_hello": (lambda port: hello_server_argv("wsgi", port, args.threads), {}),
            "wsgi_db_hello": (lambda port: hello_server_argv("wsgi_db", port, args.threads), wsgi_db_hello_env(database_url)),
            "hello": (lambda port: hello_server_argv("flask", port, args.threads), {}),
        }
        windows: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        with contextlib.ExitStack() as running:
            ports = {}
            for name, (argv_of, env) in servers.items():
                port = free_port()
                running.enter_context(child_server(argv_of(port), port, env))
                drive(port, 3)  # warm-up: connection pool, prepared statements, PostgreSQL's caches, token cache
                ports[name] = port
            for _ in range(args.rounds):
                for name, port in ports.items():
                    windows[name].append(drive(port))

        def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
            """One figure from the windows: requests over seconds; latencies of the median window."""
            middle = sorted(results, key=lambda r: r["requests_per_s"])[len(results) // 2]
            return {
                **middle,
                "requests_per_s": round(statistics.mean(r["requests_per_s"] for r in results), 1),
                "requests_per_s_by_round": [r["requests_per_s"] for r in results],
                "errors": sum(r["errors"] for r in results),
            }

        registry, token_lookups, wsgi_hello, wsgi_db_hello, flask_hello = (pooled(windows[name]) for name in servers)

        def ratio(measured: dict[str, Any], baseline: dict[str, Any]) -> float:
            return measured["requests_per_s"] / baseline["requests_per_s"] if baseline["requests_per_s"] else 0.0

        ratio_by_round = [
            round(r["requests_per_s"] / w["requests_per_s"], 3) if w["requests_per_s"] else 0.0
            for r, w in zip(windows["registry"], windows["wsgi_hello"], strict=True)
        ]
        ratio_wsgi, ratio_flask = ratio(registry, wsgi_hello), ratio(registry, flask_hello)
        ceiling = ratio(wsgi_db_hello, wsgi_hello)
        # The bare hello doing the same and more work (a database round trip) faster than itself
        # means the baseline stalled (its worker threads never wait, so waitress's I/O thread waits
        # for the GIL; docs/performance.md): a ratio against it is not evidence of the goal.
        baseline_stalled = ceiling > 1.0
        return {
            "benchmark": "registry_status",
            "database": database_url.split(":", 1)[0],
            "cylinders": cylinders,
            "station_tokens": len(tokens),
            "seed_seconds": round(seed_s, 1),
            "request_shape": args.shape,
            "connections": args.connections,
            "load_generator": "wrk" if use_wrk else "python",
            "token_choice": "random per request" if use_wrk else "round robin per request",
            "waitress_threads": args.threads,
            "registry": registry,
            "wsgi_hello": wsgi_hello,
            "hello": flask_hello,  # the Flask hello, under the key earlier runs wrote
            "wsgi_db_hello": wsgi_db_hello,
            "ratio_vs_wsgi_hello": round(ratio_wsgi, 3),
            "ratio_vs_wsgi_hello_by_round": ratio_by_round,
            "rounds": args.rounds,
            # What the goal's own baseline allows any path that reads the database once per request:
            # the bare hello plus one prepared one-row round trip, against the bare hello.
            "db_round_trip_ceiling_vs_wsgi_hello": round(ceiling, 3),
            "baseline_stalled": baseline_stalled,
            "ratio_vs_wsgi_db_hello": round(ratio(registry, wsgi_db_hello), 3),
            "ratio_vs_flask_hello": round(ratio_flask, 3),
            # The same registry looking every request's token up (its cache off), and what the cache gives.
            "registry_token_lookups": token_lookups,
            "token_cache_gain": round(ratio(registry, token_lookups), 3),
            "ratio": round(ratio_flask, 3),  # = ratio_vs_flask_hello, for readers of earlier output
            "goal": "ratio_vs_wsgi_hello >= goal_ratio, against a baseline that did not stall",
            "goal_ratio": GOAL_RATIO,
            "goal_met": ratio_wsgi >= GOAL_RATIO and not baseline_stalled,
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
