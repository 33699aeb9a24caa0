"""The bureau: refuel attempts, aggregates, station ranking and suspected clones (JSON or CSV);
inspection centres and their certificates."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from registry_service.api import event_filter, parse
from registry_service.api.common import created, csv_response, now, report_tx, tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput, NotFound
from registry_service.models import CentreCertificate, InspectionCentre, Outcome, Role
from registry_service.node import registry
from registry_service.services import clones, places, queries, station_faults

blueprint = Blueprint("bureau", __name__)
FILTERS = {
    "since",
    "until",
    "outcome",
    "reason",
    "region",
    "station",
    "plate",
    "cylinder_id",
    "tag_uid",
    "decided_offline",
    "format",
}
EVENT_COLUMNS = [
    "event_id",
    "occurred_at",
    "station",
    "station_name",
    "pump",
    "cylinder_id",
    "tag_uid",
    "read_counter",
    "plate",
    "decision",
    "outcome",
    "reasons",
    "attendant",
    "supervisor",
    "override_reason",
    "decided_offline",
    "session_id",
    "station_time",
    "clock_offset_ms",
    "clock_skewed",
]
GROUP_COLUMNS = ["key", "name", "total", *(o.value for o in Outcome)]
GROUP_BY = ("station", "cell", "district", "day")  # what queries.aggregate_statement groups by


def _filter(args: dict[str, str]) -> queries.EventFilter:
    parse.filled(args)
    return event_filter.from_query(
        args, since=parse.optional_timestamp(args, "since"), until=parse.optional_timestamp(args, "until")
    )


def _wants_csv(args: dict[str, str]) -> bool:
    fmt = args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidInput("format must be json or csv")
    return fmt == "csv"


@blueprint.get("/bureau/refuel-attempts")
@roles(Role.BUREAU)
def refuel_attempts() -> Response:
    args = parse.query_args(FILTERS | {"limit", "cursor", "clock_skewed"})
    flt = _filter(args)
    limit = parse.query_int(args, "limit", 100, 1, registry().config.max_page_size)
    cursor = _cursor(args)
    result = report_tx(lambda s: queries.refuel_attempts(s, flt, now(), limit, cursor))
    if _wants_csv(args):
        return csv_response(result["attempts"], EVENT_COLUMNS, "refuel-attempts.csv")
    return jsonify(result)


@blueprint.get("/bureau/aggregates")
@roles(Role.BUREAU)
def aggregates() -> Response:
    args = parse.query_args(FILTERS | {"group_by"})
    flt = _filter(args)
    group_by = args.get("group_by", "station")
    # Checked here, first: the query checks it only when it runs, and the value names the CSV file
    # (Content-Disposition), where a newline or a non-Latin-1 character breaks the answer.
    if group_by not in GROUP_BY:
        raise InvalidInput(f"group_by must be one of: {', '.join(GROUP_BY)}")
    offset = registry().config.report_utc_offset_hours
    result = report_tx(lambda s: queries.aggregate(s, flt, now(), group_by, offset))
    if _wants_csv(args):
        return csv_response(result["groups"], GROUP_COLUMNS, f"aggregates-by-{group_by}.csv")
    return jsonify(result)


@blueprint.get("/bureau/station-ranking")
@roles(Role.BUREAU)
def station_ranking() -> Response:
    args = parse.query_args(FILTERS | {"limit"})
    flt = _filter(args)
    limit = parse.query_int(args, "limit", 50, 1, registry().config.max_page_size)
    offset = registry().config.report_utc_offset_hours
    result = report_tx(lambda s: queries.station_ranking(s, flt, now(), limit, offset))
    if _wants_csv(args):
        return csv_response(result["stations"], [*GROUP_COLUMNS, "override_rate"], "station-ranking.csv")
    return jsonify(result)


@blueprint.get("/bureau/suspected-clones")
@roles(Role.BUREAU)
def suspected_clones() -> Response:
    args = parse.query_args(FILTERS | {"limit"})
    flt = _filter(args)
    config = registry().config
    limit = parse.query_int(args, "limit", 200, 1, config.max_page_size)
    result = report_tx(lambda s: clones.suspected_clones(s, flt, now(), limit))
    if _wants_csv(args):
        columns = ["kind", "key_type", "key", "at", "station", "previous_at", "previous_station", "event_id", "detail"]
        return csv_response(result["suspects"], columns, "suspected-clones.csv")
    return jsonify(result)


@blueprint.get("/bureau/station-faults")
@roles(Role.BUREAU)
def station_fault_reports() -> Response:
    """What stations reported they could not deliver or do, newest received first."""
    args = parse.query_args({"station", "kind", "since", "until", "limit", "cursor"})
    flt = station_faults.FaultFilter(
        station=_code(args, "station"),
        kind=_code(args, "kind"),
        since=parse.optional_timestamp(args, "since"),
        until=parse.optional_timestamp(args, "until"),
    )
    limit = parse.query_int(args, "limit", 100, 1, registry().config.max_page_size)
    cursor = _cursor(args)
    return jsonify(report_tx(lambda s: station_faults.list_faults(s, flt, now(), limit, cursor)))


def _code(args: dict[str, str], key: str) -> str | None:
    value = args.get(key)
    if value is not None and not parse.CODE.match(value):
        raise InvalidInput(f"{key} is not a code")
    return value


def _cursor(args: dict[str, str]) -> str | None:
    cursor = args.get("cursor")
    if cursor is not None and len(cursor) > 200:
        raise InvalidInput("cursor is not one this registry issued")
    return cursor


@blueprint.get("/bureau/centres")
@roles(Role.BUREAU)
def list_centres() -> Response:
    parse.query_args(())

    def work(session):  # type: ignore[no-untyped-def]
        centres = session.scalars(select(InspectionCentre).order_by(InspectionCentre.code))
        return [_centre_json(session, c) for c in centres]

    return jsonify({"centres": tx(work)})


def _centre_json(session: Any, centre: InspectionCentre) -> dict[str, Any]:
    certs = session.scalars(
        select(CentreCertificate).where(CentreCertificate.centre_id == centre.id).order_by(CentreCertificate.id)
    )
    return {
        "code": centre.code,
        "name": centre.name,
        "active": centre.active,
        "certificates": [
            {
                "fingerprint": c.fingerprint,
                "kid": c.kid,
                "subject": c.subject,
                "not_before": c.not_before.isoformat(),
                "not_after": c.not_after.isoformat(),
                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in certs
        ],
    }


@blueprint.post("/bureau/centres")
@roles(Role.BUREAU)
def create_centre() -> tuple[Response, int]:
    body = parse.json_body()
    parse.only_fields(body, {"code", "name", "region"})
    code = parse.required_text(body, "code", max_len=32, pattern=parse.CODE)
    name = parse.required_text(body, "name", max_len=200)
    region = parse.text(body, "region", required=False, max_len=64, pattern=parse.CODE)
    return created(
        tx(lambda s: _centre_json(s, places.create_centre(s, current(), now(), code=code, name=name, region_code=region)))
    )


@blueprint.put("/bureau/centres/<code>/active")
@roles(Role.BUREAU)
def set_centre_active(code: str) -> Response:
    """Suspend (false) or reinstate (true) a centre: a suspended centre cannot submit inspections."""
    if not parse.CODE.match(code):
        raise InvalidInput("not a centre code")
    body = parse.json_body()
    parse.only_fields(body, {"active", "reason"})
    if "active" not in body:
        raise InvalidInput("active is required")
    active = parse.boolean(body, "active", True)
    reason = parse.required_text(body, "reason", max_len=400)
    return jsonify(tx(lambda s: _centre_json(s, places.set_centre_active(s, current(), now(), code, active, reason))))


@blueprint.post("/bureau/certificates/<fingerprint>/revocation")
@roles(Role.BUREAU)
def revoke_certificate(fingerprint: str) -> tuple[Response, int]:
    if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
        raise InvalidInput("fingerprint is the SHA-256 of the DER certificate, 64 lower-case hex digits")
    body = parse.json_body()
    parse.only_fields(body, {"reason"})
    reason = parse.required_text(body, "reason", max_len=400)

    def work(session):  # type: ignore[no-untyped-def]
        from registry_service.services import audit

        cert = session.scalar(select(CentreCertificate).where(CentreCertificate.fingerprint == fingerprint))
        if cert is None:
            raise NotFound("no such certificate")
        if cert.revoked_at is None:
            cert.revoked_at = now()
            audit.record(session, current(), "revoke_certificate", "centre_certificate", fingerprint, now(), reason=reason)
        return {"fingerprint": fingerprint, "revoked_at": cert.revoked_at.isoformat()}

    return created(tx(work))
