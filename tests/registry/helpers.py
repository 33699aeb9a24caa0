"""Small builders shared by the registry tests."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from registry_service.db import run_in_transaction
from registry_service.models import Role
from registry_service.services import accounts, places
from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle
from tests.registry.conftest import World


def post_json(url: str, token: str, body: object) -> tuple[int, dict[str, str]]:
    """POST `body` as JSON to a served registry, as a station: (status, response headers), error
    statuses included. When the exchange itself fails (the HTTP server failing us) the status is -1
    and the headers hold the failure under "error"."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)
    except (OSError, http.client.HTTPException) as error:
        return -1, {"error": repr(error)}


def add_vehicle(world: World, plate: str, cylinders: list[dict[str, Any]]) -> None:
    today = world.clock().date()

    def work(s: Session) -> None:
        upsert_vehicle(s, plate, None, "taxi", None)
        for position, spec in enumerate(cylinders, start=1):
            upsert_cylinder(
                s,
                CylinderIn(
                    cylinder_id=spec["cylinder_id"],
                    serial=f"S-{spec['cylinder_id']}",
                    manufactured_on=spec.get("manufactured_on", date(2018, 1, 1)),
                    end_of_life=spec.get("end_of_life", date(2033, 1, 1)),
                    next_due=spec.get("next_due", today + timedelta(days=300)),
                    tag_uid=spec.get("tag_uid"),
                    plate=plate,
                    position=position,
                    last_result=spec.get("last_result", "pass"),
                ),
            )

    world.registry.transaction(work)


def event(occurred_at: datetime, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": occurred_at.isoformat(),
        "pump": 1,
        "decision": "allow",
        "outcome": "allowed",
        "reasons": [],
    }
    body.update(fields)
    return body


def refused(occurred_at: datetime, reasons: list[str], outcome: str = "refused", **fields: Any) -> dict[str, Any]:
    extra = (
        {"attendant": "A-007", "supervisor": "S-01", "override_reason": "paper certificate seen"}
        if outcome == "overridden"
        else {}
    )
    return event(occurred_at, decision="refuse", outcome=outcome, reasons=reasons, **extra, **fields)


def post_events(
    client: FlaskClient, world: World, station: str, events: list[dict[str, Any]], who: str = "station"
) -> TestResponse:
    return client.post(f"/api/v1/stations/{station}/scan-events", json={"events": events}, headers=world.auth(who))


def station_with_token(sessions: sessionmaker[Session]) -> str:
    """Station ST-1 in region 4101 and a station user "st"; returns the user's token."""
    now = datetime.now(UTC)

    def setup(s: Session) -> str:
        places.ensure_region(s, "4101", "郑州市")
        places.create_station(s, "test", now, code="ST-1", name="一站", region_code="4101")
        accounts.create_user(s, "test", now, username="st", role=Role.STATION, station_code="ST-1")
        return accounts.issue_token(s, "test", now, username="st").token

    return run_in_transaction(sessions, setup)


def counts(response: Any) -> dict[str, int]:
    """A scan-event upload's counts; its registry_time (RFC 3339 UTC, milliseconds) checked apart."""
    body = dict(response.json)
    stamp = body.pop("registry_time")
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-22T02:00:00.000Z"), stamp
    return body
