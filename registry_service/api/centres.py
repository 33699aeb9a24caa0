"""Inspection centres: submit inspections with their signed records; condemn cylinders (the
centre of the latest record, or the bureau); the bureau's reversal of a condemnation."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, jsonify

from registry_service.api import parse
from registry_service.api.common import created, now, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import Cylinder, Revocation, RevocationKind, Role
from registry_service.node import registry
from registry_service.services import cylinders, inspections

blueprint = Blueprint("centres", __name__)


def checked_cylinder_id(value: str) -> str:
    return parse.cylinder_id(value, "cylinder_id")  # canonical form (tag_tools.identifiers)


@blueprint.post("/inspections")
@roles(Role.CENTRE)
def submit_inspection() -> tuple[Response, int]:
    body = parse.json_body()
    parse.only_fields(body, {"record"})
    encoded = parse.required_text(body, "record", max_len=4096)
    try:
        record = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("record must be standard base64") from exc
    config = registry().config

    def work(session):  # type: ignore[no-untyped-def]
        trust = registry().trust_stores.store(session, config.bureau_root_pem)
        inspection, fresh = inspections.submit(session, current(), now(), record, trust)
        cylinder_id = session.get(Cylinder, inspection.cylinder_pk).cylinder_id
        return inspections.inspection_json(inspection, cylinder_id), fresh

    result, fresh = tx(work)
    return jsonify(result), 201 if fresh else 200


@blueprint.post("/cylinders/<cylinder_id>/condemnation")
@roles(Role.CENTRE, Role.BUREAU)
def condemn(cylinder_id: str) -> tuple[Response, int]:
    cylinder_id = checked_cylinder_id(cylinder_id)
    body = parse.json_body()
    parse.only_fields(body, {"reason"})
    reason = parse.required_text(body, "reason", max_len=400)
    row = tx(lambda s: _revocation_json(cylinders.condemn(s, current(), now(), cylinder_id, reason)))
    registry().revoked.set()
    return created(row)


@blueprint.post("/cylinders/<cylinder_id>/condemnation-reversal")
@roles(Role.BUREAU)
def reverse_condemnation(cylinder_id: str) -> tuple[Response, int]:
    cylinder_id = checked_cylinder_id(cylinder_id)
    body = parse.json_body()
    parse.only_fields(body, {"reason"})
    reason = parse.required_text(body, "reason", max_len=400)
    return created(
        tx(lambda s: cylinders.reversal_json(cylinders.reverse_condemnation(s, current(), now(), cylinder_id, reason)))
    )


@blueprint.post("/cylinders/<cylinder_id>/revocations")
@roles(Role.BUREAU)
def revoke_cylinder(cylinder_id: str) -> tuple[Response, int]:
    cylinder_id = checked_cylinder_id(cylinder_id)
    body = parse.json_body()
    parse.only_fields(body, {"kind", "reason"})
    kind = parse.choice(body.get("kind"), "kind", RevocationKind)
    if kind is RevocationKind.SUPERSEDED:
        raise InvalidInput("records are superseded by submitting a newer inspection")
    reason = parse.required_text(body, "reason", max_len=400)
    row = tx(lambda s: _revocation_json(cylinders.revoke(s, current(), now(), cylinder_id, kind, reason)))
    registry().revoked.set()
    return created(row)


def _revocation_json(row: Revocation) -> dict[str, object]:
    return {
        "id": row.id,
        "cylinder_id": row.cylinder_id,
        "kind": row.kind.value,
        "reason": row.reason,
        "below_sequence": row.below_sequence,
        "created_at": row.created_at.isoformat(),
    }
