"""A station agent's heartbeat (schemas/station-heartbeat.md): sent alone to
POST /stations/{code}/heartbeats, or riding on a scan-event upload as its "heartbeat" member.
Every field is checked; anything else is a 422 naming the field.

A heartbeat sent alone may carry the station's pending fault reports as its "reports" member
(so that a quiet pump needs no separate /faults request): read exactly as POST /faults reads
them (api/fault_reports.py: a bad report is stored as malformed, only a bad envelope is a 422)
and stored in the heartbeat's own transaction."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from registry_service.api import fault_reports, parse, wire_time
from registry_service.api.common import now, station_tx
from registry_service.auth import current, roles
from registry_service.errors import InvalidInput, NotFound
from registry_service.models import Role, Station
from registry_service.node import registry
from registry_service.services import station_faults, station_health
from registry_service.services.station_health import HeartbeatIn

blueprint = Blueprint("heartbeats", __name__)

SCHEMA = 1
REPORTS = "reports"  # the fault reports riding on a heartbeat sent alone (not part of the heartbeat itself)
FIELDS = frozenset(
    {
        "schema",
        "pump",
        "sent_at",
        "agent_version",
        "policy",
        "trust_list_sequence",
        "status_list_sequences",
        "clock_offset_ms",
        "reader",
        "interlock",
        "pump_enabled",
        "outbox_backlog",
        "last_fill_at",
        "totaliser",
        "faults",
    }
)
POLICY_FIELDS = frozenset({"mode", "sequence", "sha256"})
TOTALISER_FIELDS = frozenset({"value", "unit"})
SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")
LIST_ID = re.compile(r"^(0|[1-9][0-9]{0,9})\Z")
MAX_SEQUENCE = 2**53 - 1  # what a JSON number holds exactly
MAX_TOTALISER = 1e15  # far beyond any dispenser; also keeps a 400-digit integer from overflowing float()
MAX_STATUS_LISTS = 64
MAX_FAULTS = 32
MODES = ("enforce", "monitor")
READER_STATES = ("ok", "lost")
INTERLOCK_STATES = ("ok", "fault")
UNITS = ("kg", "Nm3")


@blueprint.post("/stations/<station_code>/heartbeats")
@roles(Role.STATION)
def post_heartbeat(station_code: str) -> Response:
    body = parse.json_body()
    heartbeat = read_heartbeat({key: value for key, value in body.items() if key != REPORTS})
    # The envelope is checked before anything is stored: a bad one refuses the whole request.
    reports = fault_reports.reports_of(body) if REPORTS in body else None
    principal = current()
    received_at = now()
    tolerance = registry().config.meter_tolerance

    def work(session):  # type: ignore[no-untyped-def]
        station = _station(session, station_code)
        principal.require_station(station.id)
        station_health.record_heartbeat(session, station.id, heartbeat, received_at)
        return None if reports is None else station_faults.record_reports(session, station, reports, received_at, tolerance)

    counts = station_tx(work)
    answer: dict[str, Any] = {"registry_time": wire_time.registry_time(received_at)}
    if counts is not None:
        answer[REPORTS] = counts  # the agent marks the reports sent only when these count them all
    return jsonify(answer)


_STATIONS: Table = Station.__table__  # type: ignore[assignment]
# A heartbeat needs the station's id and code, not the Station: a Core row by a statement built
# once is a fraction of an ORM load's CPU, and heartbeats come every minute from every pump.
_STATION_BY_CODE = select(_STATIONS.c.id, _STATIONS.c.code).where(_STATIONS.c.code == bindparam("station_code"))


def _station(session: Session, code: str) -> station_faults.StationRef:
    """The station's (id, code); NotFound as services/places.station_by_code says it."""
    station = session.connection().execute(_STATION_BY_CODE, {"station_code": code}).first()
    if station is None:
        raise NotFound(f"no station {code}")
    return station


def read_heartbeat(value: object, where: str = "") -> HeartbeatIn:
    """The checked heartbeat; InvalidInput names the field (prefixed with `where`, e.g. "heartbeat.")."""
    try:
        return _checked(value)
    except InvalidInput as error:
        raise InvalidInput(f"{where}{error.detail}") from None


