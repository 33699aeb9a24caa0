"""The registry's side of the handheld verifier, on SQLite and PostgreSQL: the public documents as
stored (with ETags), the reason texts, the anonymous lookup (only the verdict and the due date, the
same shape for an unknown ID, limited per client), and the officer's checks (cookie session and
CSRF, idempotent by UUID, a case opened once, in the cell the stations' cases use)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.handheld.limiter import LookupLimiter, LookupRate
from registry_service.handheld.lookup import install_limiter
from registry_service.models import Case, CaseKind, CaseStep, HandheldCheck, Region
from registry_service.services import handheld_checks
from tag_tools import pki as tag_pki
from tag_tools.reason_catalogue import catalogue
from tag_tools.status_values import StatusValue
from tests.handheld.handheld_world import check_body, give_password, publish_documents, register_cylinder, signed_in
from tests.registry import conftest as registry_fixtures
from tests.registry.conftest import Clock, World
from tests.testkit import TestPki

ANSWER_KEYS = {"cylinder_id", "decision", "reasons", "next_due"}

# The registry tests' fixtures, by name: every test here runs on SQLite and on PostgreSQL.
database_url = registry_fixtures.database_url
migrated_engine = registry_fixtures.migrated_engine
engine = registry_fixtures.engine
clock = registry_fixtures.clock
pki = registry_fixtures.pki
config = registry_fixtures.config
app = registry_fixtures.app
client = registry_fixtures.client
world = registry_fixtures.world


@pytest.fixture
def officers(world: World) -> World:
    """Dashboard passwords for the cell officer, a second cell's officer, the bureau and a centre."""
    world.add_grid_person("grid2", "410103-01")
    for name in ("grid", "grid2", "bureau", "centre"):
        give_password(world.registry, name)
    return world


def region_id(world: World, code: str) -> int:
    return int(world.registry.transaction(lambda s: s.scalars(select(Region.id).where(Region.code == code)).one()))


# Documents ---------------------------------------------------------------------------------------


