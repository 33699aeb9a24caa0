"""Health, log-in (password -> token), who-am-I, token revocation."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text

from registry_service.api import parse
from registry_service.api.common import created, now, tx
from registry_service.auth import current, roles
from registry_service.errors import NotFound
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import accounts
from registry_service.services.login_throttle import DEFAULT_POLICY, POLICY_EXTENSION

blueprint = Blueprint("public", __name__)
ANY_ROLE = tuple(Role)


@blueprint.get("/health")
def health() -> Response:
    tx(lambda s: s.execute(text("SELECT 1")))
    return jsonify({"status": "ok"})


@blueprint.post("/auth/tokens")
def log_in() -> tuple[Response, int]:
    body = parse.json_body()
    parse.only_fields(body, {"username", "password", "label"})
    username = parse.required_text(body, "username", max_len=80)
    password = parse.password(body, "password")
    assert password is not None  # required: absent raised InvalidInput
    label = parse.text(body, "label", required=False, max_len=120) or ""
    # Throttled with the dashboard's sign-in (one table): a lock on either path refuses both,
    # answered here as 429 problem+json with Retry-After.
    issued = accounts.login(
        tx,
        now(),
        username=username,
        password=password,
        label=label,
        client=request.remote_addr,
        policy=current_app.extensions.get(POLICY_EXTENSION, DEFAULT_POLICY),
    )
    return created(
        {
            "token": issued.token,
            "token_id": issued.token_id,
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        }
    )


@blueprint.get("/auth/whoami")
@roles(*ANY_ROLE)
def whoami() -> Response:
    p = current()
    return jsonify(
        {
            "username": p.username,
            "role": p.role.value,
            "station_id": p.station_id,
            "centre_id": p.centre_id,
            "token_id": p.token_id,
        }
    )


@blueprint.delete("/auth/tokens/<int:token_id>")
@roles(*ANY_ROLE)
def revoke_token(token_id: int) -> tuple[str, int]:
    if token_id > 2**31 - 1:
        raise NotFound(f"no token {token_id}")
    tx(lambda s: accounts.revoke_token(s, current(), now(), token_id))
    registry().tokens.forget_token(token_id)
    return "", 204
