"""Administration: users, their tokens, stations, and reading the audit log."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from registry_service.api import parse
from registry_service.api.common import created, now, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import AuditEntry, Role
from registry_service.services import accounts, places

blueprint = Blueprint("admin", __name__)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,79}\Z")


@blueprint.post("/admin/users")
@roles(Role.ADMIN)
def create_user() -> tuple[Response, int]:
    body = parse.json_body()
    parse.only_fields(body, {"username", "role", "password", "station", "centre"})
    username = parse.required_text(body, "username", max_len=80, pattern=USERNAME)
    role = parse.choice(body.get("role"), "role", Role)
    password = parse.password(body, "password", required=False)
    station = parse.text(body, "station", required=False, max_len=64, pattern=parse.CODE)
    centre = parse.text(body, "centre", required=False, max_len=64, pattern=parse.CODE)
    user = tx(
        lambda s: accounts.create_user(
            s, current(), now(), username=username, role=role, password=password, station_code=station, centre_code=centre
        )
    )
    return created({"id": user.id, "username": user.username, "role": user.role.value})


@blueprint.post("/admin/users/<username>/tokens")
@roles(Role.ADMIN)
def issue_token(username: str) -> tuple[Response, int]:
    if not USERNAME.match(username):
        raise InvalidInput("not a user name")
    body = parse.json_body()
    parse.only_fields(body, {"label", "valid_days"})
    label = parse.text(body, "label", required=False, max_len=120) or ""
    days = parse.integer(body, "valid_days", required=False, low=1, high=accounts.MAX_TOKEN_DAYS) or 90
    issued = tx(lambda s: accounts.issue_token(s, current(), now(), username=username, label=label, valid_days=days))
    return created(
        {
            "token": issued.token,
            "token_id": issued.token_id,
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        }
    )


@blueprint.post("/admin/stations")
@roles(Role.ADMIN)
def create_station() -> tuple[Response, int]:
    body = parse.json_body()
    parse.only_fields(body, {"code", "name", "region", "latitude", "longitude", "pumps", "monitor_mode"})
    code = parse.required_text(body, "code", max_len=64, pattern=parse.CODE)
    name = parse.required_text(body, "name", max_len=200)
    region = parse.required_text(body, "region", max_len=64, pattern=parse.CODE)
    lat, lon = _coordinate(body, "latitude", 90), _coordinate(body, "longitude", 180)
    pumps = parse.integer(body, "pumps", required=False, low=1, high=64) or 2
    monitor = parse.boolean(body, "monitor_mode", False)
    station = tx(
        lambda s: places.create_station(
            s,
            current(),
            now(),
            code=code,
            name=name,
            region_code=region,
            latitude=lat,
            longitude=lon,
            pumps=pumps,
            monitor_mode=monitor,
        )
    )
    return created({"id": station.id, "code": station.code, "name": station.name})


def _coordinate(body: dict[str, object], key: str, bound: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -bound <= value <= bound:
        raise InvalidInput(f"{key} must be a number between {-bound} and {bound}")
    return float(value)


@blueprint.get("/admin/audit")
@roles(Role.ADMIN, Role.BUREAU)
def audit_log() -> Response:
    args = parse.query_args({"before", "limit"})
    before = parse.query_int(args, "before", 2**31 - 1, 1, 2**31 - 1)
    limit = parse.query_int(args, "limit", 100, 1, 1000)

    def work(session):  # type: ignore[no-untyped-def]
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id < before).order_by(AuditEntry.id.desc()).limit(limit))
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "entity": r.entity,
                "entity_ref": r.entity_ref,
                "detail": r.detail,
            }
            for r in rows
        ]

    return jsonify({"entries": tx(work)})
