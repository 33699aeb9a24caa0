"""The fault report: one small, versioned shape for rejected events, damaged events and station faults."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from station_agent.errors import StationAgentError
from station_agent.fault_report import (
    MAX_DETAIL,
    MAX_INLINE_PAYLOAD,
    FaultReport,
    FaultReportError,
    fault_report,
    is_uuid,
    parse_fault_report,
)

AT = datetime(2026, 11, 22, 16, 0, tzinfo=timezone(timedelta(hours=8)))
EVENT = "0b6c9a53-4a8e-4b7e-9d55-2f0d3c1f8e11"


def test_report_json_has_every_field_and_round_trips() -> None:
    report = fault_report(
        "rejected_event", "registry_rejected", "unknown station", at=AT, pump=2, subject_id=EVENT, payload=b'{"registry":{}}'
    )
    document = report.to_json()
    assert document == {
        "schema": 1,
        "report_id": report.report_id,
        "kind": "rejected_event",
        "code": "registry_rejected",
        "pump": 2,
        "occurred_at": "2026-11-22T16:00:00+08:00",
        "cleared_at": None,
        "detail": "unknown station",
        "subject_id": EVENT,
        "payload_sha256": hashlib.sha256(b'{"registry":{}}').hexdigest(),
        "payload_b64": base64.b64encode(b'{"registry":{}}').decode(),
    }
    assert uuid.UUID(report.report_id).version == 4
    assert parse_fault_report(json.loads(json.dumps(document))) == report


def test_large_payload_travels_as_its_hash_only_and_detail_is_cut() -> None:
    payload = b"x" * (MAX_INLINE_PAYLOAD + 1)
    report = fault_report(
        "station_fault", "relay_unreachable", "d" * 5000, at=AT, pump=None, payload=payload, cleared_at=AT + timedelta(seconds=2)
    )
    assert report.payload_b64 is None and report.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert len(report.detail) == MAX_DETAIL
    assert report.to_json()["cleared_at"] == "2026-11-22T16:00:02+08:00"
    exactly = fault_report("station_fault", "x", "", at=AT, pump=1, payload=b"y" * MAX_INLINE_PAYLOAD)
    assert exactly.payload_b64 is not None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "rejected"}, "kind"),
        ({"code": "Registry Rejected"}, "code"),
        ({"code": "x" * 65}, "code"),
        ({"pump": 0}, "pump"),
        ({"pump": True}, "pump"),
        ({"occurred_at": datetime(2026, 11, 22)}, "occurred_at"),
        ({"cleared_at": AT - timedelta(seconds=1)}, "cleared_at"),
        ({"subject_id": "e1"}, "subject_id"),
        ({"subject_id": EVENT.upper()}, "subject_id"),
        ({"detail": "d" * (MAX_DETAIL + 1)}, "detail"),
        ({"payload_sha256": "AB" * 32}, "payload_sha256"),
        ({"payload_b64": base64.b64encode(b"other").decode()}, "payload_b64"),
        ({"report_id": "not-a-uuid"}, "report_id"),
    ],
)
def test_out_of_range_fields_are_refused_by_name(change: dict[str, Any], field: str) -> None:
    good = fault_report("quarantined_event", "outbox_invalid_json", "bad", at=AT, pump=1, subject_id=EVENT, payload=b"{")
    with pytest.raises(FaultReportError, match=field) as caught:
        replace(good, **change)
    assert isinstance(caught.value, StationAgentError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "JSON object"),
        ({"schema": 2}, "schema"),
        ({"schema": 1, "report_id": str(uuid.uuid4()), "surprise": 1}, "unknown fields: surprise"),
        ({"schema": 1, "report_id": str(uuid.uuid4())}, "kind is missing"),
        (
            {
                "schema": 1,
                "report_id": str(uuid.uuid4()),
                "kind": "station_fault",
                "code": "x",
                "detail": "",
                "occurred_at": "yesterday",
            },
            "RFC 3339",
        ),
        (
            {"schema": 1, "report_id": str(uuid.uuid4()), "kind": "station_fault", "code": "x", "detail": "", "occurred_at": 5},
            "RFC 3339",
        ),
    ],
)
def test_parse_refuses_what_is_not_a_version_1_report(document: object, message: str) -> None:
    with pytest.raises(FaultReportError, match=message):
        parse_fault_report(document)


def test_is_uuid_wants_the_canonical_text_form() -> None:
    assert is_uuid(EVENT) and not is_uuid(EVENT.upper()) and not is_uuid("{" + EVENT + "}")
    assert not is_uuid(None) and not is_uuid(uuid.UUID(EVENT)) and not is_uuid(EVENT.replace("-", ""))


def test_reports_are_frozen() -> None:
    report = fault_report("station_fault", "disk_full", "", at=datetime(2026, 1, 1, tzinfo=UTC), pump=1)
    with pytest.raises(AttributeError):
        setattr(report, "code", "other")  # setattr: the assignment mypy already refuses, tried at run time
    assert isinstance(report, FaultReport)
