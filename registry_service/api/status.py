"""POST /api/v1/status: the registry's status of a vehicle's cylinders, asked before every fill.

It is the registry's hottest request, so `StatusFastPath` answers it straight from the WSGI
environ, in front of Flask: the request context, URL matching, session and response objects
cost more than the status lookup itself (docs/performance.md has the numbers). Everything else
about the endpoint is the same as for any other: the same token authentication and roles, the same
validation helpers, RFC 9457 problems for every error. It is the only code path: `install`
registers the route in the Flask URL map (so the OpenAPI document, schemathesis and the
authorisation matrix see the endpoint) together with the middleware that answers it, and the
route's view is never reached.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from http import HTTPStatus
from typing import Any, NoReturn

from flask import Flask
from sqlalchemy.orm import Session

from registry_service.api import json_input, parse, wire_time
from registry_service.api.event_input import parse_event
from registry_service.api.heartbeats import read_heartbeat
from registry_service.auth import Principal, bearer_token_in
from registry_service.errors import Forbidden, InvalidInput, RegistryError
from registry_service.metrics import RegistryMetrics
from registry_service.models import Role
from registry_service.node import Registry
from registry_service.problems import encode_text, problem_document, problem_for
from registry_service.services import cylinders, events, station_health
from registry_service.services.cylinders import StatusQuery
from registry_service.services.events import ScanEventIn
from registry_service.services.rollups import Reckoning
from registry_service.services.station_health import HeartbeatIn
from tag_tools import identifiers, rules

log = logging.getLogger(__name__)

PATH = "/api/v1/status"
STATUS_ROLES = frozenset({Role.STATION, Role.BUREAU})
FIELDS = frozenset({"plate", "cylinders", "timezone", "events", "heartbeat"})
RECORDED = "recorded"  # the answer's "heartbeat" when it was stored

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class PayloadTooLarge(RegistryError):
    status = 413
    type_slug = "request-entity-too-large"
    title = "Request Entity Too Large"


@dataclass(frozen=True)
class StatusRequest:
    plate: str | None
    items: list[StatusQuery]
    zone: tzinfo | None  # the station's zone, whose date is "today"; None: the registry's default
    riders: list[ScanEventIn] = field(default_factory=list)  # the station's pending events, riding along
    riders_problem: str | None = None  # why the riders were not taken (the status is answered anyway)
    heartbeat: HeartbeatIn | None = None  # the agent's heartbeat, riding along (schemas/station-heartbeat.md)
    heartbeat_problem: str | None = None  # why it was not taken (the status is answered anyway)

    carries: bool = False  # anything rides along, good or bad: the answer then says what became of it


def parse_status_request(body: Any, max_cylinders: int, max_events: int = 0) -> StatusRequest:
    """The plate, the cylinders asked about and the station's zone, every field checked
    (InvalidInput names the field)."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    parse.only_fields(body, FIELDS)
    plate = parse.optional_identifier(body, "plate", identifiers.plate)
    zone = wire_time.time_zone(body["timezone"], "timezone") if "timezone" in body else None
    raw = body.get("cylinders", [])
    if not isinstance(raw, list) or len(raw) > max_cylinders:
        raise InvalidInput(f"cylinders must be a list of at most {max_cylinders} items")
    if not raw and not plate:
        raise InvalidInput("give a plate, cylinders, or both")
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(f"cylinders[{index}] must be an object")
        parse.only_fields(item, {"cylinder_id", "tag_uid", "record_sequence"})
        cylinder_id = parse.optional_identifier(item, "cylinder_id", identifiers.cylinder_id)
        tag_uid = parse.tag_uid(item["tag_uid"], f"cylinders[{index}].tag_uid") if "tag_uid" in item else None
        if not cylinder_id and not tag_uid:
            raise InvalidInput(f"cylinders[{index}] needs cylinder_id or tag_uid")
        sequence = parse.integer(item, "record_sequence", required=False, low=0, high=2**32 - 1)
        items.append(StatusQuery(cylinder_id, tag_uid, sequence))
    riders, problem = _riders(body.get("events"), max_events)
    heartbeat, heartbeat_problem = _heartbeat(body["heartbeat"]) if "heartbeat" in body else (None, None)
    carries = "events" in body or "heartbeat" in body
    return StatusRequest(plate, items, zone, riders, problem, heartbeat, heartbeat_problem, carries)


def _riders(raw: Any, max_events: int) -> tuple[list[ScanEventIn], str | None]:
    """Scan events riding on the status request, so that a busy station needs no upload request of
    its own. A bad rider never costs the station its status answer: the riders are then refused as
    a whole (`riders_problem`) and the station sends them on the upload path, which names the bad one."""
    if raw is None:
        return [], None
    if not isinstance(raw, list) or len(raw) > max_events:
        return [], f"events must be a list of at most {max_events} events"
    try:
        riders = [parse_event(item, index) for index, item in enumerate(raw)]
        for index, rider in enumerate(riders):  # here, not in the transaction: a bad rider never costs the heartbeat
            rider.check(index)
        return riders, None
    except InvalidInput as error:
        return [], error.detail


def _heartbeat(raw: Any) -> tuple[HeartbeatIn | None, str | None]:
    """The agent's heartbeat riding on the status request, so that a busy pump sends none alone. A
    bad one never costs the status answer: the answer names the field instead."""
    try:
        return read_heartbeat(raw, "heartbeat: "), None
    except InvalidInput as error:
        return None, error.detail


