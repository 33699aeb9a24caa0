"""Trust-list publication and inspection submission, with records signed by tag_tools' test PKI."""

import base64
from datetime import timedelta

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.registry.conftest import Clock, World
from tests.testkit import TestPki

UID = bytes.fromhex("04A2C4D2E15A80")


def _publish(client: FlaskClient, world: World, blob: bytes) -> TestResponse:
    return client.put("/api/v1/trust-list", data=blob, content_type="application/cose", headers=world.auth("bureau"))


def _submit(client: FlaskClient, world: World, message: bytes, who: str = "centre") -> TestResponse:
    return client.post("/api/v1/inspections", json={"record": base64.b64encode(message).decode()}, headers=world.auth(who))


def test_trust_list_is_verified_stored_and_served(client: FlaskClient, world: World, pki: TestPki) -> None:
    r = _publish(client, world, pki.trust_list_bytes)
    assert r.status_code == 201, r.json
    assert r.get_json()["sequence"] == 1
    served = client.get("/api/v1/trust-list", headers=world.auth("station"))
    assert served.status_code == 200 and served.data == pki.trust_list_bytes
    cached = client.get("/api/v1/trust-list", headers=world.auth("station") | {"If-None-Match": served.headers["ETag"]})
    assert cached.status_code == 304
    assert _publish(client, world, pki.trust_list_bytes).status_code == 201  # same list again: idempotent
    centres = client.get("/api/v1/bureau/centres", headers=world.auth("bureau")).get_json()["centres"]
    assert [len(c["certificates"]) for c in centres if c["code"] == "ZZTJ01"] == [1]


def test_trust_list_from_another_root_or_garbage_is_rejected(client: FlaskClient, world: World, clock: Clock) -> None:
    assert client.get("/api/v1/trust-list", headers=world.auth("station")).status_code == 404
    other = TestPki.create(clock.now)
    r = _publish(client, world, other.trust_list_bytes)
    assert r.status_code == 422 and "trust list" in r.get_json()["detail"]
    assert _publish(client, world, b"\x00garbage").status_code == 422
    r = client.put("/api/v1/trust-list", data=b"x", content_type="text/plain", headers=world.auth("bureau"))
    assert r.status_code == 415


def test_inspection_registers_cylinder_and_supersedes_older_record(client: FlaskClient, world: World, pki: TestPki) -> None:
    _publish(client, world, pki.trust_list_bytes)
    r = _submit(client, world, pki.ndef_message(UID, sequence=3))
    assert r.status_code == 201, r.json
    expected = pki.record(UID)
    CYLINDER = str(expected.cylinder_id)
    assert r.get_json()["cylinder_id"] == CYLINDER and r.get_json()["sequence"] == 3
    assert _submit(client, world, pki.ndef_message(UID, sequence=3)).status_code in (200, 409)
    status = client.post(
        "/api/v1/status", json={"cylinders": [{"cylinder_id": CYLINDER, "tag_uid": UID.hex()}]}, headers=world.auth("station")
    ).get_json()["cylinders"][0]
    assert status["decision"] == "allow" and status["plate"] == expected.plate and status["record_sequence"] == 3

    newer = pki.ndef_message(UID, sequence=4, report_number="2026-ZZ-009999")
    assert _submit(client, world, newer).status_code == 201
    revocations = client.get("/api/v1/revocations", headers=world.auth("station")).get_json()["revocations"]
    assert [(r["kind"], r["below_sequence"]) for r in revocations] == [("superseded", 4)]
    older = pki.ndef_message(UID, sequence=2, report_number="2026-ZZ-000001")
    assert _submit(client, world, older).status_code == 409


def test_identical_retry_is_idempotent(client: FlaskClient, world: World, pki: TestPki) -> None:
    _publish(client, world, pki.trust_list_bytes)
    message = pki.ndef_message(UID)
    assert _submit(client, world, message).status_code == 201
    again = _submit(client, world, message)
    assert again.status_code == 200 and again.get_json()["report_number"] == pki.record(UID).report_number


def test_only_the_signing_centre_may_submit(client: FlaskClient, world: World, pki: TestPki) -> None:
    _publish(client, world, pki.trust_list_bytes)
    r = _submit(client, world, pki.ndef_message(UID), who="centre2")
    assert r.status_code == 403


def test_forged_or_unverifiable_records_are_rejected(client: FlaskClient, world: World, pki: TestPki, clock: Clock) -> None:
    assert _submit(client, world, pki.ndef_message(UID)).status_code == 409  # no trust list yet
    _publish(client, world, pki.trust_list_bytes)
    message = bytearray(pki.ndef_message(UID))
    message[-5] ^= 0x01
    r = _submit(client, world, bytes(message))
    assert r.status_code == 422 and r.get_json()["errors"][0]["reason"] in ("bad_signature", "malformed")
    stranger = TestPki.create(clock.now)
    r = _submit(client, world, stranger.ndef_message(UID))
    assert r.status_code == 422 and r.get_json()["errors"][0]["reason"] == "unknown_signer"
    assert _submit(client, world, b"\x01\x02").status_code == 422
    r = client.post("/api/v1/inspections", json={"record": "***"}, headers=world.auth("centre"))
    assert r.status_code == 422


def test_revoked_certificate_stops_submissions(client: FlaskClient, world: World, pki: TestPki, clock: Clock) -> None:
    _publish(client, world, pki.trust_list_bytes)
    centres = client.get("/api/v1/bureau/centres", headers=world.auth("bureau")).get_json()["centres"]
    fingerprint = next(c for c in centres if c["code"] == "ZZTJ01")["certificates"][0]["fingerprint"]
    clock.advance(seconds=1)
    r = client.post(
        f"/api/v1/bureau/certificates/{fingerprint}/revocation", json={"reason": "key lost"}, headers=world.auth("bureau")
    )
    assert r.status_code == 201
    later = pki.ndef_message(UID, issued_at=(clock.now + timedelta(seconds=1)).replace(microsecond=0))
    clock.advance(seconds=5)
    r = _submit(client, world, later)
    assert r.status_code == 422 and r.get_json()["errors"][0]["reason"] == "signer_revoked"


def test_suspended_centre_cannot_submit(client: FlaskClient, world: World, pki: TestPki) -> None:
    _publish(client, world, pki.trust_list_bytes)
    r = client.put(
        "/api/v1/bureau/centres/ZZTJ01/active", json={"active": False, "reason": "audit"}, headers=world.auth("bureau")
    )
    assert r.status_code == 200 and r.get_json()["active"] is False
    r = _submit(client, world, pki.ndef_message(UID))
    assert r.status_code == 422 and r.get_json()["errors"][0]["reason"] == "unknown_signer"
    client.put("/api/v1/bureau/centres/ZZTJ01/active", json={"active": True, "reason": "cleared"}, headers=world.auth("bureau"))
    assert _submit(client, world, pki.ndef_message(UID)).status_code == 201
    actions = [e["action"] for e in client.get("/api/v1/admin/audit", headers=world.auth("bureau")).get_json()["entries"]]
    assert actions[:3] == ["submit_inspection", "reinstate_centre", "suspend_centre"]
