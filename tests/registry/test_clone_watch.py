"""The clone watch as a job beside the requests (services/clones.py enqueue / judge_arrivals,
clone_watch.py, `cylinder-registry watch-clones`): what an upload queues, what a round takes, that a
failing round loses nothing, that one node judges at a time, and that a late upload is judged on
its own span. The rules themselves, and that the stored suspects equal the window detector however
the uploads fall into rounds, are tested in test_rollups.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, text

from registry_service import cli, clone_watch
from registry_service.clone_watch import CloneWatch
from registry_service.config import from_env
from registry_service.errors import ConfigError
from registry_service.metrics import RegistryMetrics
from registry_service.models import Case, CloneArrival, CloneSuspect
from registry_service.services import case_hooks, clones
from registry_service.services.rollups import Reckoning
from tests.registry.conftest import World
from tests.registry.helpers import event, post_events

A, B = "156-4101-7001", "156-4101-7002"
UID = "04112233445566"


def _queued(world: World) -> list[tuple[str, list[str], list[str]]]:
    def read(s: Any) -> list[tuple[str, list[str], list[str]]]:
        rows = s.execute(select(CloneArrival).order_by(CloneArrival.received_at))
        return [(a.received_at.isoformat(), a.tags, a.cylinders) for a in rows.scalars()]

    return world.registry.transaction(read)


def _count(world: World, model: Any) -> int:
    return int(world.registry.transaction(lambda s: s.scalar(select(func.count()).select_from(model))) or 0)


def _two_fills(world: World) -> list[dict[str, Any]]:
    now = world.clock()
    return [
        event(now - timedelta(hours=2), tag_uid=UID, cylinder_id=A, read_counter=5),
        event(now - timedelta(hours=1, minutes=30), cylinder_id=A),  # 30 minutes after: a clone suspect
    ]


def test_an_upload_queues_its_new_scans_keys_and_a_retry_queues_nothing(client: FlaskClient, world: World) -> None:
    batch = [*_two_fills(world), event(world.clock() - timedelta(hours=1))]  # the last: neither tag nor cylinder
    assert post_events(client, world, "ST-JS-01", batch).get_json()["accepted"] == 3
    received = world.clock().isoformat()
    assert _queued(world) == [(received, [UID], [A])]
    world.clock.advance(seconds=5)
    assert post_events(client, world, "ST-JS-01", batch).get_json()["duplicates"] == 3  # a retry: nothing new
    assert post_events(client, world, "ST-JS-01", [event(world.clock() - timedelta(minutes=1))]).status_code == 200
    assert len(_queued(world)) == 1, "only uploads of new scans with a tag or cylinder are queued"
    assert _count(world, CloneSuspect) == 0, "nothing is judged in the upload's transaction"

    assert world.watch_clones() == 1
    assert _queued(world) == [] and _count(world, CloneSuspect) == 1
    assert world.watch_clones() == 0


def test_the_metrics_tell_what_a_round_judged_and_how_late_the_oldest_waiting_upload_is(
    client: FlaskClient, world: World
) -> None:
    assert clone_watch.lag_s(world.registry) == 0.0, "nothing waits"
    post_events(client, world, "ST-JS-01", _two_fills(world))
    world.clock.advance(seconds=30)
    post_events(client, world, "ST-JS-01", [event(world.clock() - timedelta(minutes=5), cylinder_id=B)])
    world.clock.advance(seconds=12)
    assert clone_watch.lag_s(world.registry) == 42.0, "the oldest waiting upload's age"

    metrics = RegistryMetrics()
    assert world.watch_clones(metrics=metrics) == 2
    assert metrics.registry.get_sample_value("cylinder_registry_clone_watch_judged_total") == 2
    assert metrics.registry.get_sample_value("cylinder_registry_clone_watch_lag_seconds") == 0.0
    assert world.watch_clones(metrics=metrics) == 0
    assert metrics.registry.get_sample_value("cylinder_registry_clone_watch_judged_total") == 2


def test_the_watch_reads_in_citus_form_only_where_citus_is_installed(world: World) -> None:
    assert world.registry.read(clones.citus_installed) is False, "no citus extension on the test databases"
    watch = CloneWatch(world.registry)
    assert watch.distributed is None and watch.run_once() == 0
    assert watch.distributed is False, "asked once, then kept"


def test_a_suspect_makes_one_case_however_often_its_scan_is_judged_again(client: FlaskClient, world: World) -> None:
    assert post_events(client, world, "ST-JS-01", _two_fills(world)).status_code == 200
    world.watch_clones()
    assert _count(world, Case) == 1
    # A late scan between the two: the second fill's suspect is judged again against it (and the
    # late one is a suspect of its own, in the same case: the same cylinder).
    late = event(world.clock() - timedelta(hours=1, minutes=45), cylinder_id=A)
    world.clock.advance(seconds=1)
    assert post_events(client, world, "ST-JS-01", [late]).status_code == 200
    world.watch_clones()
    kinds = world.registry.transaction(lambda s: sorted(s.scalars(select(CloneSuspect.kind))))
    assert kinds == ["fills_within_hour", "fills_within_hour"]
    assert _count(world, Case) == 1


def test_a_round_judges_what_was_queued_and_does_not_chase_new_uploads(client: FlaskClient, world: World) -> None:
    """Under steady uploads a round that went on "until nothing is queued" never ended: it judged
    batch after batch of the few uploads that came in meanwhile, each paying a batch's fixed cost.
    A round ends once a batch finds the queue no longer than it takes."""

    def upload(n: int) -> None:
        cylinder = f"156-4101-71{n:02d}"
        assert (
            post_events(
                client, world, "ST-JS-01", [event(world.clock() - timedelta(minutes=5), cylinder_id=cylinder)]
            ).status_code
            == 200
        )
        world.clock.advance(seconds=1)

    for n in range(4):
        upload(n)
    batches: list[int] = []

    def transaction_while_stations_upload(work: Any) -> Any:
        if len(batches) >= 10:
            raise AssertionError("the round is still going after 10 batches")
        done = world.registry.transaction(work)
        if isinstance(done, clones.Judged):
            batches.append(done.uploads)
            upload(10 + len(batches))  # a station uploads while the round runs
        return done

    judged = clone_watch.judge_queued(
        transaction_while_stations_upload, Reckoning.of(world.registry.config), world.clock, batch=3
    )
    assert batches == [3, 2] and judged == 5, "a full batch, then the rest and the one upload that came meanwhile"
    assert len(_queued(world)) == 1, "the upload during the last batch waits for the next round"
    assert world.watch_clones() == 1


def test_a_failing_round_keeps_its_uploads_queued(client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert post_events(client, world, "ST-JS-01", _two_fills(world)).status_code == 200

    def broken(*args: Any) -> None:
        raise RuntimeError("the case store is down")

    monkeypatch.setattr(case_hooks, "from_suspects", broken)
    with pytest.raises(RuntimeError):
        CloneWatch(world.registry).run_once()
    assert len(_queued(world)) == 1 and _count(world, CloneSuspect) == 0, "the round's transaction was rolled back"
    monkeypatch.undo()
    assert world.watch_clones() == 1 and _count(world, CloneSuspect) == 1 and _count(world, Case) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_node_judges_at_a_time(client: FlaskClient, world: World, engine: Engine) -> None:
    assert post_events(client, world, "ST-JS-01", _two_fills(world)).status_code == 200
    with engine.connect() as other_node:
        with other_node.begin():
            assert other_node.scalar(select(func.pg_try_advisory_xact_lock(clones.LOCK_KEY)))
            assert world.watch_clones() == 0, "the lock is taken: this node skips the round"
            assert len(_queued(world)) == 1
    assert world.watch_clones() == 1


def test_a_late_upload_is_judged_on_its_own_span() -> None:
    """`_spans`: uploads whose earliest scans lie within the horizon of each other share one
    statement; an upload of days-old scans gets its own, so the others' keys are not read days back."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    ages = [timedelta(minutes=1), timedelta(days=5), timedelta(hours=30), timedelta(minutes=3)]
    arrivals = [SimpleNamespace(since=now - age - clones.HORIZON, name=str(age)) for age in ages]
    groups = [[a.name for a in group] for group in clones._spans(arrivals)]
    assert groups == [["5 days, 0:00:00"], ["1 day, 6:00:00", "0:03:00", "0:01:00"]]