def _checked(body: object) -> HeartbeatIn:
    data = _object(body, "the heartbeat", FIELDS)
    if data.get("schema") != SCHEMA or isinstance(data.get("schema"), bool):
        raise InvalidInput(f"schema must be {SCHEMA}")
    policy = _object(_required(data, "policy"), "policy", POLICY_FIELDS)
    mode = _one_of(policy, "mode", MODES, "policy.mode")
    sha256 = _required(policy, "sha256", "policy.sha256")
    if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
        raise InvalidInput("policy.sha256 must be 64 lower-case hex digits")
    totaliser, unit = _totaliser(_required(data, "totaliser"))
    last_fill = _required(data, "last_fill_at")
    agent_version = parse.text(data, "agent_version", required=True, max_len=64)
    assert agent_version is not None
    return HeartbeatIn(
        pump=_integer(data, "pump", 1, 64),
        sent_at=wire_time.station_clock(_required(data, "sent_at"), "sent_at"),
        agent_version=agent_version,
        policy_mode=mode,
        policy_sequence=_integer(policy, "sequence", 0, MAX_SEQUENCE, nullable=True, name="policy.sequence"),
        policy_sha256=sha256,
        trust_list_sequence=_integer(data, "trust_list_sequence", 0, MAX_SEQUENCE, nullable=True),
        clock_offset_ms=_integer(data, "clock_offset_ms", -MAX_SEQUENCE, MAX_SEQUENCE, nullable=True),
        reader=_one_of(data, "reader", READER_STATES),
        interlock=_one_of(data, "interlock", INTERLOCK_STATES),
        pump_enabled=_boolean(data, "pump_enabled"),
        outbox_backlog=_integer(data, "outbox_backlog", 0, MAX_SEQUENCE),
        last_fill_at=None if last_fill is None else wire_time.station_clock(last_fill, "last_fill_at"),
        totaliser=totaliser,
        totaliser_unit=unit,
        status_list_sequences=_status_lists(_required(data, "status_list_sequences")),
        faults=_faults(_required(data, "faults")),
    )


def _object(value: object, name: str, fields: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be a JSON object")
    unknown = sorted(str(key) for key in value if key not in fields)
    if unknown:
        raise InvalidInput(f"{name}: unknown field(s) {', '.join(unknown)[:200]}")
    return value


def _required(data: Mapping[str, Any], key: str, name: str | None = None) -> Any:
    """The value of a member every heartbeat carries (null where the schema allows it)."""
    if key not in data:
        raise InvalidInput(f"{name or key} is required")
    return data[key]


def _integer(data: Mapping[str, Any], key: str, low: int, high: int, *, nullable: bool = False, name: str | None = None) -> Any:
    label = name or key
    value = _required(data, key, label)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{label} must be an integer{' or null' if nullable else ''}")
    if not low <= value <= high:
        raise InvalidInput(f"{label} must be between {low} and {high}")
    return value


def _boolean(data: Mapping[str, Any], key: str) -> bool:
    value = _required(data, key)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key} must be true or false")
    return value


def _one_of(data: Mapping[str, Any], key: str, choices: tuple[str, ...], name: str | None = None) -> str:
    label = name or key
    value = _required(data, key, label)
    if value not in choices or not isinstance(value, str):
        raise InvalidInput(f"{label} must be one of: {', '.join(choices)}")
    return value


def _totaliser(value: object) -> tuple[float | None, str | None]:
    if value is None:
        return None, None
    data = _object(value, "totaliser", TOTALISER_FIELDS)
    reading = _required(data, "value", "totaliser.value")
    if isinstance(reading, bool) or not isinstance(reading, int | float) or not 0 <= reading <= MAX_TOTALISER:
        raise InvalidInput(f"totaliser.value must be a number from 0 to {MAX_TOTALISER:.0e}")
    return float(reading), _one_of(data, "unit", UNITS, "totaliser.unit")


def _status_lists(value: object) -> dict[str, int]:
    if not isinstance(value, dict) or len(value) > MAX_STATUS_LISTS:
        raise InvalidInput(f"status_list_sequences must be an object of at most {MAX_STATUS_LISTS} lists")
    sequences = {}
    for list_id in value:
        if not isinstance(list_id, str) or not LIST_ID.match(list_id):
            raise InvalidInput("status_list_sequences: each key must be a status list id (a whole number)")
        sequences[list_id] = _integer(value, list_id, 0, MAX_SEQUENCE, name=f"status_list_sequences.{list_id}")
    return sequences


def _faults(value: object) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_FAULTS
        or not all(isinstance(code, str) and parse.CODE.match(code) for code in value)
    ):
        raise InvalidInput(f"faults must be a list of at most {MAX_FAULTS} fault codes")
    return tuple(value)