def test_documents_are_the_stored_bytes_with_etags(client: FlaskClient, world: World, pki: TestPki, clock: Clock) -> None:
    assert client.get("/verify/trust-list").status_code == 404  # nothing published yet
    token = publish_documents(world.registry, pki, clock(), {2: StatusValue.REVOKED_SCRAPPED})
    root = client.get("/verify/root.der")
    assert root.status_code == 200 and root.data == tag_pki.certificate_to_der(pki.root_certificate)
    listed = client.get("/verify/trust-list")
    assert listed.status_code == 200 and listed.data == pki.signed_trust_list()
    assert listed.headers["X-Trust-List-Sequence"] == "2"
    again = client.get("/verify/trust-list", headers={"If-None-Match": listed.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/verify/status-lists").get_json() == {"lists": [{"id": 0, "sequence": 1}]}
    status = client.get("/verify/status-lists/0")
    assert status.data == token and status.content_type == "application/statuslist+cwt"
    assert client.get("/verify/status-lists/0", headers={"If-None-Match": status.headers["ETag"]}).status_code == 304
    assert client.get("/verify/status-lists/1").status_code == 404
    assert client.get("/verify/status-lists/99999999").status_code == 404
    for path in ("/verify/", "/verify/trust-list", "/verify/sw.js"):
        assert "script-src 'self'" in client.get(path).headers["Content-Security-Policy"]


def test_without_a_configured_root_the_phone_is_told_to_retry(engine: Engine, database_url: str) -> None:
    rootless = create_app(RegistryConfig(database_url=database_url), engine=engine)
    answer = rootless.test_client().get("/verify/root.der")
    assert answer.status_code == 503 and answer.headers["Retry-After"]


def test_reason_texts_cover_the_catalogue_in_each_language(client: FlaskClient) -> None:
    chinese = client.get("/verify/reasons/zh_CN.json").get_json()
    english = client.get("/verify/reasons/en.json").get_json()
    assert set(chinese["reasons"]) == set(english["reasons"]) == set(catalogue().codes)
    assert chinese["reasons"]["inspection_overdue"] == "气瓶超期未检"
    assert english["reasons"]["inspection_overdue"] != chinese["reasons"]["inspection_overdue"]
    assert client.get("/verify/reasons/zh.json").get_json()["locale"] == "zh_CN"
    assert client.get("/verify/reasons/xx.json").status_code == 404


# The anonymous lookup ----------------------------------------------------------------------------


def test_lookup_answers_the_verdict_and_due_date_only(client: FlaskClient, world: World, clock: Clock) -> None:
    today = clock().date()
    register_cylinder(world.registry, "156-4101-7", "豫A12345", region_id(world, "410105-01"), today + timedelta(days=200))
    register_cylinder(world.registry, "156-4101-8", "豫A54321", None, today - timedelta(days=3))
    good = client.post("/verify/lookup", json={"cylinder_id": "156-04101-7"})  # typed with a leading zero
    assert good.status_code == 200 and good.headers["Cache-Control"] == "no-store"
    assert good.get_json() == {
        "cylinder_id": "156-4101-7",
        "decision": "allow",
        "reasons": [],
        "next_due": (today + timedelta(days=200)).isoformat(),
    }
    overdue = client.post("/verify/lookup", json={"cylinder_id": "156-4101-8"}).get_json()
    assert overdue["decision"] == "refuse" and overdue["reasons"] == ["inspection_overdue"]
    assert "豫A" not in client.post("/verify/lookup", json={"cylinder_id": "156-4101-8"}).get_data(as_text=True)
    unknown = client.post("/verify/lookup", json={"cylinder_id": "156-4101-9"}).get_json()
    assert set(unknown) == set(overdue) == ANSWER_KEYS  # the same shape: nothing tells the two apart but the verdict
    assert unknown == {"cylinder_id": "156-4101-9", "decision": "refuse", "reasons": ["unregistered"], "next_due": None}
    assert client.post("/verify/lookup", json={"cylinder_id": "not an id"}).status_code == 422
    assert client.post("/verify/lookup", json={"cylinder_id": "156-4101-7", "plate": "x"}).status_code == 422


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lookups_are_limited_per_client_with_retry_after(app: Flask, world: World) -> None:
    ticks = FakeMonotonic()
    install_limiter(app, LookupLimiter(LookupRate(burst=3, every_s=60), clock=ticks))
    client = app.test_client()

    def ask(address: str, body: object = None) -> int:
        body = body if body is not None else {"cylinder_id": "156-4101-1"}
        return client.post("/verify/lookup", json=body, environ_base={"REMOTE_ADDR": address}).status_code

    assert [ask("10.0.0.1") for _ in range(3)] == [200, 200, 200]
    limited = client.post("/verify/lookup", json={"cylinder_id": "156-4101-1"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert limited.content_type == "application/problem+json"
    assert ask("10.0.0.1", {"cylinder_id": "bad"}) == 429  # a malformed request costs the same
    assert ask("10.0.0.2") == 200  # another client has its own bucket
    ticks.now += 30
    assert ask("10.0.0.1") == 429
    ticks.now += 31
    assert ask("10.0.0.1") == 200 and ask("10.0.0.1") == 429


def test_the_limiter_refills_up_to_its_burst_and_forgets_the_oldest_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = FakeMonotonic()
    limiter = LookupLimiter(LookupRate(burst=2, every_s=10), clock=ticks)
    limiter.take("a")
    limiter.take("a")
    ticks.now += 1000  # a long pause refills two, not a hundred
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(Exception, match="try again in 10 s"):
        limiter.take("a")
    monkeypatch.setattr("registry_service.handheld.limiter.MAX_CLIENTS", 2)
    for name in ("b", "c", "d"):
        limiter.take(name)
    assert list(limiter._buckets) == ["c", "d"]
    with pytest.raises(ValueError):
        LookupLimiter(LookupRate(burst=0))


# The officer's checks ----------------------------------------------------------------------------


def rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(HandheldCheck)) or 0)


def test_only_signed_in_officers_record_checks_with_the_csrf_token(
    app: Flask, officers: World, engine: Engine, clock: Clock
) -> None:
    body = check_body("156-4101-7", ["inspection_overdue"], checked_at=clock().isoformat())
    anonymous = app.test_client()
    me = anonymous.get("/dashboard/handheld/me").get_json()
    assert me["signed_in"] is False and me["may_record"] is False and me["csrf_token"]
    assert anonymous.post("/dashboard/handheld/checks", json=body).status_code == 400  # no token
    refused = anonymous.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": me["csrf_token"]})
    assert refused.status_code == 401
    centre, token = signed_in(app, "centre")
    assert centre.get("/dashboard/handheld/me").get_json()["may_record"] is False
    assert centre.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    grid, token = signed_in(app, "grid")
    assert grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 400
    assert rows(engine) == 0
    stored = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
    assert stored.status_code == 201, stored.get_json()
    bureau, token = signed_in(app, "bureau")
    other = {**body, "id": str(uuid.uuid4())}
    assert bureau.post("/dashboard/handheld/checks", json=other, headers={"X-CSRF-Token": token}).status_code == 201
    assert rows(engine) == 2
    assert grid.get("/dashboard/handheld/").headers["Location"].endswith("/verify/")


def test_a_check_sent_twice_is_stored_once_with_the_same_answer(
    app: Flask, officers: World, engine: Engine, clock: Clock
) -> None:
    grid, token = signed_in(app, "grid")
    body = check_body("156-4101-7", ["inspection_overdue"], checked_at=(clock() - timedelta(hours=5)).isoformat())
    first = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
    second = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
    assert (first.status_code, second.status_code) == (201, 200)
    assert {**first.get_json(), "duplicate": True} == second.get_json()
    assert rows(engine) == 1
    grid2, token2 = signed_in(app, "grid2")
    stolen = grid2.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token2})
    assert stolen.status_code == 409 and rows(engine) == 1
    with engine.connect() as connection:
        row = connection.execute(select(HandheldCheck)).one()
    assert row.officer == "grid" and row.reasons == ["inspection_overdue"] and row.place == "出租车站 经三路"
    assert row.checked_at == clock() - timedelta(hours=5) and row.received_at == clock()


