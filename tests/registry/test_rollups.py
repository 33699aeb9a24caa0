"""Roll-ups and stored clone suspects, kept as events arrive (services/rollups.py, services/clones.py),
on SQLite and PostgreSQL: they answer what counting and judging the raw events answers.

Events go in through the stations' upload endpoint, in shuffled batches from several stations, so
what is checked is what the insert path maintains."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy import event as sqlalchemy_events
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry_service import migrate, partitions
from registry_service.cli import main
from registry_service.config import RegistryConfig
from registry_service.dashboard.filters import DashboardQuery
from registry_service.dashboard.reports import Settings, overview
from registry_service.db import make_engine
from registry_service.models import (
    CloneSuspect,
    LateScanDay,
    Outcome,
    Region,
    RegionDayTotal,
    RegionLevel,
    Role,
    ScanDayCount,
    ScanDayTotal,
    ScanEvent,
    ScanMonthTotal,
    Station,
)
from registry_service.services import clones, events, queries, region_rollups
from registry_service.services.driver_sql import DriverStatement, driver_rows
from registry_service.services.queries import EventFilter
from registry_service.services.rollups import Reckoning
from tests.registry.conftest import World
from tests.registry.helpers import event, post_events, refused
from tests.registry.pg_cluster import scratch_database

ZONE = timezone(timedelta(hours=8))
RECKONING = Reckoning(8, 150.0)  # the default RegistryConfig's, which the test app runs with
WHO = {"ST-JS-01": "station", "ST-EQ-01": "station2", "ST-FAR": "far"}
PLACES = (None, "4101", "410105", "410103", "410105-01")
GROUPS = ("station", "cell", "district", "day")
REFUSALS = ("inspection_overdue", "past_service_life", "cylinder_revoked", "unknown_signer", "bad_signature")


@pytest.fixture
def three(world: World) -> World:
    """The world's stations, each with its own station credential (ST-FAR's added)."""
    world.tokens["far"] = world.add_user("far", Role.STATION, station="ST-FAR")
    return world


def _random_event(rng: random.Random, at: datetime, **fields: Any) -> dict[str, Any]:
    kind = rng.choices(("allowed", "refused", "overridden", "would_refuse"), weights=(70, 15, 8, 7))[0]
    if kind == "allowed":
        body = event(at, reasons=rng.choice(([], [], ["due_soon"])), **fields)
    else:
        body = refused(at, rng.sample(REFUSALS, rng.randint(1, 2)), outcome=kind, **fields)
    if rng.random() < 0.1:  # the station's clock was off and it said by how much: stored corrected
        offset = timedelta(hours=rng.uniform(-60, 60))
        body["occurred_at"] = (at + offset).isoformat()
        body["clock_offset_ms"] = round(offset.total_seconds() * 1000)
    return body


def _upload(
    client: FlaskClient,
    world: World,
    batches: list[tuple[str, list[dict[str, Any]]]],
    watch_every: int | None = 1,
    watch_batch: int | None = None,
    distributed: bool | None = None,
) -> None:
    """Each batch from its station, a second apart (each upload is received at its own instant);
    the clone watch runs after every `watch_every` uploads and at the end (None: at the end only),
    judging `watch_batch` uploads per transaction (None: the watch's own batch), the scans read in
    Citus's form if `distributed`."""
    for n, (station, batch) in enumerate(batches, 1):
        response = post_events(client, world, station, batch, who=WHO[station])
        assert response.status_code == 200, response.json
        world.clock.advance(seconds=1)
        if watch_every and n % watch_every == 0:
            world.watch_clones(watch_batch, distributed)
    world.watch_clones(watch_batch, distributed)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), ZONE)


def _day_totals(session: Session) -> tuple[int, int]:
    rolled = session.scalar(select(func.coalesce(func.sum(ScanDayCount.scans), 0)))
    return int(rolled or 0), int(session.scalar(select(func.count()).select_from(ScanEvent)) or 0)


