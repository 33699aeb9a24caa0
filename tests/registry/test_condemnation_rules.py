"""Who may condemn a cylinder and how a condemnation is undone: one test per rule.

Condemnation follows the rules of inspections: the bureau, or the centre that holds the
cylinder's latest record, while that centre is active. Only the bureau reverses a condemnation,
with a reason; the reversal clears no revoked bit: the old record stays refused online and in the
status list until a centre re-issues the cylinder with a new record (new sequence, new index).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from registry_service.models import AuditEntry, CondemnationReversal, Inspection, InspectionCentre
from registry_service.services import status_lists
from tag_tools.claims import StatusReference
from tag_tools.status_list import StatusList, StatusValue
from tag_tools.verdict import Decision, Reason
from tag_tools.verify import verify_tag
from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle
from tests.testkit import TestPki

UID = bytes.fromhex("04A2C4D2E15A80")
# Rules decided in Python run on SQLite only; the ones that lean on SQL (which record is the latest,
# status entries that never go down) run on PostgreSQL too.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
UNINSPECTED = "156-4101-77"  # registered by import, never inspected: no centre holds its record


@pytest.fixture
def cylinder(client: FlaskClient, world: World, pki: TestPki) -> str:
    """A cylinder whose latest record (sequence 3, status index 0/0) centre ZZTJ01 submitted."""
    r = client.put("/api/v1/trust-list", data=pki.trust_list_bytes, content_type="application/cose", headers=world.auth("bureau"))
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/centres/ZZTJ01/status-indexes", json={"count": 4}, headers=world.auth("centre"))
    assert r.status_code == 200, r.json
    assert submit(client, world, pki, sequence=3, index=0).status_code == 201
    return str(pki.record(UID).cylinder_id)


def record(pki: TestPki, sequence: int, index: int) -> bytes:
    return pki.ndef_message(UID, sequence=sequence, report_number=f"R-{sequence}", status_ref=StatusReference(0, index))


def submit(client: FlaskClient, world: World, pki: TestPki, *, sequence: int, index: int) -> TestResponse:
    body = {"record": base64.b64encode(record(pki, sequence, index)).decode()}
    return client.post("/api/v1/inspections", json=body, headers=world.auth("centre"))


def condemn(client: FlaskClient, world: World, cylinder_id: str, who: str) -> TestResponse:
    return client.post(f"/api/v1/cylinders/{cylinder_id}/condemnation", json={"reason": "corroded neck"}, headers=world.auth(who))


def reverse(client: FlaskClient, world: World, cylinder_id: str, who: str = "bureau", **body: Any) -> TestResponse:
    body = body or {"reason": "re-test passed; ruling BU-2026-17"}
    return client.post(f"/api/v1/cylinders/{cylinder_id}/condemnation-reversal", json=body, headers=world.auth(who))


def online(client: FlaskClient, world: World, cylinder_id: str, sequence: int) -> dict[str, Any]:
    """The registry's answer to a station that read the record with this sequence."""
    body = {"cylinders": [{"cylinder_id": cylinder_id, "tag_uid": UID.hex(), "record_sequence": sequence}]}
    r = client.post("/api/v1/status", json=body, headers=world.auth("station"))
    assert r.status_code == 200, r.json
    answer: dict[str, Any] = r.get_json()["cylinders"][0]
    return answer


def offline(world: World, pki: TestPki, sequence: int, index: int) -> Any:
    """A station's own verdict on that record, against the status list the registry would sign now
    (records with a status index are judged by their list; the older JSON feed is not consulted)."""
    now = world.clock()
    statuses = world.registry.transaction(lambda s: status_lists.build(s, 0))
    held = StatusList(0, 1, now, now + timedelta(hours=1), timedelta(minutes=5), statuses)
    return verify_tag(UID, record(pki, sequence, index), trust=pki.trust_store(), now=now, status_lists={0: held})


