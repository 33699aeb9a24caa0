"""The per-region day totals job (services/region_rollups.py) on SQLite and PostgreSQL: what it
rolls, that it can run again and on two nodes, a moved station, the command and the `serve`
thread, and an upload still running while the job removes its day's mark (PostgreSQL).

That the figures equal a count of the events on random windows is
tests/registry/test_rollups.py::test_region_totals_equal_raw_counts_on_random_windows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from registry_service.api.event_input import parse_event
from registry_service.cli import main
from registry_service.errors import DatabaseBusy
from registry_service.models import LateScanDay, Region, RegionDayTotal, RegionRollupState, Station
from registry_service.region_rollup_sweeper import RegionRollupSweeper
from registry_service.services import events, places, queries, region_rollups
from registry_service.services.queries import EventFilter
from tests.registry.conftest import World
from tests.registry.helpers import event, post_events, refused
from tests.registry.module_database import migrated
from tests.registry.pg_cluster import scratch_database
from tests.registry.test_rollups import RECKONING, ZONE, _local_midnight

LAG = timedelta(hours=1)


@pytest.fixture(autouse=True)
def region_totals_for_any_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """The region totals answer every place of these few stations (queries.REGION_TOTALS_FROM)."""
    monkeypatch.setattr(queries, "REGION_TOTALS_FROM", 0)


def _roll(world: World) -> region_rollups.RollResult:
    return world.registry.transaction(lambda s: region_rollups.roll(s, world.clock(), 8, LAG))


def _held(session: Session) -> dict[tuple[str, date], int]:
    rows = session.execute(
        select(Region.code, RegionDayTotal.day, RegionDayTotal.scans).join(Region, Region.id == RegionDayTotal.region_id)
    )
    return {(code, day): n for code, day, n in rows}


def _by_day(session: Session, world: World, first: date, last: date, **where: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The aggregate by day as answered, as counted from the events, and its SQL."""
    flt = EventFilter(since=_local_midnight(first), until=_local_midnight(last + timedelta(days=1)), **where)
    now = world.clock()
    answered = queries.aggregate(session, flt, now, "day", 8)
    counted = queries.aggregate(session, flt, now, "day", 8, raw_events=True)
    return answered, counted, str(queries.aggregate_statement(session, flt, now, "day", 8))


def _three_days(client: FlaskClient, world: World) -> date:
    """Scans on the three days before today at both stations of the world; returns today."""
    now = world.clock()
    for who, station in (("station", "ST-JS-01"), ("station2", "ST-EQ-01")):
        batch = [event(now - timedelta(days=d, hours=1)) for d in (1, 2, 3)] + [refused(now - timedelta(days=2), ["no_record"])]
        assert post_events(client, world, station, batch, who=who).status_code == 200
    return now.astimezone(ZONE).date()


def test_the_job_rolls_closed_days_once_and_again_changes_nothing(client: FlaskClient, world: World) -> None:
    today = _three_days(client, world)
    first = _roll(world)
    assert first.rolled_until == today - timedelta(days=1) and first.stations_placed == 3 and not first.skipped
    with world.registry.sessions() as session:
        held = _held(session)
        # Every level above a station: its cell, its district, the city.
        assert held[("410105-01", today - timedelta(days=2))] == 2
        assert held[("410105", today - timedelta(days=2))] == 2
        assert held[("4101", today - timedelta(days=2))] == 4
        assert ("4101", today) not in held, "today is not closed: read from the station totals"
    again = _roll(world)
    assert (again.days_rolled, again.days_rolled_again, again.stations_placed) == (0, 0, 0)
    with world.registry.sessions() as session:
        assert _held(session) == held


def test_a_moved_station_is_read_from_the_station_totals_until_the_job_moves_its_days(client: FlaskClient, world: World) -> None:
    today = _three_days(client, world)
    with world.registry.sessions() as session, session.begin():  # a second station in 二七区's cell, no scans
        places.create_station(session, "test", world.clock(), code="ST-EQ-02", name="二七二站", region_code="410103-01")
    _roll(world)
    # ST-EQ-01 moves from 二七区 to 金水区's cell (the registry has no move; an operator's UPDATE).
    with world.registry.sessions() as session, session.begin():
        cell = places.region_by_code(session, "410105-01").id
        session.execute(update(Station).where(Station.code == "ST-EQ-01").values(region_id=cell))
    first, last = today - timedelta(days=3), today
    with world.registry.sessions() as session:
        assert region_rollups.rolled(session, first, last) is None
        answered, counted, sql = _by_day(session, world, first, last, region="410105")
        assert answered == counted and "region_day_totals" not in sql
        assert sum(g["total"] for g in answered["groups"]) == 8, "both stations' scans, by where they are now"
        answered, counted, sql = _by_day(session, world, first, last, region="410103")  # the district it left
        assert answered == counted == {"group_by": "day", "groups": []} and "region_day_totals" not in sql
        answered, counted, sql = _by_day(session, world, first, last, region="410105-01")  # the cell it joined
        assert answered == counted and "region_day_totals" not in sql
    moved = _roll(world)
    assert moved.stations_placed == 1 and moved.days_rolled_again == 3
    with world.registry.sessions() as session:
        answered, counted, sql = _by_day(session, world, first, last, region="410105")
        assert answered == counted and "region_day_totals" in sql
        held = _held(session)
        assert held[("410105", today - timedelta(days=2))] == 4 and ("410103", today - timedelta(days=2)) not in held