def test_rollups_equal_raw_counts_on_random_windows(client: FlaskClient, three: World) -> None:
    rng = random.Random(14)
    now = three.clock()
    batches = []
    for _ in range(5):
        for station in WHO:
            times = [now - timedelta(seconds=rng.randrange(20 * 86400)) for _ in range(rng.randint(20, 60))]
            batches.append((station, [_random_event(rng, at, plate="豫A12345") for at in times]))
    _upload(client, three, batches)
    today = now.astimezone(ZONE).date()
    answered = 0
    with three.registry.sessions() as session:
        assert _day_totals(session)[0] == _day_totals(session)[1] > 500
        for _ in range(30):
            first = today - timedelta(days=rng.randint(0, 22))
            last = min(today, first + timedelta(days=rng.randint(0, 14)))
            flt = EventFilter(
                since=_local_midnight(first),
                until=_local_midnight(last + timedelta(days=1)),
                outcomes=tuple(rng.sample(list(Outcome), rng.randint(0, 2))),
                reason=rng.choice((None, None, *REFUSALS)),
                overdue_only=rng.random() < 0.1,
                region=rng.choice(PLACES),
                station=rng.choice((None, None, None, "ST-JS-01", "ST-FAR")),
            )
            assert queries.rolled_up_days(flt, three.clock(), 8) is not None, "whole local days: the roll-ups answer"
            for group_by in GROUPS:
                rolled = queries.aggregate(session, flt, three.clock(), group_by, 8)
                raw = queries.aggregate(session, flt, three.clock(), group_by, 8, raw_events=True)
                assert rolled == raw, (flt, group_by)
            answered += bool(raw["groups"])
    assert answered >= 15, "most windows have events: the comparison compared something"


def test_totals_over_months_equal_raw_counts_on_random_windows(client: FlaskClient, three: World) -> None:
    """Windows of up to 80 days over events of 75: whole months from the month totals, the days
    around them from the day totals (no reason filter), against counting the events."""
    rng = random.Random(17)
    now = three.clock()
    batches = []
    for _ in range(3):
        for station in WHO:
            times = [now - timedelta(seconds=rng.randrange(75 * 86400)) for _ in range(rng.randint(30, 60))]
            batches.append((station, [_random_event(rng, at) for at in times]))
    _upload(client, three, batches)
    today = now.astimezone(ZONE).date()
    months_read = 0
    with three.registry.sessions() as session:
        events_stored = session.scalar(select(func.count()).select_from(ScanEvent))
        assert session.scalar(select(func.sum(ScanDayTotal.scans))) == events_stored
        assert session.scalar(select(func.sum(ScanMonthTotal.scans))) == events_stored
        for _ in range(25):
            flt = _random_window(rng, today, start_within_days=80, longest_days=80)
            statement = queries.aggregate_statement(session, flt, now, "station", 8)
            months_read += statement is not None and "scan_month_totals" in str(statement)
            _assert_rolled_equals_raw(session, flt, now)
    assert months_read >= 5, "some windows held a whole month: the month totals were compared"


def _random_window(rng: random.Random, today: date, *, start_within_days: int, longest_days: int) -> EventFilter:
    """A filter over whole local days ending by today, with random outcomes, place and station."""
    first = today - timedelta(days=rng.randint(0, start_within_days))
    last = min(today, first + timedelta(days=rng.randint(0, longest_days)))
    return EventFilter(
        since=_local_midnight(first),
        until=_local_midnight(last + timedelta(days=1)),
        outcomes=tuple(rng.sample(list(Outcome), rng.randint(0, 2))),
        region=rng.choice(PLACES),
        station=rng.choice((None, None, None, "ST-JS-01", "ST-FAR")),
    )


def _assert_rolled_equals_raw(session: Session, flt: EventFilter, now: datetime) -> None:
    for group_by in GROUPS:
        rolled = queries.aggregate(session, flt, now, group_by, 8)
        raw = queries.aggregate(session, flt, now, group_by, 8, raw_events=True)
        assert rolled == raw, (flt, group_by)