@SQLITE_ONLY
def test_another_centre_may_not_condemn(client: FlaskClient, world: World, cylinder: str) -> None:
    r = condemn(client, world, cylinder, "centre2")
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert online(client, world, cylinder, 3)["decision"] == "allow"


@SQLITE_ONLY
def test_the_centre_of_the_latest_record_may_condemn(client: FlaskClient, world: World, pki: TestPki, cylinder: str) -> None:
    r = condemn(client, world, cylinder, "centre")
    assert r.status_code == 201 and r.get_json()["kind"] == "condemned"
    assert "cylinder_revoked" in online(client, world, cylinder, 3)["reasons"]
    assert offline(world, pki, 3, 0).reasons == (Reason.CYLINDER_REVOKED,)


def test_the_latest_record_decides_not_an_earlier_one(client: FlaskClient, world: World, cylinder: str) -> None:
    """Centre ZZTJ02 inspected the cylinder after ZZTJ01: ZZTJ01 no longer holds its record."""

    def newer_inspection(session: Session) -> None:
        first = session.scalar(select(Inspection))
        assert first is not None
        centre2 = session.scalar(select(InspectionCentre.id).where(InspectionCentre.code == "ZZTJ02"))
        session.execute(insert(Inspection).values(
            cylinder_pk=first.cylinder_pk, centre_id=centre2, report_number="ZZTJ02-9", inspected_on=first.inspected_on,
            result="pass", next_due=first.next_due, sequence=4, issued_at=first.issued_at, tag_uid=first.tag_uid,
            record=b"\xd1\x01", submitted_at=world.clock(),
        ))  # fmt: skip

    world.registry.transaction(newer_inspection)
    assert condemn(client, world, cylinder, "centre").status_code == 403
    assert condemn(client, world, cylinder, "centre2").status_code == 201


@SQLITE_ONLY
def test_a_suspended_centre_may_not_condemn(client: FlaskClient, world: World, cylinder: str) -> None:
    r = client.put(
        "/api/v1/bureau/centres/ZZTJ01/active",
        json={"active": False, "reason": "licence suspended"},
        headers=world.auth("bureau"),
    )
    assert r.status_code == 200, r.json
    r = condemn(client, world, cylinder, "centre")
    assert r.status_code == 403 and "suspended" in r.get_json()["detail"]
    assert online(client, world, cylinder, 3)["decision"] == "allow"


@SQLITE_ONLY
def test_the_bureau_may_condemn_any_cylinder(client: FlaskClient, world: World, cylinder: str) -> None:
    add_vehicle(world, "豫A0C001", [{"cylinder_id": UNINSPECTED}])
    assert condemn(client, world, UNINSPECTED, "centre").status_code == 403  # no centre holds its record
    assert condemn(client, world, UNINSPECTED, "bureau").status_code == 201
    assert condemn(client, world, cylinder, "bureau").status_code == 201


@SQLITE_ONLY
@pytest.mark.parametrize("who", ["station", "admin"])
def test_stations_and_admins_may_neither_condemn_nor_reverse(client: FlaskClient, world: World, cylinder: str, who: str) -> None:
    assert condemn(client, world, cylinder, who).status_code == 403
    assert condemn(client, world, cylinder, "bureau").status_code == 201
    assert reverse(client, world, cylinder, who).status_code == 403


@SQLITE_ONLY
def test_only_the_bureau_reverses_a_condemnation(client: FlaskClient, world: World, cylinder: str) -> None:
    assert condemn(client, world, cylinder, "centre").status_code == 201
    assert reverse(client, world, cylinder, "centre").status_code == 403  # not even the centre that condemned
    assert reverse(client, world, cylinder, "centre2").status_code == 403
    r = reverse(client, world, cylinder, "bureau")
    assert r.status_code == 201 and r.get_json()["cylinder_id"] == cylinder and r.get_json()["reissued_sequence"] is None


