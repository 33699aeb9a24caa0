"""The bureau's typical question over a big scan_events table on PostgreSQL:
"refused or overridden fills of overdue cylinders, last 30 days, one district, per station".

Seeds a synthetic Zhengzhou and 10 M scan events (x --scale) spread over 60 days in daily
partitions (generated inside PostgreSQL), then times the query as the API runs it
(services.queries through SQLAlchemy) and reports the plan's execution time. Prints one JSON
object. Goal: <= 200 ms.

    python bench/bench_registry_query.py [--scale 0.1] [--rounds 20] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import print_json, scratch_database

GOAL_MS = 200.0
EVENTS_AT_SCALE_1 = 10_000_000
DAYS = 60
DISTRICT = "410105"  # 金水区
CHUNK = 1_000_000

GENERATE = """
INSERT INTO scan_events (event_uuid, occurred_at, received_at, station_id, pump_number, cylinder_pk, cylinder_id,
                         tag_uid, read_counter, record_sequence, plate, decision, outcome, reasons, reason_mask, attendant)
SELECT gen_random_uuid(), t, t, s, 1, c, '156-4101-' || (20000000 + c), NULL, NULL, 1, NULL,
       CASE WHEN r < 0.90 THEN 'allow' ELSE 'refuse' END,
       CASE WHEN r < 0.90 THEN 'allowed' WHEN r < 0.95 THEN 'refused' WHEN r < 0.97 THEN 'overridden'
            ELSE 'would_refuse' END,
       CASE WHEN r < 0.90 THEN '' WHEN q < 0.6 THEN 'inspection_overdue' ELSE 'past_service_life' END,
       CASE WHEN r < 0.90 THEN 0 WHEN q < 0.6 THEN :overdue_bit ELSE :past_life_bit END,
       NULL
FROM (
    SELECT :now - random() * interval '60 days' AS t, 1 + floor(random() * :stations)::int AS s,
           1 + floor(random() * :cylinders)::int AS c, random() AS r, random() AS q
    FROM generate_series(1, :n)
) g
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 10 M events")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (its URL is printed)")
    args = parser.parse_args()
    events = int(EVENTS_AT_SCALE_1 * args.scale)

    from sqlalchemy import func, select, text

    from registry_service import migrate, partitions
    from registry_service.config import RegistryConfig
    from registry_service.db import make_engine, make_session_factory
    from registry_service.models import Cylinder, Station
    from registry_service.seed import DemoShape, seed_demo
    from registry_service.services.queries import overdue_problem_fills_per_station
    from registry_service.services.reasons import bit_of

    with scratch_database(keep=args.keep) as url:
        engine = make_engine(RegistryConfig(database_url=url))
        migrate.upgrade(engine)
        now = datetime.now(UTC).replace(microsecond=0)
        seed_demo(engine, 9, now.date(), DemoShape(vehicles=20_000), progress=False)
        with engine.begin() as c:
            partitions.ensure_daily_partitions(c, now.date(), days_ahead=1, days_back=DAYS + 1)
            stations = c.scalar(select(func.count()).select_from(Station))
            cylinders = c.scalar(select(func.count()).select_from(Cylinder))
        t0 = time.perf_counter()
        done = 0
        while done < events:
            n = min(CHUNK, events - done)
            with engine.begin() as c:
                c.execute(
                    text(GENERATE),
                    {
                        "now": now,
                        "stations": stations,
                        "cylinders": cylinders,
                        "n": n,
                        "overdue_bit": bit_of("inspection_overdue"),
                        "past_life_bit": bit_of("past_service_life"),
                    },
                )
            done += n
            print(f"generated {done:,} events", file=sys.stderr)
        load_s = time.perf_counter() - t0
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE scan_events"))

        sessions = make_session_factory(engine)
        timings, groups = [], []
        for _ in range(args.rounds):
            with sessions() as session:
                t = time.perf_counter()
                groups = overdue_problem_fills_per_station(session, DISTRICT, now)
                timings.append((time.perf_counter() - t) * 1000)
        with sessions() as session:
            # The very statement the service sends, explained with its values inlined.
            from registry_service.services.queries import aggregate_statement, overdue_problem_fills_filter

            statement = aggregate_statement(session, overdue_problem_fills_filter(DISTRICT, now), now, "station", 0)
            assert statement is not None, "the district has stations"
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = [row[0] for row in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))]
        engine.dispose()
        timings.sort()
        print_json(
            {
                "benchmark": "registry_query",
                "database": "postgresql",
                "events": events,
                "days": DAYS,
                "load_seconds": round(load_s, 1),
                "query": "refused or overridden fills of overdue cylinders, last 30 days, district 410105, per station",
                "stations_in_result": len(groups),
                "fills_counted": sum(g["total"] for g in groups),
                "ms": {
                    "min": round(timings[0], 1),
                    "p50": round(statistics.median(timings), 1),
                    "p99": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 1),
                },
                "plan_planning": next((line.strip() for line in plan if "Planning Time" in line), None),
                "plan_execution": next((line.strip() for line in plan if "Execution Time" in line), None),
                "plan_top": [line for line in plan[:6]],
                "goal_ms": GOAL_MS,
                "goal_met": statistics.median(timings) <= GOAL_MS,
                "database_url": url if args.keep else None,
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
