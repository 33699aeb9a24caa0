"""Central station policies in the registry, with the real `cylinder-signer serve` process: the
bureau sets them per region or station (nearest wins, audited), each change is signed at once for
the stations it affects with a global sequence that never goes back, and the station fetches its
document (ETag/304) and adopts it through station_agent.central_policy over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from list_signer.client import SignerClient
from registry_service.config import RegistryConfig
from registry_service.models import AuditEntry
from registry_service.services import policies
from station_agent.central_policy import CentralPolicy
from station_agent.config import Policy
from station_agent.outbox import Outbox
from station_agent.registry_client import HttpRegistryClient
from tag_tools.station_policy import Mode, PolicyTerms, StationPolicy, parse_station_policy
from tag_tools.trustlist import parse_trust_list
from tests.list_signer.conftest import SignerFiles, SignerProcess, start_signer
from tests.registry.conftest import World
from tests.registry.status_world import LiveClock, live_clock, serve_http
from tests.testkit import TestPki


@pytest.fixture
def clock() -> LiveClock:
    return live_clock()  # the signer dates documents by its own (real) clock


@pytest.fixture
def signer_files(tmp_path: Path, pki: TestPki) -> SignerFiles:
    (tmp_path / "signer").mkdir()
    return SignerFiles(tmp_path / "signer", pki).write()


@pytest.fixture
def signer(signer_files: SignerFiles) -> Iterator[SignerProcess]:
    process = start_signer(signer_files.serve_args(), signer_files.socket)
    yield process
    process.stop()


@pytest.fixture
def config(config: RegistryConfig, signer: SignerProcess) -> RegistryConfig:
    return replace(config, signer_socket=str(signer.socket))


def put(client: FlaskClient, world: World, path: str, **body: Any) -> dict[str, Any]:
    response = client.put(f"/api/v1/bureau/{path}/policy", json=body, headers=world.auth("bureau"))
    assert response.status_code == 200, response.json
    assert isinstance(response.json, dict)
    return response.json


def delete(client: FlaskClient, world: World, path: str) -> dict[str, Any]:
    response = client.delete(f"/api/v1/bureau/{path}/policy", headers=world.auth("bureau"))
    assert response.status_code == 200, response.json
    assert isinstance(response.json, dict)
    return response.json


def document(client: FlaskClient, world: World, station: str, who: str, pki: TestPki) -> StationPolicy:
    response = client.get(f"/api/v1/stations/{station}/policy", headers=world.auth(who))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == f'"{response.headers["X-Policy-Sequence"]}"'
    return parse_station_policy(response.data, pki.signer_certificate, now=datetime.now(UTC), station_code=station)


def test_nearest_policy_wins_and_every_change_is_signed_for_the_stations_it_affects(
    client: FlaskClient, world: World, pki: TestPki, engine: Engine
) -> None:
    assert client.get("/api/v1/stations/ST-JS-01/policy", headers=world.auth("station")).status_code == 404
    city = put(client, world, "regions/4101", mode="enforce", warning_days=45, note="roll-out done")
    assert city["publication"] == {"result": "published", "sequence": 1, "count": 3, "detail": ""}
    assert city["policy"]["scope"] == "region" and city["policy"]["set_by"] == "bureau"
    own = put(client, world, "stations/ST-JS-01", mode="monitor", overridable=[], min_refill_interval_min=120)
    assert own["publication"]["sequence"] == 2 and own["publication"]["count"] == 1

    mine = document(client, world, "ST-JS-01", "station", pki)
    assert mine.sequence == 2 and mine.terms.mode is Mode.MONITOR and mine.terms.overridable == frozenset()
    assert mine.terms.warning_days is None  # a station's own policy replaces its region's, term by term unset
    neighbour = document(client, world, "ST-EQ-01", "station2", pki)
    assert (neighbour.sequence, neighbour.terms) == (1, PolicyTerms(mode=Mode.ENFORCE, warning_days=45))
    assert client.get("/api/v1/stations/ST-EQ-01/policy", headers=world.auth("station")).status_code == 403
    unchanged = client.get("/api/v1/stations/ST-JS-01/policy", headers={**world.auth("station"), "If-None-Match": '"2"'})
    assert unchanged.status_code == 304 and unchanged.data == b""

    view = client.get("/api/v1/bureau/stations/ST-EQ-01/policy", headers=world.auth("bureau")).json
    assert view is not None and view["source"] == {"scope": "region", "code": "4101"} and view["pending"] is False
    assert view["published"]["sequence"] == 1 and view["effective"]["mode"] == "enforce"
    again = put(client, world, "stations/ST-JS-01", mode="monitor", overridable=[], min_refill_interval_min=120)
    assert again["publication"]["result"] == "unchanged"

    assert delete(client, world, "stations/ST-JS-01")["publication"]["count"] == 1  # back to the city's
    assert document(client, world, "ST-JS-01", "station", pki).terms == PolicyTerms(mode=Mode.ENFORCE, warning_days=45)
    cleared = delete(client, world, "regions/4101")["publication"]
    assert (cleared["sequence"], cleared["count"]) == (4, 3)  # an empty document: back to their files
    assert document(client, world, "ST-FAR", "bureau", pki).terms.empty
    assert client.get("/api/v1/bureau/policies", headers=world.auth("bureau")).json == {"policies": []}

    with engine.connect() as c:
        actions = list(c.scalars(select(AuditEntry.action).where(AuditEntry.entity.like("%_policy")).order_by(AuditEntry.id)))
    assert actions == ["set_policy", "set_policy", "set_policy", "clear_policy", "clear_policy"]


def test_bad_input_is_refused(client: FlaskClient, world: World) -> None:
    for body, problem in [
        ({}, "at least one"),
        ({"note": "only a note"}, "at least one"),
        ({"mode": "lenient"}, "mode"),
        ({"overridable": ["no_such_reason"]}, "no_such_reason"),
        ({"warning_days": -1}, "warning_days"),
        ({"min_refill_interval_min": 44641}, "min_refill_interval_min"),
        ({"mode": "enforce", "colour": "red"}, "colour"),
    ]:
        response = client.put("/api/v1/bureau/regions/4101/policy", json=body, headers=world.auth("bureau"))
        assert response.status_code == 422 and problem in str(response.json), (body, response.json)
    assert (
        client.put("/api/v1/bureau/regions/9999/policy", json={"mode": "enforce"}, headers=world.auth("bureau")).status_code
        == 404
    )
    assert client.delete("/api/v1/bureau/stations/ST-FAR/policy", headers=world.auth("bureau")).status_code == 404


def test_a_signer_away_or_ahead_delays_nothing_for_good(
    client: FlaskClient, world: World, app: Flask, signer: SignerProcess, signer_files: SignerFiles, engine: Engine
) -> None:
    signer.client.sign_station_policies(10, [("ST-JS-01", PolicyTerms(mode=Mode.MONITOR))])  # e.g. a restored database
    ahead = put(client, world, "stations/ST-JS-01", mode="enforce")["publication"]
    assert (ahead["result"], ahead["sequence"]) == ("published", 11)  # above the signer's: stations may hold 10

    signer.stop()
    away = put(client, world, "regions/410103", warning_days=60)["publication"]
    assert away["result"] == "refused" and away["detail"].startswith("unavailable")
    view = client.get("/api/v1/bureau/stations/ST-EQ-01/policy", headers=world.auth("bureau")).json
    assert view is not None and view["pending"] is True and view["published"] is None
    with engine.connect() as c:
        assert c.scalar(select(AuditEntry.action).where(AuditEntry.action == "policy_publish_refused")) is not None

    restarted = start_signer(signer_files.serve_args(), signer_files.socket)
    try:  # what the background publisher (or `cylinder-registry publish-policies`) does next
        registry = app.extensions["registry"]
        later = policies.publish_pending(registry.transaction, SignerClient(signer_files.socket), registry.clock())
        assert (later.result, later.sequence, later.stations) == ("published", 12, ("ST-EQ-01",))
    finally:
        restarted.stop()


def test_the_station_adopts_what_the_bureau_publishes(
    app: Flask, client: FlaskClient, world: World, pki: TestPki, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    trust_list = parse_trust_list(pki.signed_trust_list(2), pki.root_certificate)
    applied: list[tuple[Policy, int | None]] = []
    held = CentralPolicy(
        outbox,
        lambda: trust_list,
        "ST-JS-01",
        Policy(mode="monitor"),
        apply=lambda policy, sequence: applied.append((policy, sequence)),
        clock=lambda: datetime.now(UTC),
    )
    for base_url in serve_http(app):
        station = HttpRegistryClient(f"{base_url}/api/v1", world.tokens["station"])
        try:
            assert not held.refresh(station)  # nothing published yet: 404, the file rules
            put(client, world, "regions/410105", mode="enforce")
            assert held.refresh(station) and applied[-1][0].mode == "enforce" and applied[-1][1] == 1
            assert not held.refresh(station)  # 304
            put(client, world, "regions/410105", mode="monitor")
            assert held.refresh(station) and [(p.mode, s) for p, s in applied] == [("enforce", 1), ("monitor", 2)]
        finally:
            station.close()
    outbox.close()