@SQLITE_ONLY
def test_a_reversal_needs_a_reason(client: FlaskClient, world: World, cylinder: str) -> None:
    assert condemn(client, world, cylinder, "centre").status_code == 201
    for body in ({}, {"reason": ""}, {"reason": "x" * 401}):
        r = client.post(f"/api/v1/cylinders/{cylinder}/condemnation-reversal", json=body, headers=world.auth("bureau"))
        assert r.status_code == 422, (body, r.json)


@SQLITE_ONLY
def test_only_a_condemned_cylinder_can_be_reversed(client: FlaskClient, world: World, cylinder: str) -> None:
    assert reverse(client, world, cylinder).status_code == 409  # active
    assert condemn(client, world, cylinder, "centre").status_code == 201
    assert reverse(client, world, cylinder).status_code == 201
    assert reverse(client, world, cylinder).status_code == 409  # already reversed, awaiting the new record
    add_vehicle(world, "豫A0C002", [{"cylinder_id": UNINSPECTED}])
    r = client.post(
        f"/api/v1/cylinders/{UNINSPECTED}/revocations",
        json={"kind": "scrapped", "reason": "cut up"},
        headers=world.auth("bureau"),
    )
    assert r.status_code == 201
    assert reverse(client, world, UNINSPECTED).status_code == 409  # scrapped is not condemned


def test_after_a_reversal_the_old_record_stays_refused_everywhere(
    client: FlaskClient, world: World, pki: TestPki, engine: Engine, cylinder: str
) -> None:
    assert condemn(client, world, cylinder, "centre").status_code == 201
    assert reverse(client, world, cylinder).status_code == 201
    answer = online(client, world, cylinder, 3)
    assert answer["decision"] == "refuse" and "cylinder_revoked" in answer["reasons"]
    assert offline(world, pki, 3, 0).reasons == (Reason.CYLINDER_REVOKED,)
    with engine.connect() as c:
        audit = c.execute(select(AuditEntry.actor, AuditEntry.detail).where(AuditEntry.action == "reverse_condemnation")).all()
    assert [(actor, json.loads(detail)["reason"]) for actor, detail in audit] == [("bureau", "re-test passed; ruling BU-2026-17")]


def test_a_new_record_after_the_reversal_makes_the_cylinder_fillable(
    client: FlaskClient, world: World, pki: TestPki, engine: Engine, cylinder: str
) -> None:
    assert condemn(client, world, cylinder, "centre").status_code == 201
    assert reverse(client, world, cylinder).status_code == 201
    assert submit(client, world, pki, sequence=4, index=1).status_code == 201
    assert online(client, world, cylinder, 4)["decision"] == "allow"
    assert offline(world, pki, 4, 1).decision is Decision.ALLOW
    assert offline(world, pki, 3, 0).reasons == (Reason.CYLINDER_REVOKED,)  # the old record: still revoked
    with engine.connect() as c:
        assert c.scalar(select(CondemnationReversal.reissued_sequence)) == 4
    assert reverse(client, world, cylinder).status_code == 409  # active again: nothing to reverse


def test_a_new_record_without_a_reversal_is_born_revoked(client: FlaskClient, world: World, pki: TestPki, cylinder: str) -> None:
    """A centre cannot undo a condemnation by writing a new tag: its record is stored, refused."""
    assert condemn(client, world, cylinder, "centre").status_code == 201
    assert submit(client, world, pki, sequence=4, index=1).status_code == 201
    answer = online(client, world, cylinder, 4)
    assert answer["decision"] == "refuse" and "cylinder_revoked" in answer["reasons"]
    verdict = offline(world, pki, 4, 1)
    assert verdict.decision is Decision.REFUSE and Reason.CYLINDER_REVOKED in verdict.reasons
    assert world.registry.transaction(lambda s: status_lists.build(s, 0)).status(1) is StatusValue.REVOKED_SCRAPPED
