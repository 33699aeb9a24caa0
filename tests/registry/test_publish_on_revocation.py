"""A revocation wakes the status publisher at once (issue 11: a revocation reaches every online
station within one sync interval, not one sync interval plus the publisher's own interval)."""

from __future__ import annotations

import threading
from typing import Any

from registry_service.status_publisher import StatusPublisher
from tests.registry.helpers import add_vehicle

CYLINDER = "156-4101-19012345"


def test_a_revocation_wakes_the_publisher(app: Any, client: Any, world: Any) -> None:
    registry = app.extensions["registry"]
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER}])
    publisher = StatusPublisher(registry, signer=object())  # type: ignore[arg-type]
    rounds: list[int] = []
    woke = threading.Event()

    def run_once() -> list[Any]:
        rounds.append(1)
        if len(rounds) == 2:
            woke.set()
        return []

    publisher.run_once = run_once  # type: ignore[method-assign]
    publisher.interval_s = 3600.0  # far longer than the test: only the revocation can wake it
    publisher.start()
    try:
        answer = client.post(
            f"/api/v1/cylinders/{CYLINDER}/revocations",
            json={"kind": "scrapped", "reason": "cut open"},
            headers=world.auth("bureau"),
        )
        assert answer.status_code == 201, answer.json
        assert woke.wait(10), "the publisher kept waiting out its interval"
    finally:
        publisher.stop()
