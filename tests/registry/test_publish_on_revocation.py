"""A revocation wakes the status publisher at once (issue 11: a revocation reaches every online
station within one sync interval, not one sync interval plus the publisher's own interval)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask.testing import FlaskClient

from registry_service.node import Registry
from registry_service.services.status_lists import Outcome
from registry_service.status_publisher import StatusPublisher
from tag_tools.status_list import StatusArray
from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle

CYLINDER = "156-4101-19012345"


class _NoSigner:
    """The publisher below never signs: its rounds are counted, not run."""

    def sign_status_list(
        self, list_id: int, sequence: int, statuses: StatusArray, issued_at: datetime, expires_at: datetime, ttl: timedelta
    ) -> bytes:
        raise AssertionError("the counting publisher does not sign")


class _CountingPublisher(StatusPublisher):
    """Counts its rounds instead of publishing; `woke` is set by the second (the first runs at start)."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry, signer=_NoSigner())
        self.rounds = 0
        self.woke = threading.Event()

    def run_once(self) -> list[Outcome]:
        self.rounds += 1
        if self.rounds == 2:
            self.woke.set()
        return []


def test_a_revocation_wakes_the_publisher(client: FlaskClient, world: World) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": CYLINDER}])
    publisher = _CountingPublisher(world.registry)
    publisher.interval_s = 3600.0  # far longer than the test: only the revocation can wake it
    publisher.start()
    try:
        answer = client.post(
            f"/api/v1/cylinders/{CYLINDER}/revocations",
            json={"kind": "scrapped", "reason": "cut open"},
            headers=world.auth("bureau"),
        )
        assert answer.status_code == 201, answer.json
        assert publisher.woke.wait(10), "the publisher kept waiting out its interval"
    finally:
        publisher.stop()