BAD_CHECKS: list[tuple[dict[str, object], str]] = [
    ({"id": "not-a-uuid"}, "id"),
    ({"checked_at": "2026-11-22T10:00:00"}, "checked_at"),
    ({"checked_at": "2001-01-01T00:00:00+00:00"}, "checked_at"),
    ({"decision": "maybe"}, "decision"),
    ({"reasons": ["no_such_reason"]}, "reasons"),
    ({"reasons": [{"a": 1}]}, "reasons"),
    ({"cylinder_id": None, "tag_uid": None}, "cylinder_id"),
    ({"tag_uid": "zz"}, "tag_uid"),
    ({"place": "x" * 201}, "place"),
    ({"source": "guess"}, "source"),
    ({"owner": "someone"}, "owner"),
]


def test_bad_checks_are_refused_naming_the_field(app: Flask, officers: World, engine: Engine, clock: Clock) -> None:
    grid, token = signed_in(app, "grid")
    for change, field in BAD_CHECKS:
        body = {**check_body("156-4101-7", ["inspection_overdue"], checked_at=clock().isoformat()), **change}
        answer = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
        assert answer.status_code == 422 and field in answer.get_json()["detail"], (change, answer.get_json())
    assert rows(engine) == 0


def cases(engine: Engine) -> list[Case]:
    with engine.connect() as connection:
        return list(connection.execute(select(Case).order_by(Case.id)).all())  # type: ignore[arg-type]


def test_opening_a_case_uses_the_home_cell_and_happens_once(app: Flask, officers: World, engine: Engine, clock: Clock) -> None:
    home = region_id(officers, "410103-01")  # the vehicle lives in the other district's cell
    register_cylinder(officers.registry, "156-4101-7", "豫A12345", home, clock().date() - timedelta(days=3))
    grid, token = signed_in(app, "grid")
    body = check_body("156-4101-7", ["inspection_overdue"], checked_at=clock().isoformat())
    plain = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
    assert plain.get_json()["case"] is None and cases(engine) == []
    asked = grid.post("/dashboard/handheld/checks", json={**body, "open_case": True}, headers={"X-CSRF-Token": token})
    again = grid.post("/dashboard/handheld/checks", json={**body, "open_case": True}, headers={"X-CSRF-Token": token})
    number = asked.get_json()["case"]
    assert number and again.get_json()["case"] == number and rows(engine) == 1
    [case] = cases(engine)
    assert (case.kind, case.subject_key, case.region_id, case.reason) == (
        "refused_cylinder",
        "cylinder:156-4101-7",
        home,
        "overdue",
    )
    assert case.vehicle_id is not None and case.cylinder_pk is not None
    with engine.connect() as connection:
        steps = connection.execute(select(CaseStep.action, CaseStep.actor).where(CaseStep.case_id == case.id)).all()
    assert ("reported", "grid") in steps and all(action != "repeat" for action, _ in steps)
    # Another officer's refused check of the same cylinder attaches to the open case.
    grid2, token2 = signed_in(app, "grid2")
    other = check_body("156-4101-7", ["inspection_overdue"], checked_at=clock().isoformat(), open_case=True)
    assert grid2.post("/dashboard/handheld/checks", json=other, headers={"X-CSRF-Token": token2}).get_json()["case"] == number
    assert len(cases(engine)) == 1


