"""The one fault report a station sends when something could not be delivered or went wrong.

A rejected event, a quarantined (damaged) event and a station fault all travel as the same small,
schema-versioned JSON object, so the registry can always accept it and the bureau sees every kind in
one list. It carries what was refused (the raw bytes, or only their SHA-256 when they are large), why
and when. Pure: no I/O and no clock; the caller passes the time.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from station_agent.errors import StationAgentError

SCHEMA_VERSION = 1
KINDS = ("rejected_event", "quarantined_event", "station_fault", "station_event")
Kind = Literal["rejected_event", "quarantined_event", "station_fault", "station_event"]
UNITS = ("kg", "Nm3")  # CNG is metered by mass (kg) or by normal volume (Nm3)
MAX_DETAIL = 1000
MAX_INLINE_PAYLOAD = 16 * 1024  # larger payloads travel as their hash only: the report stays small
_CODE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class FaultReportError(StationAgentError, ValueError):
    """A fault report field is out of range (a programming error at the caller, or a damaged report)."""


def is_uuid(text: object) -> bool:
    """True for a UUID in its canonical lower-case text form (how events and reports are named)."""
    if not isinstance(text, str) or len(text) != 36:
        return False
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@dataclass(frozen=True)
class FaultReport:
    report_id: str
    kind: Kind
    code: str
    pump: int | None
    occurred_at: datetime
    detail: str
    cleared_at: datetime | None = None
    subject_id: str | None = None
    payload_sha256: str | None = None
    payload_b64: str | None = None
    quantity: float | None = None  # gas dispensed, in `unit` (fill_ended, unexplained_quantity)
    unit: str | None = None
    totaliser: float | None = None  # the dispenser's totaliser reading at the event, in `unit`

    def __post_init__(self) -> None:
        _check(is_uuid(self.report_id), "report_id must be a UUID")
        _check(self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}")
        _check(
            isinstance(self.code, str) and _CODE.fullmatch(self.code) is not None, "code must be 1-64 characters of a-z 0-9 _ . -"
        )
        _check(self.pump is None or (type(self.pump) is int and 1 <= self.pump <= 64), "pump must be 1-64 or null")
        _check(_aware(self.occurred_at), "occurred_at must be a datetime with a UTC offset")
        _check(
            self.cleared_at is None or (_aware(self.cleared_at) and self.cleared_at >= self.occurred_at),
            "cleared_at must be null or an offset datetime not before occurred_at",
        )
        _check(isinstance(self.detail, str) and len(self.detail) <= MAX_DETAIL, f"detail must be text of <= {MAX_DETAIL}")
        _check(self.subject_id is None or is_uuid(self.subject_id), "subject_id must be an event UUID or null")
        _check(
            self.payload_sha256 is None
            or (isinstance(self.payload_sha256, str) and _SHA256.fullmatch(self.payload_sha256) is not None),
            "payload_sha256 must be 64 lower-case hex digits or null",
        )
        _check(
            self.payload_b64 is None or self._inline_payload_matches(),
            f"payload_b64 must be the base64 of <= {MAX_INLINE_PAYLOAD} bytes whose SHA-256 is payload_sha256",
        )
        _check(_amount(self.quantity), "quantity must be a finite number >= 0 or null")
        _check(_amount(self.totaliser), "totaliser must be a finite number >= 0 or null")
        _check(self.unit is None or self.unit in UNITS, f"unit must be one of {', '.join(UNITS)} or null")
        _check(
            (self.unit is None) == (self.quantity is None and self.totaliser is None),
            "unit must be given exactly when quantity or totaliser is",
        )

    def _inline_payload_matches(self) -> bool:
        try:
            raw = base64.b64decode(cast(str, self.payload_b64), validate=True)
        except (ValueError, TypeError):
            return False
        return len(raw) <= MAX_INLINE_PAYLOAD and hashlib.sha256(raw).hexdigest() == self.payload_sha256

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "report_id": self.report_id,
            "kind": self.kind,
            "code": self.code,
            "pump": self.pump,
            "occurred_at": self.occurred_at.isoformat(),
            "cleared_at": None if self.cleared_at is None else self.cleared_at.isoformat(),
            "detail": self.detail,
            "subject_id": self.subject_id,
            "payload_sha256": self.payload_sha256,
            "payload_b64": self.payload_b64,
            # Only when metered: a report without them keeps the shape older registries know.
            **({"quantity": self.quantity} if self.quantity is not None else {}),
            **({"unit": self.unit} if self.unit is not None else {}),
            **({"totaliser": self.totaliser} if self.totaliser is not None else {}),
        }


def fault_report(
    kind: Kind,
    code: str,
    detail: str,
    *,
    at: datetime,
    pump: int | None,
    subject_id: str | None = None,
    payload: bytes | None = None,
    cleared_at: datetime | None = None,
    quantity: float | None = None,
    unit: str | None = None,
    totaliser: float | None = None,
) -> FaultReport:
    """A new report with a fresh id; the detail is cut to its limit rather than refused (it is prose)."""
    inline = payload is not None and len(payload) <= MAX_INLINE_PAYLOAD
    return FaultReport(
        report_id=str(uuid.uuid4()),
        kind=kind,
        code=code,
        pump=pump,
        occurred_at=at,
        detail=detail[:MAX_DETAIL],
        cleared_at=cleared_at,
        subject_id=subject_id,
        payload_sha256=None if payload is None else hashlib.sha256(payload).hexdigest(),
        payload_b64=base64.b64encode(payload).decode("ascii") if inline and payload is not None else None,
        quantity=quantity,
        unit=unit,
        totaliser=totaliser,
    )


def parse_fault_report(document: object) -> FaultReport:
    """The inverse of `to_json`, for a stored or received report; FaultReportError names the bad field."""
    _check(isinstance(document, dict), "a fault report is a JSON object")
    data = cast(dict[str, Any], document)
    _check(data.get("schema") == SCHEMA_VERSION, f"schema must be {SCHEMA_VERSION}")
    unknown = set(data) - {"schema", *FaultReport.__dataclass_fields__}
    _check(not unknown, f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        return FaultReport(
            report_id=data["report_id"],
            kind=data["kind"],
            code=data["code"],
            pump=data.get("pump"),
            occurred_at=_parse_time(data["occurred_at"]),
            detail=data["detail"],
            cleared_at=None if data.get("cleared_at") is None else _parse_time(data["cleared_at"]),
            subject_id=data.get("subject_id"),
            payload_sha256=data.get("payload_sha256"),
            payload_b64=data.get("payload_b64"),
            quantity=data.get("quantity"),
            unit=data.get("unit"),
            totaliser=data.get("totaliser"),
        )
    except KeyError as error:
        raise FaultReportError(f"fault report: {error.args[0]} is missing") from error


def _parse_time(text: object) -> datetime:
    _check(isinstance(text, str), "times must be RFC 3339 text")
    try:
        return datetime.fromisoformat(cast(str, text))
    except ValueError as error:
        raise FaultReportError(f"fault report: {text!r} is not an RFC 3339 time") from error


def _amount(value: object) -> bool:
    """None, or a JSON number (not a bool) that is finite and not negative."""
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise FaultReportError(f"fault report: {message}")