def test_rebuilt_totals_forget_the_region_totals_until_the_job_rolls_them_again(client: FlaskClient, world: World) -> None:
    today = _three_days(client, world)
    _roll(world)
    with world.registry.sessions() as session:
        rolled = _held(session)
    world.registry.transaction(lambda s: events.rebuild_rollups(s, RECKONING))
    with world.registry.sessions() as session:
        assert not _held(session) and region_rollups.rolled(session, today - timedelta(days=3), today) is None
        answered, counted, sql = _by_day(session, world, today - timedelta(days=3), today)
        assert answered == counted and "region_day_totals" not in sql
    assert _roll(world).days_rolled == 3
    with world.registry.sessions() as session:
        assert _held(session) == rolled


def test_the_command_and_the_serve_thread_roll(
    client: FlaskClient, world: World, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    today = _three_days(client, world)
    # 00:30 local: yesterday ended half an hour ago, within the lag: rolled up to the day before.
    early = _local_midnight(today) + timedelta(minutes=30)
    assert main(["--database-url", database_url, "roll-region-totals", "--now", early.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "rolled_until": (today - timedelta(days=2)).isoformat(),
        "days_rolled": 2,
        "days_rolled_again": 0,
        "stations_placed": 3,
        "skipped": False,
    }
    assert main(["--database-url", database_url, "roll-region-totals", "--now", "yesterday"]) != 0
    assert "--now must be an ISO 8601 time" in capsys.readouterr().err
    result = RegionRollupSweeper(world.registry).run_once()  # the registry's clock: 10:00 local
    assert (result.rolled_until, result.days_rolled) == (today - timedelta(days=1), 1)


def test_two_nodes_never_roll_at_once(client: FlaskClient, world: World, engine: Engine) -> None:
    """PostgreSQL: the second node skips the round; SQLite: it waits for the writer lock, and gives
    up as busy (to be retried next interval) when the first holds it longer than lock_wait_s."""
    _three_days(client, world)
    with world.registry.sessions() as first, first.begin():
        assert not region_rollups.roll(first, world.clock(), 8, LAG).skipped
        if engine.dialect.name == "postgresql":
            assert _roll(world).skipped
        else:
            with pytest.raises(DatabaseBusy):
                _roll(world)
    assert not _roll(world).skipped


# PostgreSQL: an upload of a late scan still running while the job removes its day's mark.


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    with scratch_database("registry_region_rollups") as url:
        yield from migrated(url)


def test_a_mark_raised_by_an_upload_still_running_survives_the_job(pg_engine: Engine) -> None:
    now = _local_midnight(date(2026, 11, 22)) + timedelta(hours=10)
    day = date(2026, 11, 19)
    scan = event(_local_midnight(day) + timedelta(hours=12))
    with Session(pg_engine) as session, session.begin():
        city = places.ensure_region(session, "4101", "郑州市")
        station = places.create_station(session, "test", now, code="ST-1", name="一站", region_code=city.code).id

    def upload(session: Session) -> None:
        fresh = {**scan, "event_id": event(now)["event_id"]}
        events.ingest(session, station, [parse_event(fresh, 0)], now, RECKONING)

    def roll() -> region_rollups.RollResult:
        with Session(pg_engine) as session, session.begin():
            return region_rollups.roll(session, now, 8, LAG)

    with Session(pg_engine) as session, session.begin():
        upload(session)
    roll()  # the day is rolled with one scan; then a late scan for it arrives and marks it
    with Session(pg_engine) as session, session.begin():
        upload(session)
    running = Session(pg_engine)
    running.begin()
    upload(running)  # a third, its transaction still open: it holds the mark's row
    finished: list[region_rollups.RollResult] = []
    job = threading.Thread(target=lambda: finished.append(roll()))
    job.start()
    time.sleep(1.0)
    assert job.is_alive(), "the job waits for the upload before it removes the mark"
    running.commit()
    running.close()
    job.join(30)
    assert finished and finished[0].days_rolled_again == 1
    with Session(pg_engine) as session:
        assert session.scalar(select(LateScanDay.marks).where(LateScanDay.day == day)) == 2, "the mark survived"
        flt = EventFilter(since=_local_midnight(day), until=_local_midnight(day + timedelta(days=1)))
        sql = str(queries.aggregate_statement(session, flt, now, "day", 8))
        assert "region_day_totals" in sql and "scan_day_totals.day IN" in sql, "the day is read from the station totals"
        assert [g["total"] for g in queries.aggregate(session, flt, now, "day", 8)["groups"]] == [3]
    roll()
    with Session(pg_engine) as session:
        assert not session.scalar(select(func.count()).select_from(LateScanDay))
        assert session.scalar(select(RegionDayTotal.scans).where(RegionDayTotal.day == day)) == 3
        assert session.scalar(select(RegionRollupState.rolled_until)) == date(2026, 11, 21)


def test_a_small_place_is_read_from_the_station_totals(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below REGION_TOTALS_FROM station-days the checks cost more than the region totals save."""
    monkeypatch.undo()  # the threshold as configured
    today = _three_days(client, world)
    _roll(world)
    with world.registry.sessions() as session:
        for region, from_regions in ((None, True), ("410105", False)):
            answered, counted, sql = _by_day(session, world, today - timedelta(days=3), today, region=region)
            assert answered == counted and ("region_day_totals" in sql) is from_regions, region