def _roll_regions(world: World) -> region_rollups.RollResult:
    """One run of the region totals job at the world's now (an hour's lag: days to yesterday)."""
    return world.registry.transaction(lambda s: region_rollups.roll(s, world.clock(), 8, timedelta(hours=1)))


def _region_totals_by_events(session: Session) -> dict[tuple[str, date], tuple[int, ...]]:
    """Scans per region (every station under it) and local day, in all and per outcome, counted
    from the events: what region_day_totals must hold for the days it holds."""
    paths = dict(session.execute(select(Station.id, Region.path).join(Region, Region.id == Station.region_id)).all())
    counted: Counter[tuple[str, date, str]] = Counter()
    for at, station, outcome in session.execute(select(ScanEvent.occurred_at, ScanEvent.station_id, ScanEvent.outcome)):
        for code in paths[station].split("/"):
            for column in ("scans", outcome.value):
                counted[code, at.astimezone(ZONE).date(), column] += 1
    keys = {(code, day) for code, day, _ in counted}
    return {key: tuple(counted[(*key, c)] for c in ("scans", *(o.value for o in Outcome))) for key in keys}


@pytest.fixture
def region_totals_for_any_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """The region totals answer every place of the test's few stations (at national size only
    places with thousands of station-days use them: queries.REGION_TOTALS_FROM)."""
    monkeypatch.setattr(queries, "REGION_TOTALS_FROM", 0)


@pytest.mark.usefixtures("region_totals_for_any_place")
def test_region_totals_equal_raw_counts_on_random_windows(client: FlaskClient, three: World) -> None:
    """The daily figures with the per-region day totals (services/region_rollups.py): the days the
    job rolled from them, the days after and the days late scans changed since from the station
    totals, for every place filter, a station or not, any outcomes, against counting the events;
    and again once the job has rolled the late days. The region rows themselves equal a count of
    the events per region and day."""
    rng = random.Random(31)
    now = three.clock()
    today = now.astimezone(ZONE).date()

    def scans(days: int, count: tuple[int, int]) -> list[tuple[str, list[dict[str, Any]]]]:
        return [
            (
                station,
                [_random_event(rng, now - timedelta(seconds=rng.randrange(days * 86400))) for _ in range(rng.randint(*count))],
            )
            for station in WHO
        ]

    def compare(session: Session, windows: int) -> tuple[int, int]:
        from_regions = with_late_days = 0
        for _ in range(windows):
            flt = _random_window(rng, today, start_within_days=45, longest_days=40)
            statement = str(queries.aggregate_statement(session, flt, now, "day", 8))
            from_regions += "region_day_totals" in statement
            with_late_days += "region_day_totals" in statement and "scan_day_totals.day IN" in statement
            _assert_rolled_equals_raw(session, flt, now)
        return from_regions, with_late_days

    _upload(client, three, [batch for _ in range(3) for batch in scans(40, (30, 60))])
    first_run = _roll_regions(three)
    assert first_run.rolled_until == today - timedelta(days=1) and first_run.days_rolled > 30
    # Late scans for rolled days (a station that was offline uploads them now), and today's.
    _upload(client, three, scans(30, (5, 15)) + [(station, [event(now - timedelta(minutes=5))]) for station in WHO])
    with three.registry.sessions() as session:
        late = set(session.scalars(select(LateScanDay.day)))
        assert late and max(late) < today, "every late scan marked its day; today's scans none"
        from_regions, with_late_days = compare(session, 30)
        assert from_regions >= 10 and with_late_days >= 5, (from_regions, with_late_days)
    again = _roll_regions(three)
    assert again.days_rolled == 0 and again.days_rolled_again == len(late)
    with three.registry.sessions() as session:
        assert not session.scalar(select(func.count()).select_from(LateScanDay))
        from_regions, with_late_days = compare(session, 20)
        assert from_regions >= 5 and with_late_days == 0
        held = {
            (code, day): (n, *counts)
            for code, day, n, *counts in session.execute(
                select(
                    Region.code, RegionDayTotal.day, RegionDayTotal.scans, *(RegionDayTotal.__table__.c[o.value] for o in Outcome)
                ).join(Region, Region.id == RegionDayTotal.region_id)
            )
        }
        expected = {key: counts for key, counts in _region_totals_by_events(session).items() if key[1] < today}
        assert held == expected and len(held) > 100
        # The overview over the same: its daily chart, area rows and ranking, against the events.
        for days, region in ((14, None), (30, "410105"), (45, "4101"), (7, "410103-01")):
            query = DashboardQuery(since=today - timedelta(days=days - 1), until=today, events=EventFilter(region=region))
            fast = overview(session, query, now, Settings(8, 150.0))
            slow = overview(session, query, now, Settings(8, 150.0, raw_events=True))
            assert fast.days == slow.days and fast.stations == slow.stations
            assert [(r.code, r.counts) for r in fast.areas.rows] == [(r.code, r.counts) for r in slow.areas.rows]
            flt = query.event_filter(8)
            ranked = queries.rank_stations(queries.aggregate(session, flt, now, "station", 8), 10)["stations"]
            assert fast.stations == [s for s in ranked if s["refused"] or s["overridden"] or s["would_refuse"]]
        assert any(d.counts["refused"] for d in fast.days) and fast.stations