def test_a_copied_tag_opens_a_clone_case_in_the_officers_cell(app: Flask, officers: World, engine: Engine, clock: Clock) -> None:
    grid, token = signed_in(app, "grid")
    body = check_body(None, ["uid_mismatch"], checked_at=clock().isoformat(), open_case=True)
    answer = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
    assert answer.status_code == 201, answer.get_json()
    [case] = cases(engine)
    assert (case.kind, case.subject_key, case.reason) == ("clone_suspect", "clone:04A2C4D2E10001", "uid_mismatch")
    assert case.region_id == region_id(officers, "410105-01")


def test_a_valid_verdict_opens_no_case_and_nothing_is_stored(app: Flask, officers: World, engine: Engine, clock: Clock) -> None:
    grid, token = signed_in(app, "grid")
    for reasons, decision in (([], "allow"), (["trust_list_stale"], "refuse"), (["due_soon"], "allow_with_warning")):
        body = check_body("156-4101-7", reasons, decision=decision, checked_at=clock().isoformat(), open_case=True)
        answer = grid.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token})
        assert answer.status_code == 422, (reasons, answer.get_json())
    assert cases(engine) == [] and rows(engine) == 0  # the transaction stored neither


def test_the_bureau_without_a_cell_needs_a_registered_vehicle_for_a_case(
    app: Flask, officers: World, engine: Engine, clock: Clock
) -> None:
    bureau, token = signed_in(app, "bureau")
    body = check_body("156-4101-7", ["inspection_overdue"], checked_at=clock().isoformat(), open_case=True)
    assert bureau.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token}).status_code == 422
    register_cylinder(officers.registry, "156-4101-7", "豫A12345", region_id(officers, "410105-01"), clock().date())
    assert bureau.post("/dashboard/handheld/checks", json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_checks_are_listed_for_the_bureau_and_the_officers_cells(
    app: Flask, client: FlaskClient, officers: World, clock: Clock
) -> None:
    grid, token = signed_in(app, "grid")
    grid2, token2 = signed_in(app, "grid2")
    mine = check_body("156-4101-7", [], decision="allow", checked_at=clock().isoformat())
    theirs = check_body("156-4101-8", [], decision="allow", checked_at=(clock() - timedelta(minutes=5)).isoformat())
    grid.post("/dashboard/handheld/checks", json=mine, headers={"X-CSRF-Token": token})
    grid2.post("/dashboard/handheld/checks", json=theirs, headers={"X-CSRF-Token": token2})
    everything = client.get("/api/v1/handheld-checks", headers=officers.auth("bureau")).get_json()["checks"]
    assert [c["id"] for c in everything] == [mine["id"], theirs["id"]]
    assert everything[0]["region"] == "410105-01" and everything[0]["officer"] == "grid"
    own = client.get("/api/v1/handheld-checks", headers=officers.auth("grid")).get_json()["checks"]
    assert [c["id"] for c in own] == [mine["id"]]
    one = client.get("/api/v1/handheld-checks?cylinder_id=156-4101-8", headers=officers.auth("bureau")).get_json()
    assert [c["id"] for c in one["checks"]] == [theirs["id"]]
    assert client.get("/api/v1/handheld-checks?limit=0", headers=officers.auth("bureau")).status_code == 422
    assert client.get("/api/v1/handheld-checks", headers=officers.auth("centre")).status_code == 403


def test_case_kinds_follow_the_stations_refusals() -> None:
    assert handheld_checks.case_for(["due_soon", "inspection_overdue"], "refuse") is not None
    assert handheld_checks.case_for(["cylinder_revoked", "inspection_overdue"], "refuse") == (
        CaseKind.REFUSED_CYLINDER,
        "revoked",
    )
    assert handheld_checks.case_for(["bad_signature"], "refuse") == (CaseKind.CLONE_SUSPECT, "bad_signature")
    assert handheld_checks.case_for(["trust_list_not_authentic"], "refuse") is None
    assert handheld_checks.case_for(["inspection_overdue"], "allow") is None
    assert set(handheld_checks.TAG_REASONS) <= set(catalogue().codes)
