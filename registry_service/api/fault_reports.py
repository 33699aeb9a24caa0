"""Reading a station's fault reports (schemas/station-fault-report.md) without ever refusing one.

Unlike every other body the registry reads, a report that does not validate is not an error: each
field that parses is kept, each that does not is noted in `problems` (the report is then stored as
malformed, with its own JSON). Only the envelope can be refused: see `reports_of`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from registry_service.api import parse
from registry_service.errors import InvalidInput
from registry_service.services.station_faults import MAX_DETAIL, MAX_PAYLOAD, MAX_REPORTS, UNITS, FaultReportIn, storable

FIELDS = frozenset(
    {
        "schema",
        "report_id",
        "kind",
        "code",
        "pump",
        "occurred_at",
        "cleared_at",
        "detail",
        "subject_id",
        "payload_sha256",
        "payload_b64",
        "quantity",
        "unit",
        "totaliser",
    }
)
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}\Z")


def reports_of(body: Mapping[str, Any]) -> list[FaultReportIn]:
    """The reports of a request body. The envelope is the only thing refused (besides credentials)."""
    reports = body.get("reports")
    if not isinstance(reports, list) or not 1 <= len(reports) <= MAX_REPORTS:
        raise InvalidInput(f"reports must be a list of 1 to {MAX_REPORTS} reports")
    return [read_report(report) for report in reports]


def read_report(report: Any) -> FaultReportIn:
    raw = json.dumps(report, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if not isinstance(report, dict):
        return FaultReportIn(raw=raw, problems=("report: is not a JSON object",))
    values: dict[str, Any] = {}
    problems: list[str] = []
    unknown = sorted(str(key) for key in report if key not in FIELDS)
    if unknown:
        problems.append(f"report: unknown field(s) {', '.join(unknown)[:200]}")
    schema = report.get("schema")
    if isinstance(schema, int) and not isinstance(schema, bool) and -(2**31) <= schema < 2**31:
        values["schema_version"] = schema
    else:
        problems.append("schema: must be an integer")
    detail = report.get("detail", "")
    if isinstance(detail, str):
        values["detail"] = storable(detail)[:MAX_DETAIL]  # a long detail is cut, not refused
    else:
        problems.append("detail: must be a string")
    readers = (
        ("report_uuid", lambda: parse.event_uuid(report.get("report_id"), "report_id")),
        ("kind", lambda: _text(report, "kind", 32, required=True)),
        ("code", lambda: _text(report, "code", 64, required=True)),
        ("subject_id", lambda: _text(report, "subject_id", 64, required=False)),
        ("pump", lambda: parse.integer(report, "pump", required=False, nullable=True, low=1, high=64)),
        ("occurred_at", lambda: parse.timestamp(report.get("occurred_at"), "occurred_at")),
        ("cleared_at", lambda: None if report.get("cleared_at") is None else parse.timestamp(report["cleared_at"], "cleared_at")),
    )
    for key, read in readers:
        try:
            values[key] = read()
        except InvalidInput as error:
            problems.append(error.detail)
    values.update(_payload(report, problems))
    values.update(_metered(report, problems))
    return FaultReportIn(raw=raw, problems=tuple(problems), **values)


def _text(report: Mapping[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    value = report.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key} must be a non-empty string")
    if len(value.strip()) > limit:
        raise InvalidInput(f"{key} is longer than {limit} characters")
    return storable(value.strip())


def _metered(report: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """quantity and totaliser (finite JSON numbers >= 0) and their unit, which goes with either."""
    values: dict[str, Any] = {}
    for key in ("quantity", "totaliser"):
        value = report.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            problems.append(f"{key} must be a number >= 0")
        else:
            values[key] = float(value)
    unit = report.get("unit")
    if unit is not None and unit not in UNITS:
        problems.append(f"unit must be one of {', '.join(UNITS)}")
    elif (unit is None) != (report.get("quantity") is None and report.get("totaliser") is None):
        problems.append("unit must be given exactly when quantity or totaliser is")
    if unit in UNITS:
        values["unit"] = unit
    return values


def _payload(report: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """The refused bytes (up to 16 KiB) and their hash; the hash alone when they are larger."""
    values: dict[str, Any] = {}
    given = report.get("payload_sha256")
    if given is not None:
        if isinstance(given, str) and SHA256_HEX.match(given):
            values["payload_sha256"] = given.lower()
        else:
            problems.append("payload_sha256 must be 64 hex digits")
    encoded = report.get("payload_b64")
    if encoded is None:
        return values
    try:
        if not isinstance(encoded, str):
            raise ValueError("not a string")
        payload = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        problems.append("payload_b64 is not base64")
        return values
    digest = hashlib.sha256(payload).hexdigest()
    if values.get("payload_sha256", digest) != digest:
        problems.append("payload_sha256 does not match payload_b64")
    values["payload_sha256"] = digest
    if len(payload) <= MAX_PAYLOAD:
        values["payload"] = payload
    return values
