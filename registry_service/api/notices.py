"""The bureau's read of owner notices (GET /bureau/notices): what was planned, sent, retried or
not sent for want of consent. Never an owner's address; each read is audited (services/notices)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from registry_service.api import parse
from registry_service.api.common import now, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import Channel, NoticeKind, NoticeState, Role
from registry_service.node import registry
from registry_service.services import notices

blueprint = Blueprint("notices", __name__)
FILTERS = {"state", "kind", "channel", "plate", "case", "since", "until", "limit", "cursor"}


@blueprint.get("/bureau/notices")
@roles(Role.BUREAU)
def list_notices() -> Response:
    args = parse.filled(parse.query_args(FILTERS))
    flt = notices.NoticeFilter(
        state=parse.choice(args["state"], "state", NoticeState).value if "state" in args else None,
        kind=parse.choice(args["kind"], "kind", NoticeKind).value if "kind" in args else None,
        channel=parse.choice(args["channel"], "channel", Channel).value if "channel" in args else None,
        plate=parse.plate(args["plate"], "plate") if "plate" in args else None,
        case_number=_case_number(args.get("case")),
        since=parse.optional_timestamp(args, "since"),
        until=parse.optional_timestamp(args, "until"),
    )
    limit = parse.query_int(args, "limit", 100, 1, registry().config.max_page_size)
    cursor = parse.query_int(args, "cursor", 0, 1, 2**31 - 1) if "cursor" in args else None
    principal = current()
    # The primary, not a replica: the read is written to the audit log in the same transaction.
    return jsonify(tx(lambda s: notices.list_notices(s, flt, principal, now(), limit, cursor)))


def _case_number(value: str | None) -> str | None:
    if value is not None and not parse.CODE.match(value):
        raise InvalidInput("case is not a case number")
    return value