def test_what_the_rollups_cannot_answer_is_counted_from_events(client: FlaskClient, three: World) -> None:
    now = three.clock()
    _upload(client, three, [("ST-JS-01", [event(now - timedelta(hours=2), plate="豫A12345"), event(now - timedelta(hours=3))])])
    midnight = _local_midnight(now.astimezone(ZONE).date())
    for flt in (
        EventFilter(since=midnight, until=midnight + timedelta(days=1), plate="豫A12345"),  # a column only events have
        EventFilter(since=midnight + timedelta(hours=1), until=midnight + timedelta(days=1)),  # not whole days
    ):
        assert queries.rolled_up_days(flt, now, 8) is None
        with three.registry.sessions() as session:
            groups = queries.aggregate(session, flt, now, "station", 8)["groups"]
            assert [g["total"] for g in groups] == [1 if flt.plate else 2]


def test_a_reupload_is_not_counted_twice(client: FlaskClient, three: World) -> None:
    now = three.clock()
    batch = [event(now - timedelta(hours=h)) for h in range(1, 6)]
    batch.append(event(datetime(1970, 1, 1, tzinfo=ZONE)))  # a clock beyond repair: dated by its receipt
    _upload(client, three, [("ST-JS-01", batch), ("ST-JS-01", batch), ("ST-JS-01", [*batch, event(now), batch[0]])])
    with three.registry.sessions() as session:
        assert _day_totals(session) == (7, 7)
        assert session.scalar(select(func.sum(ScanDayCount.scans)).where(ScanDayCount.outcome == Outcome.ALLOWED)) == 7


def test_an_event_counts_on_the_day_of_its_corrected_time(client: FlaskClient, three: World) -> None:
    now = three.clock()  # 2026-11-22 10:00 in Zhengzhou
    two_days_fast = timedelta(days=2)
    _upload(
        client,
        three,
        [
            (
                "ST-EQ-01",
                [
                    # 2026-11-20 23:30 local, sent by a clock two days fast (it reads 2026-11-22 23:30)
                    event(datetime(2026, 11, 22, 23, 30, tzinfo=ZONE), clock_offset_ms=int(two_days_fast.total_seconds() * 1000)),
                    event(datetime(2026, 11, 20, 16, 30, tzinfo=UTC)),  # 00:30 on the 21st, local
                    event(datetime(1970, 1, 1, tzinfo=UTC)),  # dated by receipt: the 22nd
                ],
            )
        ],
    )
    with three.registry.sessions() as session:
        days = dict(session.execute(select(ScanDayCount.day, ScanDayCount.scans).order_by(ScanDayCount.day)).all())
        assert days == {date(2026, 11, 20): 1, date(2026, 11, 21): 1, now.astimezone(ZONE).date(): 1}


