"""Builders shared by the handheld page's tests: the signed documents a registry serves (trust list,
status list), registered cylinders, officers who can sign in to the dashboard, and emulated tags
holding records signed with the real tag_tools code."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service import security
from registry_service.models import StatusListPublication, User
from registry_service.node import Registry
from registry_service.services import trust
from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle
from tag_tools import ntag, t2t_memory
from tag_tools.claims import CylinderId, StatusReference
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.passwords import CHEAP_FOR_TESTS
from tag_tools.status_list import StatusArray, StatusList, build_status_list
from tag_tools.status_values import StatusValue
from tests.testkit import TestPki

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def publish_documents(registry: Registry, pki: TestPki, now: datetime, revoked: dict[int, StatusValue] | None = None) -> bytes:
    """The bureau's trust list (signed by the list signer, naming it) and status list 0 of 16
    entries, `revoked` set, as the registry stores them. Returns the status list's bytes."""
    blob = pki.signed_trust_list()
    registry.transaction(lambda s: trust.publish(s, "test", now, blob, pki.root_certificate_pem))
    issued = now.replace(microsecond=0) - timedelta(hours=1)
    statuses = StatusArray.from_mapping(revoked or {}, 16)
    listed = StatusList(0, 1, issued, issued + timedelta(days=2), timedelta(hours=1), statuses)
    token = build_status_list(listed, pki.signer_key, pki.signer_certificate)

    def store(session: Session) -> None:
        session.add(
            StatusListPublication(
                list_id=0,
                sequence=1,
                blob=token,
                count=16,
                content_sha256="0" * 64,
                ttl_s=3600,
                published_at=issued,
                expires_at=listed.expires_at,
            )
        )

    registry.transaction(store)
    return token


def register_cylinder(
    registry: Registry, cylinder_id: str, plate: str, region_id: int | None, next_due: date, uid: bytes | None = None
) -> None:
    """A cylinder fitted to a vehicle whose home cell is `region_id`."""

    def work(session: Session) -> None:
        upsert_vehicle(session, plate, None, "taxi", region_id)
        upsert_cylinder(
            session,
            CylinderIn(
                cylinder_id=cylinder_id,
                serial=f"S-{cylinder_id}",
                manufactured_on=date(2019, 6, 1),
                end_of_life=date(2034, 5, 31),
                next_due=next_due,
                tag_uid=uid.hex().upper() if uid else None,
                plate=plate,
                position=1,
                last_result="pass",
            ),
        )

    registry.transaction(work)


def give_password(registry: Registry, username: str) -> None:
    """A dashboard password (a cheap Argon2id hash: the KDF's cost is not what these tests are about)."""

    def work(session: Session) -> None:
        user = session.scalars(select(User).where(User.username == username)).one()
        user.password_hash = security.hash_password(PASSWORD, cost=CHEAP_FOR_TESTS)

    registry.transaction(work)


def signed_in(app: Flask, username: str) -> tuple[FlaskClient, str]:
    """A test client signed in to the dashboard as `username`, and its CSRF token for /dashboard/handheld."""
    client = app.test_client()
    page = client.get("/dashboard/sign-in").get_data(as_text=True)
    token = CSRF.search(page)
    assert token
    answer = client.post("/dashboard/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    me = client.get("/dashboard/handheld/me").get_json()
    assert me["signed_in"] and me["username"] == username
    return client, str(me["csrf_token"])


def check_body(cylinder_id: str | None, reasons: list[str], decision: str = "refuse", **fields: Any) -> dict[str, Any]:
    """An upload as the page makes it."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "checked_at": fields.pop("checked_at"),
        "source": "tag",
        "cylinder_id": cylinder_id,
        "tag_uid": "04A2C4D2E10001",
        "decision": decision,
        "reasons": reasons,
        "status_checked": True,
        "place": "出租车站 经三路",
        "open_case": False,
    }
    body.update(fields)
    return body


@dataclass(frozen=True)
class Tag:
    """An emulated NTAG215 with a record written into its memory, as a centre leaves it."""

    name: str
    emulator: NtagEmulator
    cylinder_id: str

    @property
    def serial_number(self) -> str:
        """The UID as Web NFC gives it: lower-case hex bytes joined by colons."""
        return ":".join(f"{b:02x}" for b in self.emulator.uid)

    @property
    def ndef_message(self) -> bytes:
        """The NDEF message read back out of the emulated tag's memory (the NDEF TLV's value)."""
        return t2t_memory.ndef_message_from_memory(bytes(self.emulator.memory))


def uid(number: int) -> bytes:
    return bytes.fromhex("04A2C4D2E1") + number.to_bytes(2, "big")


def make_tag(
    pki: TestPki,
    name: str,
    number: int,
    now: datetime,
    *,
    bound_to: bytes | None = None,
    status_index: int | None = None,
    **claims: Any,
) -> Tag:
    """A tag of UID uid(number) holding a record for cylinder 156-4101-<number> signed by the test
    centre at `now`; `bound_to` signs the record for another UID (a copied tag)."""
    cylinder = CylinderId(156, 4101, number)
    if status_index is not None:
        claims["status_ref"] = StatusReference(0, status_index)
    message = pki.ndef_message(bound_to or uid(number), now, cylinder_id=cylinder, **claims)
    emulator = NtagEmulator.blank(uid(number), signature=bytes(ntag.SIGNATURE_LENGTH))
    tlv = t2t_memory.ndef_tlv(message)
    emulator.memory[16 : 16 + len(tlv)] = tlv
    return Tag(name, emulator, str(cylinder))
