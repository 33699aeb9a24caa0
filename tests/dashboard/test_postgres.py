"""Every page once on PostgreSQL (production's database): the same seeded city, the same totals.

The SQLite run covers behaviour; this catches SQL that only one dialect accepts (date grouping,
path prefixes, sorting by an enum column, the bounded count)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from registry_service.models import Outcome, ScanEvent
from tests.dashboard.helpers import count_events, sign_in
from tests.dashboard.world import build_database, make_app
from tests.registry.pg_cluster import create_database, drop_database


@pytest.fixture(scope="module")
def pg_seeded() -> Iterator[tuple[Engine, str]]:
    url = create_database("dashboard_test")
    engine = build_database(url)
    yield engine, url
    engine.dispose()
    drop_database(url)


@pytest.fixture
def pg_client(pg_seeded: tuple[Engine, str]) -> FlaskClient:
    client = make_app(*pg_seeded).test_client()
    assert sign_in(client, "bureau").status_code == 302
    return client


def test_every_page_renders_on_postgresql(pg_client: FlaskClient, pg_seeded: tuple[Engine, str]) -> None:
    overview = pg_client.get("/dashboard/overview").get_data(as_text=True)
    refused = count_events(pg_seeded[0], "2026-11-09", "2026-11-22", ScanEvent.outcome == Outcome.REFUSED)
    assert refused > 0 and f'<span class="value">{refused:,}</span>' in overview
    for path in (
        "/dashboard/overview?region=410105",
        "/dashboard/overview?region=410105-01",
        "/dashboard/attempts?sort=outcome&order=asc&page=2",
        "/dashboard/attempts?reason=inspection_overdue",
        "/dashboard/attempts.csv?outcome=overridden",
        "/dashboard/stations/ST-410105-01",
        "/dashboard/inspections",
        "/dashboard/cylinders/156-4101-20000001",
        "/dashboard/search?q=156-4101-2000000",  # the start of an ID: a range over the index
        "/dashboard/regions.json?q=金水",
        "/dashboard/stations.json?q=ST-4101",
        "/dashboard/clones?since=2026-11-01",
        "/dashboard/clones.csv?since=2026-11-01",
        "/dashboard/map/stations.geojson?region=410105",
        "/dashboard/map/regions.geojson?region=410105",
        "/dashboard/station-health?region=410105",
        "/dashboard/station-alarms?region=410105&kind=silent",
        "/dashboard/unexplained-quantity?region=410105",
        "/dashboard/override-attempts?region=410105",
        "/dashboard/time-dark?region=410105",
    ):
        assert pg_client.get(path).status_code == 200, path
    listed = pg_client.get("/dashboard/search?q=156-4101-2000000").get_data(as_text=True)
    assert listed.count('href="/dashboard/cylinders/156-4101-2000000') >= 9
    found = pg_client.get("/dashboard/search?q=156－4101－20000001")  # full-width hyphens
    assert found.headers["Location"] == "/dashboard/cylinders/156-4101-20000001"


def test_case_pages_on_postgresql(pg_client: FlaskClient, pg_seeded: tuple[Engine, str]) -> None:
    """The grid case pages' SQL (region subtree filters, keyset paging, the officers above a region)
    and a form post on PostgreSQL (case_views.py; behaviour: test_case_pages.py)."""
    import re

    from tests.dashboard.case_samples import sample_case

    with sample_case(pg_seeded[0], "410105-01-01") as number:
        for path in (
            "/dashboard/my-cases",
            "/dashboard/cases?state=open&kind=override&region=410105&overdue=false&since=2026-09-01&until=2026-11-22",
            f"/dashboard/cases/{number}",
            "/dashboard/grid/410105-01",
        ):
            page = pg_client.get(path)
            assert page.status_code == 200, path
            assert number in page.get_data(as_text=True), path
        page_text = pg_client.get(f"/dashboard/cases/{number}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
        assert token
        done = pg_client.post(f"/dashboard/cases/{number}", data={"csrf_token": token.group(1), "action": "dispatched"})
        assert done.status_code == 303
        assert 'data-state="dispatched"' in pg_client.get(f"/dashboard/cases/{number}").get_data(as_text=True)
