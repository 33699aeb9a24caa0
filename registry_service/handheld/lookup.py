"""POST /verify/lookup: the manual entry of a cylinder ID where the phone cannot read the tag.

Anonymous, so it answers only what the tag in hand would show: the decision, its reason codes and
the next inspection date, by the same rules as a station's status request
(services/cylinders.cylinder_status, "today" in the registry's zone). Never the owner, the plate,
the tag UID or the state. An unknown ID gets an answer of the same shape (refuse, "unregistered",
no date), so the answer says nothing about a cylinder beyond what its verdict says; walking the ID
space is what the per-client limit (limiter.py) makes slow: the limit is spent before the body is
read, so malformed requests cost the same.
"""

from __future__ import annotations

from typing import Any, Final

from flask import Flask, Response, current_app, jsonify, request

from registry_service.api import parse
from registry_service.api.common import now
from registry_service.handheld.limiter import LookupLimiter
from registry_service.node import registry
from registry_service.services import cylinders
from registry_service.services.cylinders import StatusQuery
from tag_tools import rules

LIMITER: Final = "handheld_lookup_limiter"


def install_limiter(app: Flask, limiter: LookupLimiter | None = None) -> LookupLimiter:
    """The app's lookup limiter (a fresh one per app; tests pass one with their own clock)."""
    app.extensions[LIMITER] = limiter = limiter or LookupLimiter()
    return limiter


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """The anonymous part of one cylinder's status answer."""
    return {
        "cylinder_id": result["cylinder_id"],  # the canonical form of what was typed
        "decision": result["decision"],
        "reasons": list(result["reasons"]),
        "next_due": result.get("next_due"),
    }


def lookup() -> Response:
    limiter: LookupLimiter = current_app.extensions[LIMITER]
    limiter.take(request.remote_addr or "unknown")
    body = parse.json_body()
    parse.only_fields(body, {"cylinder_id"})
    cylinder_id = parse.cylinder_id(body.get("cylinder_id"), "cylinder_id")
    config = registry().config
    today = rules.local_today(now(), registry().default_zone)
    status = registry().status_read(
        lambda reads: cylinders.cylinder_status(reads, [StatusQuery(cylinder_id, None)], None, today, config.due_soon_days)
    )
    response = jsonify(answer(status["cylinders"][0]))
    response.headers["Cache-Control"] = "no-store"
    return response