def _scans_of_a_few_cylinders(rng: random.Random, now: datetime, cylinders: int = 12) -> list[tuple[str, dict[str, Any]]]:
    """Cylinders, each with its tag, scanned about ten times in a day and a half at the
    three stations (Luoyang is 110 km from Zhengzhou): fills minutes apart, trips too fast, read
    counters that go back, days with more than four fills; a few scans without a tag or counter."""
    scans = []
    for n in range(cylinders):
        cylinder, tag, counter = f"156-4101-{7100 + n}", f"04A1B2C3D4E5{n:02X}", rng.randint(50, 500)
        at = now - timedelta(hours=36)
        for _ in range(rng.randint(6, 12)):
            at += timedelta(minutes=rng.choice((5, 20, 45, 90, 180, 400)))
            if at > now:
                break
            counter += rng.choice((1, 1, 2, 3, -4))
            station = rng.choices(list(WHO), weights=(6, 3, 1))[0]
            fields: dict[str, Any] = {"cylinder_id": cylinder, "tag_uid": tag, "read_counter": counter}
            if rng.random() < 0.1:
                fields["read_counter"] = None
            if rng.random() < 0.05:
                fields["tag_uid"] = None
            scans.append((station, _random_event(rng, at, **fields)))
    return scans


def _in_shuffled_batches(rng: random.Random, scans: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Arrival in any order: a station holding scans back uploads them late, in batches of 1 to 8."""
    rng.shuffle(scans)
    batches: list[tuple[str, list[dict[str, Any]]]] = []
    while scans:
        station = scans[0][0]
        mine = [body for where, body in scans if where == station][: rng.randint(1, 8)]
        scans = [(where, body) for where, body in scans if body not in mine]
        batches.append((station, mine))
    return batches


def _everything(now: datetime) -> EventFilter:
    return EventFilter(since=now - timedelta(days=3), until=now + timedelta(minutes=10))


def _stored(session: Session, now: datetime) -> list[dict[str, Any]]:
    return sorted((s.as_json() for s in clones.find_suspects(session, _everything(now), now, 10_000)), key=repr)


def _detected(session: Session, now: datetime) -> list[dict[str, Any]]:
    found = clones.detect_in_window(session, _everything(now), now, RECKONING.max_speed_kmh, RECKONING.utc_offset_hours, 10_000)
    return sorted((s.as_json() for s in found), key=repr)


@pytest.mark.parametrize(
    ("watch_every", "batch", "distributed"),
    [(1, None, False), (7, None, False), (None, None, False), (None, 3, False), (7, None, True)],
    ids=["watched-after-each-upload", "after-every-7", "one-round-at-the-end", "rounds-of-3-uploads", "citus-form-every-7"],
)
def test_suspects_stored_as_events_arrive_equal_the_window_detector(
    client: FlaskClient, three: World, watch_every: int | None, batch: int | None, distributed: bool
) -> None:
    """However the uploads fall into the watch's rounds (each judged alone, several or all in one
    statement, a round cut into transactions of `batch`), and whichever way the scans are read on
    PostgreSQL (by LATERAL per key, or in the MATERIALIZED CTE Citus needs: `distributed`), the
    stored suspects are the window's."""
    rng = random.Random(17)
    now = three.clock()
    _upload(client, three, _in_shuffled_batches(rng, _scans_of_a_few_cylinders(rng, now)), watch_every, batch, distributed)
    assert three.watch_clones() == 0, "nothing is left queued"
    with three.registry.sessions() as session:
        stored, detected = _stored(session, now), _detected(session, now)
        assert {s["kind"] for s in detected} == set(clones.KINDS), "the data set makes every rule fire"
        assert {s["key_type"] for s in detected if s["kind"] == "impossible_travel"} == {"tag_uid", "cylinder_id"}
        assert stored == detected
        # The API answers from the stored suspects, in its former shape.
        api = clones.suspected_clones(session, _everything(now), now, 10_000)["suspects"]
        assert sorted(api, key=repr) == detected and api == sorted(api, key=lambda s: s["at"], reverse=True)


