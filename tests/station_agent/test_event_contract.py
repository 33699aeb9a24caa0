"""The contract between the station's event builder and the registry's event parser: for any
typed values and anything a tag may say, either the station refuses to build the event (a typed
EventFieldError, before anything is acted on) or the registry accepts what the station sends, with
every typed value as typed (NFC, stripped) and every identifier in canonical form. An event the
station builds and acts on can never be refused later and go unreported, nor be reported with a
reason it silently cut off."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from registry_service.api.event_input import parse_event
from station_agent.errors import EventFieldError, StationAgentError
from station_agent.events import EventContext, scan_event
from station_agent.reasons import REGISTRATION_MISMATCH
from station_agent.session import CylinderResult, VehicleSession
from tag_tools import identifiers

AT = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
EDGES = [
    "",
    " " * 300 + "reason",  # long leading white space: the old builder cut it to 200 spaces
    " " * 150 + "x" * 100,
    "paper certificate seen\x00",  # NUL: refused by the registry, accepted by the old builder
    "S-01\ud800",  # lone surrogate: not even encodable as UTF-8
    "e\u0301tat",  # NFD: stored as NFC on both sides
    "\ufdd0",
    "ok",
    "A-007",
    "x" * 33,
    "x" * 65,
    "y" * 201,
]
typed_text = st.one_of(
    st.sampled_from(EDGES),
    st.text(st.characters(), max_size=70),
    st.builds(lambda pad, body: pad + body, st.text(" \t\u3000", max_size=250), st.text(max_size=40)),
)
plates = st.one_of(
    st.sampled_from(["粤B12345", "粤Ｂ１２３４５", "豫a·8m2k7", "ABC-123", "1234abc", "豫A1234学", "NOT A PLATE", "豫A\x00"]),
    st.text(st.characters(), max_size=20),
)
cylinder_ids = st.one_of(
    st.sampled_from(["156-4101-20190012345", "１５６－４１０１－１", "156-04101-7", "BAD-ID"]),
    st.builds(lambda c, i, n: f"{c}-{i}-{n}", st.integers(0, 1200), st.integers(0, 2**40), st.integers(0, 2**70)),
    st.text(max_size=30),
)
uids = st.one_of(
    st.binary(min_size=1, max_size=12).map(lambda b: b.hex().upper()),
    st.sampled_from(["04:a2:c4:d2:e1:5a:80", "04AA", "zz"]),
    st.text(max_size=24),
)


def _expected_text(value: str | None) -> str | None:
    if value is None:
        return None
    return unicodedata.normalize("NFC", value).strip() or None


def _expected_identifier(check: Any, value: str | None, field: str) -> str | None:
    return None if value is None else identifiers.canonical_or_none(check, value, field)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attendant=typed_text,
    supervisor=st.one_of(st.none(), typed_text),
    reason=typed_text,
    plate=st.one_of(st.none(), plates),
    cylinder_id=st.one_of(st.none(), cylinder_ids),
    tag_uid=uids,
    decision=st.sampled_from(["refuse", "refuse", "allow", "allow_with_warning"]),
    read_counter=st.one_of(st.none(), st.integers(-1, 2**25)),
    record_sequence=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)
@example(
    attendant="A-007",
    supervisor="S-01",
    reason=" " * 300 + "reason",
    plate="粤B12345",
    cylinder_id="156-4101-1",
    tag_uid="04A2C4D2E15A80",
    decision="refuse",
    read_counter=None,
    record_sequence=None,
)
@example(
    attendant="A-007",
    supervisor="S-01",
    reason="paper certificate seen\x00",
    plate=None,
    cylinder_id=None,
    tag_uid="04A2C4D2E15A80",
    decision="refuse",
    read_counter=None,
    record_sequence=None,
)
@example(
    attendant="A-007\ud800",
    supervisor=None,
    reason="",
    plate=None,
    cylinder_id=None,
    tag_uid="04A2C4D2E15A80",
    decision="refuse",
    read_counter=None,
    record_sequence=None,
)
@example(
    attendant="A-007",
    supervisor=None,
    reason="",
    plate="粤Ｂ12345",
    cylinder_id="156-4101-1",
    tag_uid="04A2C4D2E15A80",
    decision="refuse",
    read_counter=None,
    record_sequence=None,
)
def test_what_the_station_builds_the_registry_accepts(
    attendant: str,
    supervisor: str | None,
    reason: str,
    plate: str | None,
    cylinder_id: str | None,
    tag_uid: str,
    decision: str,
    read_counter: int | None,
    record_sequence: int | None,
) -> None:
    refused = decision == "refuse"
    result = CylinderResult(
        tag_uid=tag_uid,
        decision=decision,
        reasons=("inspection_overdue",) if refused else (),
        online=True,
        cylinder_id=cylinder_id,
        plate=plate,
        read_counter=read_counter,
        record_sequence=record_sequence,
    )
    context = EventContext("ZZ-0001", 2, attendant, "5f0c3d2e-6a7b-4c8d-9e0f-1a2b3c4d5e6f", enforcing=True)
    try:
        _, body = scan_event(
            result, context, AT, supervisor=supervisor, override_reason=reason if supervisor is not None else None
        )
    except EventFieldError as error:
        assert isinstance(error, StationAgentError) and isinstance(error, ValueError)
        assert error.field in {"attendant", "supervisor", "override_reason", "session_id"}
        return
    # What the sync sends: UTF-8 JSON (a lone surrogate would fail right here).
    wire = json.loads(json.dumps([body["registry"]], ensure_ascii=False).encode("utf-8"))
    parsed = parse_event(wire[0], 0)  # InvalidInput here is the defect this test exists for
    parsed.check(0)  # and the rules between fields (an override names attendant, supervisor, reason)

    overridden = supervisor is not None and refused
    assert parsed.attendant == _expected_text(attendant)
    assert parsed.supervisor == (_expected_text(supervisor) if overridden else None)
    assert parsed.override_reason == (_expected_text(reason) if overridden else None)
    assert parsed.plate == _expected_identifier(identifiers.plate, plate, "plate")
    assert parsed.cylinder_id == _expected_identifier(identifiers.cylinder_id, cylinder_id, "cylinder_id")
    assert parsed.tag_uid == _expected_identifier(identifiers.tag_uid, tag_uid, "tag_uid")
    # What the registry does not get is kept in the station's own log, never dropped silently.
    for field, raw in (("plate", plate), ("cylinder_id", cylinder_id), ("tag_uid", tag_uid)):
        if raw is not None and getattr(parsed, field) is None:
            assert body["unreported"][field] in (raw, ascii(raw))


def test_a_session_compares_plates_and_vins_in_canonical_form() -> None:
    session = VehicleSession(AT, 0.0)
    first = CylinderResult(
        tag_uid="04A2C4D2E15A80",
        decision="allow",
        reasons=(),
        online=True,
        cylinder_id="156-4101-1",
        plate="粤B12345",
        vin="LSVAU2180N2183744",
        vehicle_cylinders=2,
    )
    second = CylinderResult(
        tag_uid="04A2C4D2E15A81",
        decision="allow",
        reasons=(),
        online=True,
        cylinder_id="156-4101-2",
        plate="粤Ｂ·12345",
        vin="lsvau2180n2183744",
        vehicle_cylinders=2,
    )
    assert REGISTRATION_MISMATCH not in session.add(first, 1.0).reasons
    assert REGISTRATION_MISMATCH not in session.add(second, 2.0).reasons  # the same vehicle, spelt another way
    assert session.pump_allowed
    other = CylinderResult(
        tag_uid="04A2C4D2E15A82",
        decision="allow",
        reasons=(),
        online=True,
        cylinder_id="156-4101-3",
        plate="粤B12346",
        vin="LSVAU2180N2183744",
        vehicle_cylinders=2,
    )
    assert REGISTRATION_MISMATCH in session.add(other, 3.0).reasons
