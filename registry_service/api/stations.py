"""Stations: scan-event batches, fault reports, the trust list and the revocation delta feed. The
cylinder status (one request per vehicle) is api/status.py's, answered in front of Flask."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from registry_service import metrics
from registry_service.api import fault_reports, heartbeats, parse, wire_time
from registry_service.api.common import now, station_tx, tx
from registry_service.api.event_input import parse_event
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput
from registry_service.models import Role
from registry_service.node import registry
from registry_service.services import cylinders, events, station_faults, station_health, trust
from registry_service.services.places import station_by_code
from registry_service.services.rollups import Reckoning

blueprint = Blueprint("stations", __name__)


@blueprint.post("/stations/<station_code>/scan-events")
@roles(Role.STATION)
def upload_events(station_code: str) -> Response:
    config = registry().config
    body = parse.json_body()
    parse.only_fields(body, {"events", "heartbeat"})
    raw = body.get("events")
    if not isinstance(raw, list) or not 1 <= len(raw) <= config.max_scan_batch:
        raise InvalidInput(f"events must be a list of 1 to {config.max_scan_batch} events")
    batch = [parse_event(item, index) for index, item in enumerate(raw)]
    # The agent's heartbeat rides on an upload that goes anyway (schemas/station-heartbeat.md).
    heartbeat = heartbeats.read_heartbeat(body["heartbeat"], "heartbeat: ") if "heartbeat" in body else None
    principal = current()
    received_at = now()

    def work(session):  # type: ignore[no-untyped-def]
        station = station_by_code(session, station_code)
        principal.require_station(station.id)
        if heartbeat is not None:
            station_health.record_heartbeat(session, station.id, heartbeat, received_at)
        return events.ingest(session, station.id, batch, received_at, Reckoning.of(config))

    counts = station_tx(work)
    metrics.of_app().ingested(counts)  # after the commit: a retried transaction counts once
    # registry_time: the station measures its clock offset by it (api/wire_time.py).
    return jsonify({**counts, "registry_time": wire_time.registry_time(received_at)})


@blueprint.post("/stations/<station_code>/faults")
@roles(Role.STATION)
def upload_faults(station_code: str) -> Response:
    """Fault and rejected-event reports (schemas/station-fault-report.md): every report is stored,
    one that does not validate as malformed; only the envelope and the credential are refused."""
    reports = fault_reports.reports_of(parse.json_body())
    principal = current()

    def work(session):  # type: ignore[no-untyped-def]
        station = station_by_code(session, station_code)
        principal.require_station(station.id)
        return station_faults.record_reports(session, station, reports, now(), registry().config.meter_tolerance)

    return jsonify(station_tx(work))


@blueprint.get("/trust-list")
@roles(Role.STATION, Role.CENTRE, Role.BUREAU)
def get_trust_list() -> Response:
    parse.query_args(())
    row = tx(trust.current_or_404)
    etag = f'"{row.sha256}"'
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers={"ETag": etag})
    response = Response(row.blob, content_type="application/cose; cose-type=cose-sign1")
    response.headers["ETag"] = etag
    response.headers["X-Trust-List-Sequence"] = str(row.list_sequence)
    return response


@blueprint.put("/trust-list")
@roles(Role.BUREAU)
def publish_trust_list() -> tuple[Response, int]:
    if request.mimetype not in ("application/cose", "application/octet-stream"):
        raise parse.UnsupportedMediaType("send the signed trust list as application/cose or application/octet-stream")
    blob = request.get_data(cache=False)
    if not blob:
        raise InvalidInput("the body is empty")
    config = registry().config
    row = tx(lambda s: trust.publish(s, current(), now(), blob, config.bureau_root_pem))
    return jsonify(
        {
            "sequence": row.list_sequence,
            "sha256": row.sha256,
            "issued_at": row.issued_at.isoformat() if row.issued_at else None,
            "expires_at": row.next_update.isoformat() if row.next_update else None,
        }
    ), 201


@blueprint.get("/revocations")
@roles(Role.STATION, Role.CENTRE, Role.BUREAU)
def revocations() -> Response:
    config = registry().config
    args = parse.query_args({"since", "limit"})
    since = parse.query_int(args, "since", 0, 0, 2**31 - 1)
    limit = parse.query_int(args, "limit", 500, 1, config.max_page_size)
    return jsonify(tx(lambda s: cylinders.revocations_since(s, since, limit)))