def test_derived_again_from_every_event_is_what_arrival_kept(client: FlaskClient, three: World) -> None:
    rng = random.Random(19)
    now = three.clock()
    _upload(client, three, _in_shuffled_batches(rng, _scans_of_a_few_cylinders(rng, now)))

    def snapshot(session: Session) -> tuple[list[Any], list[Any]]:
        d, c = ScanDayCount, CloneSuspect
        days = session.execute(
            select(d.day, d.station_id, d.outcome, d.reason_mask, d.scans).order_by(d.day, d.station_id, d.outcome, d.reason_mask)
        )
        found = session.execute(
            select(c.kind, c.key, c.slot, c.event_uuid, c.previous_at, c.facts).order_by(c.kind, c.key_type, c.key, c.slot)
        )
        return [tuple(row) for row in days], [tuple(row) for row in found]

    kept = three.registry.transaction(snapshot)
    derived = three.registry.transaction(lambda s: events.rebuild_rollups(s, RECKONING))
    assert derived == {"day_counts": len(kept[0]), "clone_suspects": len(kept[1])}
    assert three.registry.transaction(snapshot) == kept and kept[1]


def test_a_late_scan_between_two_others_judges_the_later_one_again(client: FlaskClient, three: World) -> None:
    now = three.clock()
    uid, cylinder = "04AABBCCDD0011", "156-4101-7200"
    first, last = now - timedelta(hours=3), now - timedelta(hours=2, minutes=48)
    # Zhengzhou, then Luoyang twelve minutes later: 110 km at 550 km/h.
    _upload(
        client,
        three,
        [
            ("ST-JS-01", [event(first, tag_uid=uid, cylinder_id=cylinder, read_counter=10)]),
            ("ST-FAR", [event(last, tag_uid=uid, cylinder_id=cylinder, read_counter=12)]),
        ],
    )
    with three.registry.sessions() as session:
        assert {(s["kind"], s["key_type"], s["station"]) for s in _stored(session, now)} == {
            ("impossible_travel", "tag_uid", "ST-FAR"),
            ("impossible_travel", "cylinder_id", "ST-FAR"),
            ("fills_within_hour", "cylinder_id", "ST-FAR"),
        }
    # Luoyang's scan from two hours before arrives late: the trip was from Luoyang to Zhengzhou,
    # then a fill in Luoyang again. Now the Zhengzhou scan is the impossible one, and so is the last.
    late = now - timedelta(hours=3, minutes=10)
    _upload(client, three, [("ST-FAR", [event(late, tag_uid=uid, cylinder_id=cylinder, read_counter=11)])])
    with three.registry.sessions() as session:
        stored = _stored(session, now)
        assert stored == _detected(session, now)
        assert {(s["kind"], s["key_type"], s["station"], s["previous_station"]) for s in stored} == {
            ("impossible_travel", key_type, here, there)
            for key_type in ("tag_uid", "cylinder_id")
            for here, there in (("ST-JS-01", "ST-FAR"), ("ST-FAR", "ST-JS-01"))
        } | {
            ("counter_not_increasing", "tag_uid", "ST-JS-01", "ST-FAR"),
            ("fills_within_hour", "cylinder_id", "ST-JS-01", "ST-FAR"),
            ("fills_within_hour", "cylinder_id", "ST-FAR", "ST-JS-01"),
        }
    # And a scan a minute before the last, at the same station: the last is no longer a trip (its
    # stored travel suspects are cleared), the new one is, and the last's counter went back.
    _upload(client, three, [("ST-FAR", [event(last - timedelta(minutes=1), tag_uid=uid, cylinder_id=cylinder, read_counter=13)])])
    with three.registry.sessions() as session:
        stored = _stored(session, now)
        assert stored == _detected(session, now)
        assert not [s for s in stored if s["kind"] == "impossible_travel" and s["at"] == last.isoformat()]
        assert [s["detail"] for s in stored if s["kind"] == "counter_not_increasing" and s["at"] == last.isoformat()] == [
            "read counter 12 after 13"
        ]


