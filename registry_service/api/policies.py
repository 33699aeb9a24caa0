"""Central station policies (schemas/station-policy.md): the bureau sets them per station or per
region, the station fetches its signed document.

After a bureau write commits, the documents of the stations it changed are signed at once when a
signer socket is configured (the answer's `publication` says how that went); otherwise, or when the
signer refuses or is away, the background publisher or `cylinder-registry publish-policies` does it.
The station's document is served exactly as signed, like the status lists: stations verify it
themselves, so this endpoint needs no more trust than a file server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from list_signer.client import SignerClient
from registry_service.api import parse
from registry_service.api.common import now, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import policies
from registry_service.services.places import station_by_code
from tag_tools.errors import PolicyError
from tag_tools.station_policy import MAX_REFILL_INTERVAL, MAX_WARNING_DAYS, Mode, PolicyTerms, reasons_of

blueprint = Blueprint("policies", __name__)
CONTENT_TYPE = "application/cose; cose-type=cose-sign1"
FIELDS = {"mode", "warning_days", "overridable", "min_refill_interval_min", "note"}


@blueprint.get("/stations/<station_code>/policy")
@roles(Role.STATION, Role.BUREAU)
def station_policy(station_code: str) -> Response:
    parse.query_args(())
    _code(station_code)
    principal = current()

    def work(session):  # type: ignore[no-untyped-def]
        principal.require_station(station_by_code(session, station_code).id)
        document = policies.document_for_station(session, station_code)
        return document.sequence, document.blob

    sequence, blob = tx(work)
    etag = f'"{sequence}"'
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers={"ETag": etag})
    return Response(blob, content_type=CONTENT_TYPE, headers={"ETag": etag, "X-Policy-Sequence": str(sequence)})


@blueprint.get("/bureau/policies")
@roles(Role.BUREAU)
def list_policies() -> Response:
    parse.query_args(())
    return jsonify({"policies": tx(policies.list_policies)})


@blueprint.get("/bureau/stations/<station_code>/policy")
@roles(Role.BUREAU)
def station_view(station_code: str) -> Response:
    parse.query_args(())
    _code(station_code)
    return jsonify(tx(lambda s: policies.station_view(s, station_code)))


@blueprint.put("/bureau/stations/<station_code>/policy")
@roles(Role.BUREAU)
def set_station_policy(station_code: str) -> Response:
    return _set(station_code, station_code=station_code)


@blueprint.delete("/bureau/stations/<station_code>/policy")
@roles(Role.BUREAU)
def clear_station_policy(station_code: str) -> Response:
    return _clear("station", station_code, station_code=station_code)


@blueprint.put("/bureau/regions/<code>/policy")
@roles(Role.BUREAU)
def set_region_policy(code: str) -> Response:
    return _set(code, region_code=code)


@blueprint.delete("/bureau/regions/<code>/policy")
@roles(Role.BUREAU)
def clear_region_policy(code: str) -> Response:
    return _clear("region", code, region_code=code)


def _set(code: str, **scope: str) -> Response:
    """Set the policy of the station or region `scope` names (station_code= or region_code=)."""
    _code(code)
    terms, note = _terms()
    policy = tx(lambda s: policies.set_policy(s, current(), now(), terms, note=note, **scope))
    return jsonify({"policy": policy, "publication": _publish()})


def _clear(kind: str, code: str, **scope: str) -> Response:
    _code(code)
    tx(lambda s: policies.clear_policy(s, current(), now(), **scope))
    return jsonify({"cleared": {"scope": kind, "code": code}, "publication": _publish()})


def _code(code: str) -> None:
    if not parse.CODE.match(code):
        raise InvalidInput("not a code")


def _terms() -> tuple[PolicyTerms, str]:
    body = parse.json_body()
    parse.only_fields(body, FIELDS)
    mode = body.get("mode")
    if mode is not None and (not isinstance(mode, str) or mode not in {m.value for m in Mode}):
        raise InvalidInput(f"mode must be one of: {', '.join(Mode)}")
    days = parse.integer(body, "warning_days", required=False, high=MAX_WARNING_DAYS, nullable=True)
    minutes = parse.integer(
        body, "min_refill_interval_min", required=False, high=int(MAX_REFILL_INTERVAL.total_seconds() // 60), nullable=True
    )
    codes = body.get("overridable")
    if codes is not None and not isinstance(codes, list):
        raise InvalidInput("overridable must be an array of reason codes")
    note = parse.text(body, "note", required=False, max_len=400) or ""
    try:
        terms = PolicyTerms(
            mode=Mode(mode) if mode is not None else None,
            warning_days=days,
            overridable=reasons_of(codes) if codes is not None else None,
            min_refill_interval=timedelta(minutes=minutes) if minutes is not None else None,
        )
    except PolicyError as error:
        raise InvalidInput(str(error)) from None
    if terms.empty:
        raise InvalidInput("set at least one of mode, warning_days, overridable, min_refill_interval_min (DELETE clears)")
    return terms, note


def _publish() -> dict[str, Any]:
    """Sign what the write changed now, when this registry has a signer; else say it waits."""
    socket = registry().config.signer_socket
    if socket is None:
        return {"result": "waiting", "sequence": None, "count": 0, "detail": "no signer socket configured"}
    return policies.publish_pending(registry().transaction, SignerClient(socket), now()).to_json()