def answer_status(registry: Registry, environ: dict[str, Any], metrics: RegistryMetrics) -> tuple[int, Headers, bytes]:
    """The whole endpoint: status code, headers and body. Never raises."""
    try:
        principal = registry.authenticate(bearer_token_in(environ.get("HTTP_AUTHORIZATION", "")))
        if principal.role not in STATUS_ROLES:
            raise Forbidden(f"role {principal.role.value} may not call this endpoint")
        config = registry.config
        asked = parse_status_request(
            _json_body(environ, config.max_body_bytes), config.max_status_cylinders, config.max_status_events
        )
        now = registry.clock()
        today = rules.local_today(now, asked.zone or registry.default_zone)
        result = registry.status_read(
            lambda reads: cylinders.cylinder_status(reads, asked.items, asked.plate, today, config.due_soon_days)
        )
        result["registry_time"] = wire_time.registry_time(now)  # the station measures its clock offset by it
        if asked.carries:  # the common read carries nothing: no transaction
            result.update(_take_riders(registry, principal, asked, now, metrics))
        # encode_text: a problem text may quote a lone surrogate the station sent
        body = encode_text(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
        return 200, [("Content-Type", "application/json")], body
    except RegistryError as error:
        body, headers = problem_for(error, PATH)
        return error.status, headers, body
    except Exception:
        log.exception("unhandled error answering a status request")
        body, headers = problem_document(500, "internal", "Internal error", "an unexpected error was logged", PATH)
        return 500, headers, body


def _take_riders(
    registry: Registry, principal: Principal, asked: StatusRequest, now: datetime, metrics: RegistryMetrics
) -> dict[str, Any]:
    """Store the riding events like an upload would, and the heartbeat like its own request would,
    in one station transaction; the answer's "events" and "heartbeat" members say what became of
    each. Any failure is told there, never raised: the status is what the pump waits for, the
    events can travel again and the agent sends the heartbeat alone."""
    answer: dict[str, Any] = {}
    riders = bool(asked.riders) and asked.riders_problem is None
    if asked.riders_problem is not None:
        answer["events"] = {"error": asked.riders_problem}
    if asked.heartbeat_problem is not None:
        answer["heartbeat"] = asked.heartbeat_problem
    heartbeat = asked.heartbeat
    if not riders and heartbeat is None:
        return answer
    station_id = principal.station_id
    if principal.role is not Role.STATION or station_id is None:
        refused = "only a station's own credential may send events or a heartbeat"
        return {**answer, **({"events": {"error": refused}} if riders else {}), **({"heartbeat": refused} if heartbeat else {})}
    reckoning = Reckoning.of(registry.config) if riders else None

    def work(session: Session) -> dict[str, int] | None:
        if heartbeat is not None:  # the credential's own station: a heartbeat names no station
            station_health.record_heartbeat(session, station_id, heartbeat, now)
        return events.ingest(session, station_id, asked.riders, now, reckoning) if reckoning is not None else None

    try:
        counts = registry.station_transaction(work)
    except RegistryError as error:
        return {
            **answer,
            **({"events": {"error": error.title}} if riders else {}),
            **({"heartbeat": error.title} if heartbeat else {}),
        }
    if counts is not None:
        metrics.ingested(counts)
        answer["events"] = dict(counts)
    if heartbeat is not None:
        answer["heartbeat"] = RECORDED
    return answer


def _json_body(environ: dict[str, Any], max_bytes: int) -> Any:
    media_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not (media_type.startswith("application/") and media_type.endswith("+json")):
        raise parse.UnsupportedMediaType("send a JSON body with Content-Type: application/json")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput("Content-Length is not a number") from None
    if length > max_bytes:
        raise PayloadTooLarge("The data value transmitted exceeds the capacity limit.")
    if length < 0:
        raise InvalidInput("Content-Length is negative")
    # json_input.loads: a deeply nested body is a 422, not a RecursionError (a 500).
    return json_input.loads(environ["wsgi.input"].read(length)) if length > 0 else None


class StatusFastPath:
    """WSGI middleware: POST /api/v1/status here, everything else (other methods too) to Flask."""

    def __init__(self, flask_wsgi_app: WsgiApp, registry: Registry, metrics: RegistryMetrics) -> None:
        self.flask_wsgi_app = flask_wsgi_app
        self.registry = registry
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.flask_wsgi_app(environ, start_response)
        started = time.perf_counter()
        status, headers, body = answer_status(self.registry, environ, self.metrics)
        self.metrics.request(PATH, "POST", status, time.perf_counter() - started)
        self.metrics.status_check(status)
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]


def _answered_by_the_fast_path() -> NoReturn:
    """The view of POST /api/v1/status in the URL map. StatusFastPath answers every such request
    before Flask routes it, and `install` registers the two together, so this never runs."""
    raise RuntimeError("POST /api/v1/status reached Flask: the status fast path is not installed")


_answered_by_the_fast_path.allowed_roles = STATUS_ROLES  # type: ignore[attr-defined]  # as @roles records


def install(app: Flask, registry: Registry, metrics: RegistryMetrics) -> None:
    """List POST /api/v1/status in the app's URL map and put the fast path that answers it in front
    of Flask: one step, so no app has the route without the fast path."""
    app.add_url_rule(PATH, endpoint="status", view_func=_answered_by_the_fast_path, methods=["POST"])
    app.wsgi_app = StatusFastPath(app.wsgi_app, registry, metrics)  # type: ignore[method-assign]