def test_a_batch_stops_at_its_keys_but_always_takes_one_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_within_keys`: a burst of large uploads is judged a few at a time (short transactions); an
    upload with more keys than the bound alone is still judged, on its own."""
    monkeypatch.setattr(clones, "WATCH_KEYS", 10)

    def upload(keys: int) -> SimpleNamespace:
        return SimpleNamespace(tags=["t"] * (keys // 2), cylinders=["c"] * (keys - keys // 2))

    small = [upload(4), upload(4), upload(4)]
    assert clones._within_keys(small) == small[:2]
    huge = [upload(30), upload(2)]
    assert clones._within_keys(huge) == huge[:1]
    assert clones._within_keys([]) == []


def test_the_command_judges_what_is_queued(
    client: FlaskClient, world: World, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert post_events(client, world, "ST-JS-01", _two_fills(world)).status_code == 200
    world.clock.advance(seconds=1)
    assert post_events(client, world, "ST-JS-01", [event(world.clock() - timedelta(minutes=5), cylinder_id=B)]).status_code == 200
    capsys.readouterr()
    assert cli.main(["--database-url", database_url, "watch-clones"]) == 0
    assert json.loads(capsys.readouterr().out) == {"uploads_judged": 2}
    assert _queued(world) == [] and _count(world, CloneSuspect) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_queue_is_keyed_by_station_like_scan_events(engine: Engine) -> None:
    """Nothing in its key keeps it from being distributed by station_id beside scan_events (Citus)."""
    with engine.connect() as c:
        key = c.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'clone_arrivals'::regclass AND contype = 'p'"
            )
        )
    assert key == "PRIMARY KEY (station_id, arrival_uuid)"


def test_the_interval_comes_from_the_environment(world: World) -> None:
    assert from_env({}).clone_watch_interval_s == 1.0
    assert from_env({"REGISTRY_CLONE_WATCH_INTERVAL_MS": "5000"}).clone_watch_interval_s == 5.0
    with pytest.raises(ConfigError, match="REGISTRY_CLONE_WATCH_INTERVAL_MS"):
        from_env({"REGISTRY_CLONE_WATCH_INTERVAL_MS": "0"})
    assert CloneWatch(world.registry).interval_s == world.registry.config.clone_watch_interval_s
