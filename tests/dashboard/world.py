"""A seeded registry for the dashboard tests and its screenshots: the demo city (seed.py) with
two weeks of refuel attempts, people with passwords, two inspection centres and inspections."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from registry_service import migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.dashboard import register_dashboard
from registry_service.db import make_engine
from registry_service.models import Cylinder, DashboardSession, Inspection, InspectionCentre, LoginThrottleEntry, Role
from registry_service.node import Registry
from registry_service.seed import DemoShape, seed_demo
from registry_service.services import accounts, places
from registry_service.services.login_throttle import ThrottlePolicy
from tests.registry.conftest import NOW as NOW  # 10:00 in Zhengzhou; both re-exported for the dashboard tests
from tests.registry.conftest import Clock as Clock

TODAY = date(2026, 11, 22)
PASSWORD = "correct-horse-battery"
USERS = (  # name, role, station, centre
    ("bureau", Role.BUREAU, None, None),
    ("admin", Role.ADMIN, None, None),
    ("station", Role.STATION, "ST-410105-01", None),
    ("centre1", Role.CENTRE, None, "ZZTJ01"),
    ("centre2", Role.CENTRE, None, "ZZTJ02"),
)
SHAPE = DemoShape(
    vehicles=600, stations_per_district=4, event_days=14, fills_per_vehicle_per_week=3.0, overdue_share=0.12, condemned_share=0.01
)


def build_database(url: str) -> Engine:
    """Migrate and seed an empty database; returns its engine."""
    engine = make_engine(RegistryConfig(database_url=url))
    migrate.upgrade(engine)
    seed_demo(engine, 7, TODAY, SHAPE, progress=False)
    app = create_app(RegistryConfig(database_url=url), engine=engine, clock=Clock())
    registry: Registry = app.extensions["registry"]

    def people(session: Session) -> None:
        places.create_centre(session, "test", NOW, code="ZZTJ01", name="郑州市特种设备检验中心", region_code="4101")
        places.create_centre(session, "test", NOW, code="ZZTJ02", name="河南省锅炉压力容器检验站")
        for name, role, station, centre in USERS:
            accounts.create_user(
                session, "test", NOW, username=name, role=role, password=PASSWORD, station_code=station, centre_code=centre
            )

    registry.transaction(people)
    registry.transaction(_inspections)
    return engine


def _inspections(session: Session) -> None:
    """Centre 1 inspected cylinders 1-20, centre 2 cylinders 21-40 (records are opaque here)."""
    centres = {c.code: c.id for c in session.scalars(select(InspectionCentre))}
    rows = []
    for cylinder in session.scalars(select(Cylinder).where(Cylinder.id <= 40).order_by(Cylinder.id)):
        centre = "ZZTJ01" if cylinder.id <= 20 else "ZZTJ02"
        inspected = TODAY - timedelta(days=7 * cylinder.id)  # all within the last 40 weeks
        rows.append(
            {
                "cylinder_pk": cylinder.id,
                "centre_id": centres[centre],
                "certificate_id": None,
                "report_number": f"{centre}-2026-{cylinder.id:05d}",
                "inspected_on": inspected,
                "result": cylinder.last_result or "pass",
                "next_due": cylinder.next_due,
                "sequence": 1,
                "issued_at": NOW - timedelta(days=30),
                "tag_uid": cylinder.tag_uid or "04000000000000",
                "record": b"\xd1\x01",
                "submitted_at": NOW - timedelta(days=30),
                "submitted_by": None,
            }
        )
    session.execute(insert(Inspection), rows)


def make_app(engine: Engine, url: str, clock: Clock | None = None, throttle: ThrottlePolicy | None = None) -> Flask:
    """A fresh app over the shared seeded database; the log-in throttle and the sessions live in
    that database, so they are emptied: each test starts with no lock and nobody signed in."""
    with engine.begin() as connection:
        connection.execute(delete(LoginThrottleEntry))
        connection.execute(delete(DashboardSession))
    app = create_app(RegistryConfig(database_url=url), engine=engine, clock=clock or Clock())
    register_dashboard(app, secret_key="dashboard-test-secret", throttle=throttle)
    return app
