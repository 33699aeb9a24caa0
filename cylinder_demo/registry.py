"""The registry of the story: a SQLite database in the demo folder, migrated and seeded with a
small synthetic Zhengzhou by the registry's own functions; the demo station, the bureau and
centre accounts; the bureau's trust list; the app (with the dashboard) served by waitress.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from cylinder_demo.bureau import CENTRE_ID, Bureau
from cylinder_demo.client import post_json
from registry_service import migrate, serving
from registry_service.app import Registry, create_app
from registry_service.config import RegistryConfig
from registry_service.dashboard import URL_PREFIX
from registry_service.db import make_engine
from registry_service.models import Case, Role
from registry_service.seed import DemoShape, DemoSummary, seed_demo
from registry_service.services import accounts, grid_people, places, trust

OPERATOR = "cylinder-demo"
SEED = 2026
# Small enough to start in seconds, large enough for the dashboard to look like a city.
SHAPE = DemoShape(vehicles=300, stations_per_district=2, event_days=7)
STATION_CODE, STATION_NAME, STATION_CELL = "ST-410105-88", "金水区演示加气站", "410105-02-01"
BUREAU_USER, CENTRE_USER, STATION_USER = "bureau", "centre-zztj01", "station-410105-88"
# The grid around the demo station (docs/grid.md): the cell's officer signs in; the street's and the
# district's leads are named (定人、定岗、定责), so an escalated case has someone to land on.
GRID_USER = f"grid-{STATION_CELL}"
GRID_PEOPLE = (  # region, name, phone, duty, user
    (STATION_CELL, "张伟", "13800000001", "officer", GRID_USER),
    (STATION_CELL.rsplit("-", 1)[0], "李娜", "13800000002", "lead", None),
    ("410105", "王强", "13800000003", "lead", None),
)


@dataclass(frozen=True)
class Credentials:
    """The demo's accounts. Passwords are generated here, printed once, never stored in clear."""

    bureau_user: str
    bureau_password: str
    centre_user: str
    centre_password: str  # the centre's clerk signs in to see its own inspections
    centre_token: str  # the centre's software reports inspections with it
    station_token: str  # written into the station's config (station.toml)
    grid_user: str  # the station cell's grid officer: the cases its refused vehicles open
    grid_password: str


def _quiet_servers() -> None:
    for name in ("waitress", "registry_service.dashboard"):
        logging.getLogger(name).setLevel(logging.ERROR)


class DemoRegistry:
    """The registry app and its waitress server on 127.0.0.1:port."""

    def __init__(self, folder: Path, bureau: Bureau, port: int) -> None:
        self.port = port
        self.config = RegistryConfig(
            database_url=f"sqlite:///{folder / 'registry.sqlite3'}",
            bureau_root_pem=bureau.root_pem,
            pool_size=8,
            max_overflow=8,
            dashboard_secret_key=secrets.token_hex(32),  # signs the dashboard's session cookie
        )
        self.engine = make_engine(self.config)
        self.bureau = bureau
        self.app: Flask | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def dashboard_url(self) -> str:
        return f"{self.base_url}{URL_PREFIX}/"

    @property
    def registry(self) -> Registry:
        assert self.app is not None
        return self.app.extensions["registry"]  # type: ignore[no-any-return]

    def build(self, today: date) -> DemoSummary:
        """Migrate, seed the city, make the app (dashboard included) and the demo's accounts."""
        migrate.upgrade(self.engine)
        summary = seed_demo(self.engine, SEED, today, SHAPE, progress=False)
        self.app = create_app(self.config, engine=self.engine)
        return summary

    def enrol(self) -> Credentials:
        """Publish the bureau's trust list (it registers the centre), then the three accounts."""
        password, centre_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        grid_password = secrets.token_urlsafe(12)

        def work(session: Session) -> tuple[str, str]:
            now = datetime.now(UTC)
            places.create_station(
                session,
                OPERATOR,
                now,
                code=STATION_CODE,
                name=STATION_NAME,
                region_code=STATION_CELL,
                latitude=34.781,
                longitude=113.671,
                pumps=2,
            )
            trust.publish(session, OPERATOR, now, self.bureau.trust_list, self.bureau.root_pem)
            accounts.create_user(session, OPERATOR, now, username=BUREAU_USER, role=Role.BUREAU, password=password)
            accounts.create_user(
                session, OPERATOR, now, username=CENTRE_USER, role=Role.CENTRE, password=centre_password, centre_code=CENTRE_ID
            )
            accounts.create_user(session, OPERATOR, now, username=STATION_USER, role=Role.STATION, station_code=STATION_CODE)
            for region, name, phone, duty, user in GRID_PEOPLE:  # as `import grid-people` does, row by row
                grid_people.add_person(
                    session, OPERATOR, now, region_code=region, name=name, phone=phone, duty=duty, username=user
                )
            accounts.set_password(session, OPERATOR, now, username=GRID_USER, password=grid_password)
            centre = accounts.issue_token(session, OPERATOR, now, username=CENTRE_USER, label="demo centre")
            station = accounts.issue_token(session, OPERATOR, now, username=STATION_USER, label="demo station")
            return centre.token, station.token

        centre_token, station_token = self.registry.transaction(work)
        return Credentials(
            BUREAU_USER, password, CENTRE_USER, centre_password, centre_token, station_token, GRID_USER, grid_password
        )

    def open_case_numbers(self) -> list[str]:
        """The numbers of the cases open in the demo station's cell (the refused vehicles' cases)."""

        def work(session: Session) -> list[str]:
            cell = places.region_by_code(session, STATION_CELL)
            query = select(Case.number).where(Case.region_id == cell.id, Case.state != "closed").order_by(Case.number)
            return list(session.scalars(query))

        return self.registry.transaction(work)

    def submit_inspection(self, record: bytes, centre_token: str) -> dict[str, Any]:
        """As a centre does after an inspection: POST the signed record to the API."""
        return post_json(f"{self.api_url}/inspections", {"record": base64.b64encode(record).decode()}, centre_token)

    def serve(self) -> DemoRegistry:
        _quiet_servers()
        options = {"host": "127.0.0.1", "port": self.port, "threads": 8, "ident": "cylinder-demo"}
        self._server = serving.create_server(self.app, options)  # the server `cylinder-registry serve` runs
        self._thread = threading.Thread(target=self._server.run, name="registry", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server.task_dispatcher.shutdown(timeout=2)
            self._server = None
        if self._thread is not None:
            self._thread.join(3)  # a daemon thread: the process may end even if the loop lingers
            self._thread = None
        self.engine.dispose()
