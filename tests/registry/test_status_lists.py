"""The signed status list end to end: centres get index blocks, sign a batch with
`cylinder-tag sign --status-block`, upload it; revocations and re-inspections raise entries; the
registry publishes through the real `cylinder-signer serve` process and serves the list with ETag;
a station's parse_status_list gives the expected values. No value ever goes down, and when the
registry's books would clear a revocation the signer refuses and the last list stays served."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from werkzeug.test import TestResponse

from list_signer.errors import Refusal
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.models import StatusEntry
from registry_service.services import status_indexes, status_lists
from registry_service.status_publisher import StatusPublisher
from tag_tools.claims import CylinderId, StatusReference
from tag_tools.cli.main import main as cylinder_tag
from tag_tools.status_list import StatusList, StatusValue, parse_status_list
from tests.list_signer.conftest import SignerFiles, SignerProcess, start_signer
from tests.registry.conftest import World
from tests.registry.status_world import Centre, LiveClock, cylinder, live_clock, record_file, serve_http, uid, upload
from tests.testkit import TestPki

V, S, STOLEN, SCRAPPED = StatusValue.VALID, StatusValue.SUPERSEDED, StatusValue.REVOKED_STOLEN, StatusValue.REVOKED_SCRAPPED


def cylinder_id(number: int) -> CylinderId:
    return CylinderId(156, 4101, number)


@pytest.fixture
def clock() -> LiveClock:
    return live_clock()


@pytest.fixture
def signer(tmp_path: Path, pki: TestPki) -> Iterator[SignerProcess]:
    files = SignerFiles(tmp_path / "signer", pki)
    files.folder.mkdir()
    process = start_signer(files.write().serve_args(), files.socket)
    yield process
    process.stop()


@pytest.fixture
def centre(tmp_path: Path, pki: TestPki) -> Centre:
    (tmp_path / "centre").mkdir()
    return Centre(tmp_path / "centre", pki)


@pytest.fixture
def trusted(client: FlaskClient, world: World, pki: TestPki) -> World:
    r = client.put("/api/v1/trust-list", data=pki.trust_list_bytes, content_type="application/cose", headers=world.auth("bureau"))
    assert r.status_code == 201, r.json
    return world


def allocate(client: FlaskClient, world: World, count: object, who: str = "centre", code: str = "ZZTJ01") -> TestResponse:
    return client.post(f"/api/v1/centres/{code}/status-indexes", json={"count": count}, headers=world.auth(who))


def entries(engine: Engine) -> dict[int, int]:
    with engine.connect() as c:
        return dict(c.execute(select(StatusEntry.idx, StatusEntry.value).order_by(StatusEntry.idx)).all())


def fetch(client: FlaskClient, world: World, etag: str | None = None) -> TestResponse:
    headers = world.auth("station") | ({"If-None-Match": etag} if etag else {})
    return client.get("/api/v1/status-lists/0", headers=headers)


def test_blocks_never_overlap_and_belong_to_their_centre(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = [allocate(client, world, n, who) for n, who in [(10, "centre"), (5, "centre2"), (1, "centre"), (7, "centre")]]
    assert [b.status_code for b in blocks] == [200, 403, 200, 200]  # centre2 asked for ZZTJ01's block
    assert allocate(client, world, 5, "centre2", "ZZTJ02").json == {"list_id": 0, "first": 18, "count": 5}
    got = [b.json for b in blocks if b.status_code == 200]
    assert got == [
        {"list_id": 0, "first": 0, "count": 10},
        {"list_id": 0, "first": 10, "count": 1},
        {"list_id": 0, "first": 11, "count": 7},
    ]
    for count in (0, 100_001, "5"):
        assert allocate(client, world, count).status_code == 422
    assert allocate(client, world, 1, code="NOPE").status_code == 404
    monkeypatch.setattr(status_indexes, "LIST_CAPACITY", 30)  # list 0 is full after 30: the next block opens list 1
    assert allocate(client, world, 8).json == {"list_id": 1, "first": 0, "count": 8}
    r = client.put(
        "/api/v1/bureau/centres/ZZTJ01/active", json={"active": False, "reason": "audit"}, headers=world.auth("bureau")
    )
    assert r.status_code == 200 and allocate(client, world, 1).status_code == 409  # a suspended centre gets none


def test_sign_upload_revoke_reinspect_publish_and_serve(
    app: Flask,
    client: FlaskClient,
    trusted: World,
    centre: Centre,
    signer: SignerProcess,
    pki: TestPki,
    engine: Engine,
    clock: LiveClock,
    tmp_path: Path,
) -> None:
    world = trusted
    (tmp_path / "token").write_text(world.tokens["centre"])
    block = tmp_path / "block.json"
    for url in serve_http(app):
        assert (
            cylinder_tag(
                [
                    "status-block",
                    "fetch",
                    "--registry",
                    url,
                    "--token-file",
                    str(tmp_path / "token"),
                    "--centre",
                    "ZZTJ01",
                    "--count",
                    "10",
                    "--out",
                    str(block),
                ]
            )
            == 0
        )
        assert (
            cylinder_tag(
                [
                    "status-block",
                    "fetch",
                    "--registry",
                    url,
                    "--token-file",
                    str(tmp_path / "token"),
                    "--centre",
                    "ZZTJ02",
                    "--count",
                    "10",
                    "--out",
                    str(tmp_path / "other.json"),
                ]
            )
            == 3
        )
    assert json.loads(block.read_text()) == {"list_id": 0, "next": 0, "end": 10}
    assert allocate(client, world, 5, "centre2", "ZZTJ02").get_json()["first"] == 10  # centre 2's indexes: 10..14

    # A batch of four with a bad row: three records take indexes 0, 1, 2; the bad row takes none.
    out = tmp_path / "out"
    rows = [centre.row(1), centre.row(2, next_due="not-a-date"), centre.row(2), centre.row(3)]
    assert centre.sign_csv(rows, block, out) == 3
    assert json.loads(block.read_text())["next"] == 3
    for number in (1, 2, 3):
        assert upload(client, world, record_file(out, number)).status_code == 201
    assert entries(engine) == {0: V, 1: V, 2: V}

    # Indexes the centre was not given, or that another record uses, are refused.
    foreign = pki.ndef_message(uid(4), cylinder_id=cylinder_id(4), report_number="R-4", status_ref=StatusReference(0, 12))
    used = pki.ndef_message(uid(5), cylinder_id=cylinder_id(5), report_number="R-5", status_ref=StatusReference(0, 2))
    beyond = pki.ndef_message(uid(6), cylinder_id=cylinder_id(6), report_number="R-6", status_ref=StatusReference(0, 99))
    for record, reason in [
        (foreign, "status_index_not_allocated"),
        (used, "status_index_used"),
        (beyond, "status_index_not_allocated"),
    ]:
        r = upload(client, world, record)
        assert r.status_code == 422 and r.get_json()["errors"][0]["reason"] == reason, r.get_json()
    assert upload(client, world, record_file(out, 1)).status_code == 200  # an identical retry stays fine

    # Nothing published yet: 404. Then the first list, through the real signer process.
    assert fetch(client, world).status_code == 404
    registry = app.extensions["registry"]
    first = status_lists.publish(registry.transaction, signer.client, 0, clock())
    assert (first.result, first.sequence, first.count) == ("published", 1, 15)
    served = fetch(client, world)
    assert served.status_code == 200 and served.content_type == "application/statuslist+cwt"
    assert served.headers["ETag"] == '"0-1"' and served.headers["Cache-Control"] == "max-age=300"
    held = parse_status_list(served.data, pki.signer_certificate, now=clock(), list_id=0)
    assert [held.status(i) for i in range(15)] == [V] * 15
    assert fetch(client, world, '"0-1"').status_code == 304

    # Cylinder 1 reported stolen; cylinder 2 re-inspected (its index 1 superseded, the new one is 3).
    r = client.post(
        f"/api/v1/cylinders/{cylinder(1)}/revocations",
        json={"kind": "reported_stolen", "reason": "police report"},
        headers=world.auth("bureau"),
    )
    assert r.status_code == 201
    assert centre.sign_csv([centre.row(2, sequence=4)], block, out, "again.csv") == 0
    assert upload(client, world, record_file(out, 2)).status_code == 201
    assert entries(engine) == {0: STOLEN, 1: S, 2: V, 3: V}

    second = status_lists.publish_due(registry.transaction, signer.client, clock())
    assert [(o.result, o.sequence) for o in second] == [("published", 2)]
    changed = fetch(client, world, '"0-1"')
    assert changed.status_code == 200 and changed.headers["ETag"] == '"0-2"'
    held = parse_status_list(changed.data, pki.signer_certificate, now=clock(), list_id=0, min_sequence=held.sequence + 1)
    assert [held.status(i) for i in range(5)] == [STOLEN, S, V, V, V] and len(held) == 15
    # Changes this recent are looked at again (COMMIT_MARGIN), but the same entries sign nothing new.
    assert [o.result for o in status_lists.publish_due(registry.transaction, signer.client, clock())] == ["unchanged"]
    assert fetch(client, world, '"0-2"').status_code == 304

    # A compromised registry's books lose the revocation: the signer refuses, the last list stays.
    tamper_clear(engine, 0)
    refused = status_lists.publish(registry.transaction, signer.client, 0, clock(), force=True)
    assert refused.result == "refused" and Refusal.CLEARED_REVOCATION.value in refused.detail
    assert fetch(client, world).headers["ETag"] == '"0-2"'
    assert parse_status_list(fetch(client, world).data, pki.signer_certificate, now=clock(), list_id=0).status(0) is STOLEN
    audit = client.get("/api/v1/admin/audit", headers=world.auth("bureau")).get_json()["entries"]
    assert audit[0]["action"] == "status_list_refused" and "cleared-revocation" in audit[0]["detail"]


def tamper_clear(engine: Engine, idx: int) -> None:
    """What only a compromised registry does: make entry `idx` disappear (published as VALID).
    The trigger of migration 0005 refuses this on PostgreSQL unless triggers are switched off."""
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("SET LOCAL session_replication_role = replica"))
        c.execute(text("DELETE FROM status_entries WHERE list_id = 0 AND idx = :i"), {"i": idx})


def test_background_publisher_brings_a_revocation_to_the_next_list(
    engine: Engine, config: RegistryConfig, clock: LiveClock, trusted: World, pki: TestPki, signer: SignerProcess
) -> None:
    app = create_app(replace(config, signer_socket=str(signer.socket), status_list_interval_s=0.2), engine=engine, clock=clock)
    client, world = app.test_client(), trusted
    assert allocate(client, world, 4).status_code == 200
    record = pki.ndef_message(uid(7), cylinder_id=cylinder_id(7), report_number="R-7", status_ref=StatusReference(0, 2))
    assert upload(client, world, record).status_code == 201
    publisher = StatusPublisher(app.extensions["registry"]).start()
    try:
        before = wait_for_list(client, world, lambda held: held.sequence >= 1, pki, clock)
        assert before.status(2) is V
        r = client.post(
            f"/api/v1/cylinders/{cylinder(7)}/condemnation", json={"reason": "corroded"}, headers=world.auth("centre")
        )
        assert r.status_code == 201
        after = wait_for_list(client, world, lambda held: held.status(2) is SCRAPPED, pki, clock)
        assert after.sequence > before.sequence
    finally:
        publisher.stop()


def wait_for_list(
    client: FlaskClient, world: World, done: Callable[[StatusList], bool], pki: TestPki, clock: LiveClock, timeout_s: float = 30.0
) -> StatusList:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = fetch(client, world)
        if r.status_code == 200:
            held = parse_status_list(r.data, pki.signer_certificate, now=clock(), list_id=0)
            if done(held):
                return held
        time.sleep(0.1)
    pytest.fail("the background publisher did not publish the expected list in time")


def test_no_code_path_lowers_an_entry(
    client: FlaskClient, trusted: World, pki: TestPki, engine: Engine, clock: LiveClock
) -> None:
    """Every write path in turn, in the order that would lower a value if any path could: after
    each step no entry is lower than before. Then the database itself refuses a lowering UPDATE."""
    world = trusted
    assert allocate(client, world, 10).status_code == 200

    def submit(number: int, sequence: int, index: int) -> None:
        record = pki.ndef_message(
            uid(number),
            cylinder_id=cylinder_id(number),
            sequence=sequence,
            report_number=f"R-{number}-{sequence}",
            status_ref=StatusReference(0, index),
        )
        assert upload(client, world, record).status_code == 201

    def revoke(number: int, kind: str) -> None:
        r = client.post(
            f"/api/v1/cylinders/{cylinder(number)}/revocations",
            json={"kind": kind, "reason": "test"},
            headers=world.auth("bureau"),
        )
        assert r.status_code == 201, r.json

    steps: list[Callable[[], None]] = [
        lambda: submit(1, 3, 0),
        lambda: revoke(1, "scrapped"),  # 0 -> 3
        lambda: revoke(1, "reported_stolen"),  # would be 3 -> 2: stays 3
        lambda: submit(1, 4, 1),  # a new record of a revoked (now stolen) cylinder: index 1 is born 2, 0 stays 3
        lambda: submit(2, 3, 2),
        lambda: revoke(2, "reported_stolen"),  # 2 -> 2
        lambda: submit(2, 4, 3),  # supersede would be 2 -> 1: stays 2
        lambda: revoke(2, "condemned"),  # 2 -> 3 and the new index 3 -> 3
    ]
    seen: dict[int, int] = {}
    for step in steps:
        step()
        now = entries(engine)
        assert all(now[i] >= v for i, v in seen.items()), (seen, now)
        seen = now
    assert seen == {0: SCRAPPED, 1: STOLEN, 2: SCRAPPED, 3: SCRAPPED}
    with pytest.raises(DBAPIError, match="never goes down"), engine.begin() as c:
        c.execute(text("UPDATE status_entries SET value = 0 WHERE idx = 0"))
    with engine.begin() as c:  # raising is allowed
        c.execute(text("UPDATE status_entries SET value = 3 WHERE idx = 1"))
    assert entries(engine)[1] == SCRAPPED


def test_publish_command_signs_through_the_signer(
    client: FlaskClient,
    trusted: World,
    config: RegistryConfig,
    signer: SignerProcess,
    pki: TestPki,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from registry_service.cli import main as cylinder_registry

    assert allocate(client, trusted, 3).status_code == 200
    argv = ["--database-url", config.database_url, "publish-status-list", "--signer-socket", str(signer.socket), "--ttl-s", "60"]
    assert cylinder_registry(argv) == 0
    assert json.loads(capsys.readouterr().out) | {"detail": ""} == {
        "list_id": 0,
        "result": "published",
        "sequence": 1,
        "count": 3,
        "detail": "",
    }
    served = fetch(client, trusted)
    assert served.headers["Cache-Control"] == "max-age=60"
    assert len(parse_status_list(served.data, pki.signer_certificate, now=live_clock()(), list_id=0)) == 3
    signer.stop()  # an unreachable signer: the command fails in one line, the list stays
    assert cylinder_registry(argv) == 1 and json.loads(capsys.readouterr().out)["result"] == "refused"
    assert fetch(client, trusted).headers["ETag"] == '"0-1"'
