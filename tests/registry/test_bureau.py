"""The bureau's queries: filters, aggregates at every grid level, ranking, CSV, clone suspects."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from registry_service.models import Role
from tests.registry.conftest import World
from tests.registry.helpers import event, post_events, refused

A, B = "156-4101-7001", "156-4101-7002"


def _history(client: FlaskClient, world: World) -> None:
    now = world.clock()
    js = [
        event(now - timedelta(days=1), cylinder_id=A, plate="豫A11111"),
        refused(now - timedelta(days=2), ["inspection_overdue"], cylinder_id=B, plate="豫A22222"),
        refused(now - timedelta(days=2, hours=1), ["inspection_overdue"], outcome="overridden", cylinder_id=B),
        refused(now - timedelta(days=3), ["past_service_life"], outcome="overridden", cylinder_id=A),
        refused(now - timedelta(days=40), ["inspection_overdue"], cylinder_id=B),  # outside the default window
    ]
    eq = [
        refused(now - timedelta(hours=5), ["unknown_signer", "bad_signature"], tag_uid="04AABBCCDDEEFF"),
        refused(now - timedelta(hours=6), ["inspection_overdue"], outcome="would_refuse", cylinder_id=B),
    ]
    assert post_events(client, world, "ST-JS-01", js).status_code == 200
    assert post_events(client, world, "ST-EQ-01", eq, who="station2").status_code == 200


def _get(client: FlaskClient, world: World, path: str, **query: str | int) -> TestResponse:
    r = client.get(f"/api/v1/bureau/{path}", query_string=query, headers=world.auth("bureau"))
    assert r.status_code == 200, r.json
    return r


def test_refuel_attempts_filters(client: FlaskClient, world: World) -> None:
    _history(client, world)

    def count(**q: str) -> int:
        return len(_get(client, world, "refuel-attempts", **q).get_json()["attempts"])

    assert count() == 6
    assert count(outcome="overridden") == 2
    assert count(outcome="refused,overridden", reason="inspection_overdue") == 2
    assert count(reason="inspection_overdue") == 3
    assert count(region="410103") == 2 and count(region="410105-01") == 4 and count(region="4101") == 6
    assert count(station="ST-EQ-01", outcome="would_refuse") == 1
    assert count(plate="豫A22222") == 1 and count(cylinder_id=A) == 2 and count(tag_uid="04aabbccddeeff") == 1
    since = (world.clock() - timedelta(days=60)).isoformat()
    assert count(since=since) == 7
    assert count(since=since, until=(world.clock() - timedelta(days=30)).isoformat()) == 1


def test_refuel_attempts_paginate_without_gaps(client: FlaskClient, world: World) -> None:
    _history(client, world)
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = _get(client, world, "refuel-attempts", **query).get_json()
        seen += [a["event_id"] for a in page["attempts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6
    times = [a["occurred_at"] for a in _get(client, world, "refuel-attempts").get_json()["attempts"]]
    assert times == sorted(times, reverse=True)


def test_bad_filters_are_4xx(client: FlaskClient, world: World) -> None:
    for query in [
        {"outcome": "exploded"},
        {"since": "yesterday"},
        {"reason": "DROP"},
        {"limit": "0"},
        {"cursor": "!!"},
        {"format": "xml"},
        {"bogus": "1"},
        {"since": "2026-01-01T00:00:00"},
        {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ]:
        r = client.get("/api/v1/bureau/refuel-attempts", query_string=query, headers=world.auth("bureau"))
        assert r.status_code == 422, query
    r = client.get("/api/v1/bureau/refuel-attempts", query_string={"region": "9999"}, headers=world.auth("bureau"))
    assert r.status_code == 404


def test_aggregates_per_station_cell_district_day(client: FlaskClient, world: World) -> None:
    _history(client, world)
    by_station = {g["key"]: g for g in _get(client, world, "aggregates", group_by="station").get_json()["groups"]}
    assert by_station["ST-JS-01"]["total"] == 4 and by_station["ST-JS-01"]["overridden"] == 2
    assert by_station["ST-EQ-01"]["would_refuse"] == 1
    by_cell = {g["key"]: g["total"] for g in _get(client, world, "aggregates", group_by="cell").get_json()["groups"]}
    assert by_cell == {"410105-01": 4, "410103-01": 2}
    by_district = {
        g["key"]: (g["name"], g["total"]) for g in _get(client, world, "aggregates", group_by="district").get_json()["groups"]
    }
    assert by_district == {"410105": ("金水区", 4), "410103": ("二七区", 2)}
    days = _get(client, world, "aggregates", group_by="day").get_json()["groups"]
    assert sum(g["total"] for g in days) == 6 and all(len(g["key"]) == 10 for g in days)
    r = client.get("/api/v1/bureau/aggregates", query_string={"group_by": "planet"}, headers=world.auth("bureau"))
    assert r.status_code == 422


def test_station_ranking_and_csv_export(client: FlaskClient, world: World) -> None:
    _history(client, world)
    ranking = _get(client, world, "station-ranking").get_json()["stations"]
    assert [s["key"] for s in ranking] == ["ST-JS-01", "ST-EQ-01"]
    assert ranking[0]["override_rate"] == 0.5
    r = _get(client, world, "refuel-attempts", format="csv", outcome="overridden")
    assert r.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and {row["outcome"] for row in rows} == {"overridden"}
    assert rows[0]["station_name"] == "金水一站"
    r = _get(client, world, "aggregates", format="csv", group_by="district")
    assert r.get_data(as_text=True).lstrip("\ufeff").splitlines()[0] == "key,name,total,allowed,refused,overridden,would_refuse"


def test_suspected_clones(client: FlaskClient, world: World) -> None:
    now = world.clock()
    uid = "04112233445566"
    # Jinshui then Luoyang (about 110 km) twelve minutes later, counter going backwards.
    assert (
        post_events(
            client,
            world,
            "ST-JS-01",
            [
                event(now - timedelta(hours=3), tag_uid=uid, cylinder_id=A, read_counter=120),
                event(now - timedelta(hours=2, minutes=30), cylinder_id=B),
                event(now - timedelta(hours=2), cylinder_id=B),  # 30 minutes after the previous fill
            ],
        ).status_code
        == 200
    )
    far = world.add_user("far", world_role("station"), station="ST-FAR")
    world.tokens["far"] = far
    assert (
        post_events(
            client,
            world,
            "ST-FAR",
            [
                event(now - timedelta(hours=2, minutes=48), tag_uid=uid, cylinder_id=A, read_counter=118),
            ],
            who="far",
        ).status_code
        == 200
    )
    # Judged by the clone watch's next round, not by the uploads themselves.
    assert _get(client, world, "suspected-clones").get_json()["suspects"] == []
    assert world.watch_clones() == 2
    suspects = _get(client, world, "suspected-clones").get_json()["suspects"]
    kinds = {(s["kind"], s["key_type"]) for s in suspects}
    assert ("impossible_travel", "tag_uid") in kinds and ("impossible_travel", "cylinder_id") in kinds
    assert ("counter_not_increasing", "tag_uid") in kinds
    assert ("fills_within_hour", "cylinder_id") in kinds
    travel = next(s for s in suspects if s["kind"] == "impossible_travel")
    assert {travel["station"], travel["previous_station"]} == {"ST-JS-01", "ST-FAR"}


def test_more_than_four_fills_a_day(client: FlaskClient, world: World) -> None:
    now = world.clock()
    fills = [event(now - timedelta(hours=h * 2 + 1), cylinder_id=A) for h in range(5)]
    assert post_events(client, world, "ST-JS-01", fills).status_code == 200
    world.watch_clones()
    suspects = _get(client, world, "suspected-clones").get_json()["suspects"]
    assert [s["kind"] for s in suspects] == ["too_many_fills_per_day"]
    assert "5 fills" in suspects[0]["detail"]
    assert _get(client, world, "suspected-clones", format="csv").get_data(as_text=True).count("\n") == 2


def test_no_suspects_in_normal_traffic(client: FlaskClient, world: World) -> None:
    now = world.clock()
    assert (
        post_events(
            client,
            world,
            "ST-JS-01",
            [
                event(now - timedelta(days=2), tag_uid="04000000000001", cylinder_id=A, read_counter=5),
                event(now - timedelta(days=1), tag_uid="04000000000001", cylinder_id=A, read_counter=9),
            ],
        ).status_code
        == 200
    )
    assert (
        post_events(
            client,
            world,
            "ST-EQ-01",
            [
                event(now - timedelta(hours=3), tag_uid="04000000000001", cylinder_id=A, read_counter=12),
            ],
            who="station2",
        ).status_code
        == 200
    )
    since = (now - timedelta(days=3)).isoformat()
    assert world.watch_clones() == 2
    assert _get(client, world, "suspected-clones", since=since).get_json()["suspects"] == []
    # The same history with the counter going back is caught over that window.
    assert (
        post_events(
            client,
            world,
            "ST-EQ-01",
            [
                event(now - timedelta(hours=1), tag_uid="04000000000001", cylinder_id=A, read_counter=7),
            ],
            who="station2",
        ).status_code
        == 200
    )
    world.watch_clones()
    kinds = {s["kind"] for s in _get(client, world, "suspected-clones", since=since).get_json()["suspects"]}
    assert kinds == {"counter_not_increasing"}


def world_role(name: str) -> Role:
    return Role(name)


def test_csv_cells_cannot_smuggle_formulas(client: FlaskClient, world: World) -> None:
    now = world.clock()
    assert (
        post_events(
            client,
            world,
            "ST-JS-01",
            [
                refused(now - timedelta(hours=1), ["inspection_overdue"], outcome="overridden") | {"attendant": "=HYPERLINK(1)"},
            ],
        ).status_code
        == 200
    )
    text = _get(client, world, "refuel-attempts", format="csv").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert row["attendant"] == "'=HYPERLINK(1)"
