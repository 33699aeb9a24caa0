"""GET /api/v1/handheld-checks: the checks officers recorded with the handheld verifier, for the
bureau (every one) and grid users (their cells' and their own), newest first. Token-authenticated
like the rest of /api/v1 (schemas/registry-api.yaml)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from registry_service.api import parse
from registry_service.api.common import report_tx
from registry_service.auth import current, roles
from registry_service.models import Role
from registry_service.services import handheld_checks

blueprint = Blueprint("handheld_api", __name__)
MAX_LIMIT = 1000


@blueprint.get("/handheld-checks")
@roles(Role.BUREAU, Role.GRID)
def list_checks() -> Response:
    args = parse.filled(parse.query_args({"since", "until", "cylinder_id", "limit"}))
    since = parse.optional_timestamp(args, "since")
    until = parse.optional_timestamp(args, "until")
    cylinder_id = parse.cylinder_id(args["cylinder_id"], "cylinder_id") if "cylinder_id" in args else None
    limit = parse.query_int(args, "limit", 100, 1, MAX_LIMIT)
    principal = current()
    rows = report_tx(
        lambda s: handheld_checks.list_checks(s, principal, since=since, until=until, cylinder_id=cylinder_id, limit=limit)
    )
    return jsonify({"checks": rows})