def test_the_overview_from_rollups_is_the_overview_from_events(client: FlaskClient, three: World) -> None:
    rng = random.Random(23)
    now = three.clock()
    scans = _scans_of_a_few_cylinders(rng, now, cylinders=3)
    scans += [(rng.choice(list(WHO)), _random_event(rng, now - timedelta(seconds=rng.randrange(10 * 86400)))) for _ in range(300)]
    _upload(client, three, _in_shuffled_batches(rng, scans))
    today = now.astimezone(ZONE).date()
    with three.registry.sessions() as session:
        for days, region in ((14, None), (3, "410105"), (1, None), (30, "4101"), (4, None)):
            query = DashboardQuery(since=today - timedelta(days=days - 1), until=today, events=EventFilter(region=region))
            fast = overview(session, query, now, Settings(8, 150.0))
            slow = overview(session, query, now, Settings(8, 150.0, raw_events=True))
            assert fast.days == slow.days and fast.stations == slow.stations
            assert [(r.code, r.counts) for r in fast.areas.rows] == [(r.code, r.counts) for r in slow.areas.rows]
            # The window detector saw only the period's scans of the place; the stored suspects were
            # judged against the previous scan wherever it was. Over every scan they are the same.
            if region is None and days >= 3:
                assert sorted(fast.suspects, key=repr) == sorted(slow.suspects, key=repr), days
                assert [s.at for s in fast.suspects] == [s.at for s in slow.suspects]
        assert any(d.counts["refused"] for d in fast.days) and 0 < len(fast.suspects) < 20


