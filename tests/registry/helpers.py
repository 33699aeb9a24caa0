"""Small builders shared by the registry tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle


def add_vehicle(world: Any, plate: str, cylinders: list[dict[str, Any]]) -> None:
    today = world.clock().date()

    def work(s):  # type: ignore[no-untyped-def]
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
    extra = {"attendant": "A-007", "supervisor": "S-01", "override_reason": "paper certificate seen"} if outcome == "overridden" else {}
    return event(occurred_at, decision="refuse", outcome=outcome, reasons=reasons, **extra, **fields)


def post_events(client: Any, world: Any, station: str, events: list[dict[str, Any]], who: str = "station") -> Any:
    return client.post(f"/api/v1/stations/{station}/scan-events", json={"events": events}, headers=world.auth(who))
