"""A real registry (registry_service over werkzeug's threaded server, on SQLite or PostgreSQL) for the agent's
end-to-end tests: one station with a token, a published trust list, and helpers to register
vehicles, revoke cylinders and count the scan events it holds. The HTTP side can be stopped and
started again on the same port to play "registry down"."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from registry_service import migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.db import make_engine
from registry_service.models import Cylinder, Role
from registry_service.models.cylinders import RevocationKind
from registry_service.models.events import ScanEvent
from registry_service.node import Registry
from registry_service.services import accounts, cylinders, places, trust
from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle
from tests.peers import free_tcp_port, wait_listening
from tests.registry.pg_cluster import create_database, drop_database
from tests.testkit import TestPki

STATION = "ST-JS-01"


def database_url(kind: str, tmp: Path) -> str:
    """A fresh SQLite file under `tmp`, or a scratch database on the shared PostgreSQL server."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'registry.sqlite3'}"
    return create_database("station_agent_test")


class RegistryPeer:
    def __init__(self, url: str, pki: TestPki, clock: Callable[[], datetime]) -> None:
        self.database_url = url
        self.pki = pki
        self.clock = clock
        self.port = free_tcp_port()
        self.engine = make_engine(RegistryConfig(database_url=url, pool_size=4, max_overflow=4))
        migrate.upgrade(self.engine)
        config = RegistryConfig(database_url=url, bureau_root_pem=pki.root_certificate_pem, token_cache_s=0)
        self.app = create_app(config, engine=self.engine, clock=clock)
        self.registry: Registry = self.app.extensions["registry"]
        self.token = self._world()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def _world(self) -> str:
        now = self.clock()

        def work(s: Session) -> str:
            city = places.ensure_region(s, "4101", "郑州市")
            places.ensure_region(s, "410105", "金水区", city)
            places.create_station(s, "test", now, code=STATION, name="金水一站", region_code="410105", pumps=4)
            accounts.create_user(
                s, "test", now, username="station", role=Role.STATION, password=None, station_code=STATION, centre_code=None
            )
            trust.publish(s, "test", now, self.pki.trust_list_bytes, self.pki.root_certificate_pem)
            return accounts.issue_token(s, "test", now, username="station").token

        return self.registry.transaction(work)

    def register_vehicle(self, plate: str, vin: str, cylinders_: list[dict[str, Any]]) -> None:
        def work(s: Session) -> None:
            upsert_vehicle(s, plate, vin, "taxi", None)
            for position, spec in enumerate(cylinders_, start=1):
                upsert_cylinder(
                    s,
                    CylinderIn(
                        cylinder_id=spec["cylinder_id"],
                        serial=f"S-{spec['cylinder_id']}",
                        manufactured_on=date(2019, 6, 1),
                        end_of_life=spec.get("end_of_life", date(2034, 5, 31)),
                        next_due=spec["next_due"],
                        tag_uid=spec["tag_uid"],
                        plate=plate,
                        position=position,
                    ),
                )
                # As if the centre's inspection upload had arrived: the registry knows this record,
                # so it answers for it instead of "unknown" (a newer record than it holds).
                s.execute(
                    update(Cylinder)
                    .where(Cylinder.cylinder_id == spec["cylinder_id"])
                    .values(record_sequence=spec.get("record_sequence", 0))
                )

        self.registry.transaction(work)

    def revoke(self, cylinder_id: str, kind: RevocationKind = RevocationKind.SCRAPPED) -> None:
        self.registry.transaction(lambda s: cylinders.revoke(s, "test", self.clock(), cylinder_id, kind, "test"))

    def event_ids(self) -> list[str]:
        with self.engine.connect() as connection:
            return [str(u) for u in connection.scalars(select(ScanEvent.event_uuid))]

    def event(self, event_id: str) -> ScanEvent | None:
        with Session(self.engine) as session:
            return session.scalars(select(ScanEvent).where(ScanEvent.event_uuid == uuid.UUID(event_id))).first()

    def event_count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(ScanEvent)) or 0)

    def start(self) -> RegistryPeer:
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

        # werkzeug's threaded server stops cleanly from another thread (waitress's close() races its loop).
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="registry-peer", daemon=True)
        self._thread.start()
        wait_listening(self.port, "the registry")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def dispose(self) -> None:
        self.stop()
        self.engine.dispose()
        drop_database(self.database_url)