def test_rebuild_rollups_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cylinder-registry rebuild-rollups` derives day counts and suspects from events stored without them."""
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    engine = make_engine(RegistryConfig(database_url=url))
    seed = ["seed-demo", "--vehicles", "400", "--event-days", "7", "--today", "2026-11-22", "--quiet"]
    assert main(["--database-url", url, *seed]) == 0
    seeded = capsys.readouterr().out
    with engine.begin() as connection:
        for table in (ScanDayCount, ScanDayTotal, ScanMonthTotal, CloneSuspect):
            connection.execute(delete(table))
    assert main(["--database-url", url, "rebuild-rollups"]) == 0
    derived = capsys.readouterr().out
    summary, rebuilt = json.loads(seeded.strip().splitlines()[-1]), json.loads(derived)
    assert rebuilt == {"day_counts": summary["day_counts"], "clone_suspects": summary["clone_suspects"]}
    with engine.connect() as connection:
        for column in (ScanDayCount.scans, ScanDayTotal.scans, ScanMonthTotal.scans):
            assert connection.scalar(select(func.sum(column))) == summary["events"]
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    with scratch_database("registry_rollups") as url:
        yield url


def test_the_migration_counts_the_events_already_stored(fresh_url: str) -> None:
    """Upgrading a registry with events to 0008 fills the day counts from them (UTC+8 days)."""
    engine = make_engine(RegistryConfig(database_url=fresh_url))
    migrate.upgrade(engine, "0007")
    rng = random.Random(8)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as connection:
        partitions.ensure_daily_partitions(connection, start.date(), days_ahead=12)
        connection.execute(
            insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}]
        )
        connection.execute(insert(Station), [{"id": s, "code": f"ST-{s}", "name": f"{s}站", "region_id": 1} for s in (1, 2)])
        connection.execute(
            insert(ScanEvent),
            [
                {
                    "event_uuid": uuid.uuid4(),
                    "occurred_at": start + timedelta(minutes=rng.randrange(10 * 1440)),
                    "received_at": start,
                    "station_id": rng.choice((1, 2)),
                    "decision": "allow",
                    "outcome": rng.choice(list(Outcome)),
                    "reasons": "",
                    "reason_mask": rng.choice((0, 0, 4, 64)),
                }
                for _ in range(400)
            ],
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rolled = connection.execute(
            select(ScanDayCount.day, ScanDayCount.station_id, ScanDayCount.outcome, ScanDayCount.reason_mask, ScanDayCount.scans)
        ).all()
        stored = connection.execute(
            select(ScanEvent.occurred_at, ScanEvent.station_id, ScanEvent.outcome, ScanEvent.reason_mask)
        ).all()
        totals = connection.execute(select(ScanDayTotal.day, ScanDayTotal.station_id, ScanDayTotal.refused, ScanDayTotal.scans))
        day_totals = {(day, station): (refused_n, n) for day, station, refused_n, n in totals}
        month_totals = dict(connection.execute(select(ScanMonthTotal.station_id, ScanMonthTotal.scans)).all())
    expected = Counter((at.astimezone(ZONE).date(), station, outcome, mask) for at, station, outcome, mask in stored)
    assert {(day, station, outcome, mask): n for day, station, outcome, mask, n in rolled} == expected
    assert len(expected) > 50
    # 0016 derives the per-outcome totals from those day counts (the events are all in November, local).
    per_day = Counter((at.astimezone(ZONE).date(), station) for at, station, _, _ in stored)
    refused = Counter((at.astimezone(ZONE).date(), station) for at, station, outcome, _ in stored if outcome == Outcome.REFUSED)
    assert day_totals == {key: (refused[key], n) for key, n in per_day.items()}
    assert month_totals == Counter(station for _, station, _, _ in stored)
    engine.dispose()


def test_a_driver_statement_is_numbered_as_psycopg_numbers_it() -> None:
    statement = DriverStatement.of("SELECT %(a)s, %(b)s WHERE x = %(a)s")
    assert statement.sql == "SELECT $1, $2 WHERE x = $1"
    assert statement.values({"b": 2, "a": 1, "c": 3}) == (1, 2)
    with pytest.raises(ValueError, match="no other %"):
        DriverStatement.of("SELECT %(a)s WHERE x LIKE 'y%'")  # RawCursor would send the % as it is


# SQLite sends every statement through SQLAlchemy: the driver path is PostgreSQL's.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_statement_sent_to_the_driver_fails_as_any_statement(engine: Engine) -> None:
    """driver_rows (the upload's statements on PostgreSQL) in the session's transaction, its errors
    SQLAlchemy's: wrapped, told to the handle_error listeners, a lost connection invalidated."""
    told: list[BaseException] = []

    def listener(context: ExceptionContext) -> None:
        told.append(context.original_exception)

    sqlalchemy_events.listen(engine, "handle_error", listener)
    try:
        with Session(engine) as session:
            assert driver_rows(session, "SELECT $1::int + 1", [41]) == [(42,)]
            with pytest.raises(DBAPIError) as failed:
                driver_rows(session, "SELECT 1 / $1::int", [0])
            assert isinstance(failed.value.orig, psycopg.errors.DivisionByZero)
            assert told == [failed.value.orig] and not failed.value.connection_invalidated
        with Session(engine) as session:
            (pid,) = driver_rows(session, "SELECT pg_backend_pid()")[0]
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as lost:
                driver_rows(session, "SELECT 1")
            assert lost.value.connection_invalidated
    finally:
        sqlalchemy_events.remove(engine, "handle_error", listener)
