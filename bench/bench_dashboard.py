"""The bureau's dashboard at city scale: server time of its pages, on SQLite and PostgreSQL.

Seeds the city the issue measured (`seed-demo --vehicles 20000 --event-days 30
--stations-per-district 5`: about 372,000 scans over 30 days, their day roll-ups and clone
suspects derived as `rebuild-rollups` does) and, before those 30 days, 335 days that exist only as
day roll-ups (a year of raw events at city scale does not fit this machine's budget), then signs in
as the bureau and times each page in the app itself (Flask's test client: server time, no network),
the median of several loads after one warm-up load.

Baseline, in the same run: the overview's figures and clone suspects computed the old way, from the
raw events (counting scan_events, the clone rules run over the period: reports.Settings
raw_events=True), beside the same figures from the roll-ups; data only, as the old page's
rendering no longer exists. Over the year the raw events cover only its last 30 days, so that
baseline is lower than a year of raw events would give.

Goals (issue 14): overview <= 300 ms (14 days, the default) and <= 1 s over a year.

    python bench/bench_dashboard.py [--quick] [--loads 5] [--keep]

--quick measures SQLite only, with one baseline load, in under three minutes.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_common import print_json, scratch_database

SHAPE = {"vehicles": 20_000, "stations_per_district": 5, "event_days": 30, "rollup_days": 335}
GOAL_OVERVIEW_MS = 300.0
GOAL_YEAR_MS = 1000.0
PASSWORD = "bench-dashboard-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ZONE_HOURS = 8  # the default report_utc_offset_hours the registry runs with


def seed(url: str, today: date) -> dict[str, Any]:
    from sqlalchemy import text

    from registry_service import migrate
    from registry_service.config import RegistryConfig
    from registry_service.db import make_engine
    from registry_service.seed import DemoShape, seed_demo

    engine = make_engine(RegistryConfig(database_url=url))
    migrate.upgrade(engine)
    started = time.perf_counter()
    summary = seed_demo(engine, 2026, today, DemoShape(**SHAPE), progress=False).to_json()
    if engine.dialect.name == "postgresql":  # what autovacuum would have done by the time anyone looks
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {**summary, "seed_s": round(time.perf_counter() - started, 1)}


@contextmanager
def signed_in(url: str, now: datetime) -> Iterator[Any]:
    """A test client signed in as a bureau user, over the app the registry serves."""
    from registry_service.app import create_app
    from registry_service.config import RegistryConfig
    from registry_service.dashboard import register_dashboard
    from registry_service.db import make_engine
    from registry_service.models import Role
    from registry_service.services import accounts

    engine = make_engine(RegistryConfig(database_url=url))
    app = create_app(RegistryConfig(database_url=url), engine=engine, clock=lambda: now)
    register_dashboard(app, secret_key="bench-dashboard")
    registry = app.extensions["registry"]
    registry.transaction(
        lambda s: accounts.create_user(s, "bench", now, username="bureau-bench", role=Role.BUREAU, password=PASSWORD)
    )
    client = app.test_client()
    match = CSRF.search(client.get("/dashboard/sign-in").get_data(as_text=True))
    assert match, "the sign-in form carries a CSRF token"
    form = {"username": "bureau-bench", "password": PASSWORD, "csrf_token": match.group(1)}
    response = client.post("/dashboard/sign-in", data=form)
    assert response.status_code in (302, 303), f"sign-in failed: {response.status_code}"
    try:
        yield client, registry
    finally:
        engine.dispose()


def percentiles_ms(load: Callable[[], object], loads: int, warm_up: bool = True) -> dict[str, float]:
    if warm_up:
        load()
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        load()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"p50": round(statistics.median(times), 1), "p95": round(p95, 1), "loads": loads}


def median_ms(load: Callable[[], object], loads: int, warm_up: bool = True) -> float:
    return percentiles_ms(load, loads, warm_up)["p50"]


def page_loader(client: Any, path: str) -> Callable[[], object]:
    def load() -> object:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response.get_data()

    return load


def examples(registry: Any) -> dict[str, str]:
    """A busy station, and a vehicle and a cylinder with scans: what the other pages show."""
    from sqlalchemy import func, select

    from registry_service.models import ScanEvent, Station

    def work(session: Any) -> dict[str, str]:
        station = session.execute(
            select(Station.code)
            .join(ScanEvent, ScanEvent.station_id == Station.id)
            .group_by(Station.code)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        plate, cylinder = session.execute(
            select(ScanEvent.plate, ScanEvent.cylinder_id).where(ScanEvent.plate.is_not(None)).limit(1)
        ).one()
        return {"station": station, "plate": plate, "cylinder": cylinder}

    return registry.transaction(work)  # type: ignore[no-any-return]


def measure(url: str, today: date, now: datetime, loads: int, baseline_loads: int) -> dict[str, Any]:
    from urllib.parse import quote

    from registry_service.dashboard.filters import DashboardQuery
    from registry_service.dashboard.reports import Settings, overview

    year = f"since={(today - timedelta(days=364)).isoformat()}&until={today.isoformat()}"
    with signed_in(url, now) as (client, registry):
        where = examples(registry)
        pages = {
            "overview": "/dashboard/overview",
            "overview_year": f"/dashboard/overview?{year}",
            "attempts": "/dashboard/attempts",
            "station": f"/dashboard/stations/{where['station']}",
            "vehicle": f"/dashboard/vehicles/{quote(where['plate'])}",
            "cylinder": f"/dashboard/cylinders/{where['cylinder']}",
            "clones": "/dashboard/clones",
            "clones_year": f"/dashboard/clones?{year}",
        }
        pages_ms = {name: median_ms(page_loader(client, path), loads) for name, path in pages.items()}

        def figures(days: int, raw: bool) -> Callable[[], object]:
            query = DashboardQuery(since=today - timedelta(days=days - 1), until=today)
            settings = Settings(ZONE_HOURS, 150.0, raw_events=raw)
            return lambda: registry.report(lambda s: overview(s, query, now, settings))

        data_ms = {
            "overview_rollups": median_ms(figures(14, False), loads),
            "overview_raw_events": median_ms(figures(14, True), baseline_loads, warm_up=False),
            "overview_year_rollups": median_ms(figures(365, False), loads),
            "overview_year_raw_events": median_ms(figures(365, True), baseline_loads, warm_up=False),
        }
    return {"pages_ms": pages_ms, "overview_data_ms": data_ms, "examples": where}


@contextmanager
def database(kind: str, keep: bool) -> Iterator[str]:
    if kind == "postgresql":
        with scratch_database(keep=keep) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        yield f"sqlite:///{folder}/registry.sqlite3"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="SQLite only, one baseline load")
    parser.add_argument("--loads", type=int, default=5, help="timed loads per page (after one warm-up)")
    parser.add_argument("--baseline-loads", type=int, default=3, help="timed loads of the raw-event baseline")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (its URL is printed)")
    args = parser.parse_args()
    kinds = ("sqlite",) if args.quick else ("sqlite", "postgresql")
    baseline_loads = 1 if args.quick else args.baseline_loads
    now = datetime.now(UTC).replace(microsecond=0)
    today = (now + timedelta(hours=ZONE_HOURS)).date()
    result: dict[str, Any] = {"benchmark": "dashboard", "shape": SHAPE, "quick": args.quick, "loads": args.loads}
    for kind in kinds:
        started = time.perf_counter()
        with database(kind, args.keep) as url:
            seeded = seed(url, today)
            measured = measure(url, today, now, args.loads, baseline_loads)
        pages, data = measured["pages_ms"], measured["overview_data_ms"]
        result[f"overview_ms_{kind}"] = pages["overview"]
        result[f"overview_year_ms_{kind}"] = pages["overview_year"]
        result[f"pages_ms_{kind}"] = pages
        result[f"baseline_{kind}"] = {
            **data,
            "speed_up_overview": round(data["overview_raw_events"] / max(data["overview_rollups"], 0.1), 1),
            "speed_up_overview_year": round(data["overview_year_raw_events"] / max(data["overview_year_rollups"], 0.1), 1),
            "baseline_loads": baseline_loads,
        }
        result[f"seeded_{kind}"] = seeded
        result[f"goal_met_{kind}"] = pages["overview"] <= GOAL_OVERVIEW_MS and pages["overview_year"] <= GOAL_YEAR_MS
        result[f"run_s_{kind}"] = round(time.perf_counter() - started, 1)
    result["goals_ms"] = {"overview": GOAL_OVERVIEW_MS, "overview_year": GOAL_YEAR_MS}
    result["note"] = (
        "server time in the app (Flask test client), median after a warm-up; baseline: the overview's data from raw "
        "events as before roll-ups (its year covers the 30 days of raw events only); 2-core machine shared with other work"
    )
    print_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
