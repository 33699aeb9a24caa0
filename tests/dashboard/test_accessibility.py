"""Every page of the dashboard, on an office monitor (1366 by 768) and a phone (390 by 844), in Chinese and
English: no page wider than its screen (document.documentElement.scrollWidth <= innerWidth), and
axe-core (tests/accessibility.py: WCAG 2.1 A/AA and best practices) finds nothing.

One Chromium for the module and one signed-in context per user, language and screen. axe is
injected as a script, which the pages' CSP refuses, so these contexts bypass the CSP; test_map.py
drives the map under the real one. Screenshots of every page go to test-artifacts/dashboard/pages/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, select

from registry_service.models import Cylinder, Inspection, InspectionCentre, Outcome, Region, ScanEvent, Station, Vehicle
from tests.accessibility import axe_violations, describe
from tests.dashboard.browser import chromium_peer, screenshot, screenshot_dir, serve
from tests.dashboard.case_samples import sample_case
from tests.dashboard.shapes import imported_outlines
from tests.dashboard.world import PASSWORD, Clock, make_app

VIEWPORTS: dict[str, Any] = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
LANGUAGES = ("zh_CN", "en")


@dataclass(frozen=True)
class Page:
    name: str
    user: str | None  # None: nobody signed in
    path: Callable[[dict[str, str]], str]  # from the seeded database's sample codes
    endpoint: str  # the route it shows (test_every_page_is_here checks none is missing)
    status: int = 200
    # axe runs where a template or a user's view differs; a variant of a page (other filters, other
    # depth) is checked for width only. axe is what takes the time (1 s or more per run).
    axe: bool = True


PAGES = (
    Page("sign-in", None, lambda s: "/dashboard/sign-in", "dashboard.sign_in"),
    Page("overview", "bureau", lambda s: "/dashboard/overview", "dashboard.overview"),
    Page("overview-district", "bureau", lambda s: "/dashboard/overview?region=410105", "dashboard.overview", axe=False),
    Page("overview-cell", "bureau", lambda s: f"/dashboard/overview?region={s['cell']}", "dashboard.overview", axe=False),
    Page(
        "overview-year",
        "bureau",
        lambda s: "/dashboard/overview?since=2026-01-01&until=2026-11-22",
        "dashboard.overview",
        axe=False,
    ),
    Page("overview-bad-date", "bureau", lambda s: "/dashboard/overview?since=2026-13-01", "dashboard.overview", 422),
    Page("attempts", "bureau", lambda s: "/dashboard/attempts", "dashboard.attempts"),
    Page(
        "attempts-filtered",
        "bureau",
        lambda s: "/dashboard/attempts?outcome=overridden&region=410105&sort=plate",
        "dashboard.attempts",
        axe=False,
    ),
    Page("station", "bureau", lambda s: f"/dashboard/stations/{s['station']}", "dashboard.station"),
    Page("station-faults", "bureau", lambda s: "/dashboard/station-faults", "dashboard.station_faults"),
    Page("vehicle", "bureau", lambda s: f"/dashboard/vehicles/{quote(s['plate'])}", "dashboard.vehicle"),
    Page("cylinder", "bureau", lambda s: f"/dashboard/cylinders/{s['cylinder']}", "dashboard.cylinder"),
    Page("inspections", "bureau", lambda s: "/dashboard/inspections", "dashboard.inspections"),
    Page("clones", "bureau", lambda s: "/dashboard/clones", "dashboard.clone_list"),
    Page("station-health", "bureau", lambda s: "/dashboard/station-health", "dashboard.station_health"),
    Page("station-alarms", "bureau", lambda s: "/dashboard/station-alarms", "dashboard.station_alarms"),
    Page("unexplained", "bureau", lambda s: "/dashboard/unexplained-quantity", "dashboard.unexplained_ranking", axe=False),
    Page("override-attempts", "bureau", lambda s: "/dashboard/override-attempts", "dashboard.override_attempts", axe=False),
    Page("time-dark", "bureau", lambda s: "/dashboard/time-dark", "dashboard.time_dark", axe=False),
    Page("search", "bureau", lambda s: f"/dashboard/search?q={quote(s['plate'].lower())}", "dashboard.search_page"),
    Page("not-found", "bureau", lambda s: "/dashboard/vehicles/%E8%B1%ABZ99999", "dashboard.vehicle", 404),
    Page("centre-inspections", "centre1", lambda s: "/dashboard/inspections", "dashboard.inspections"),
    Page("centre-cylinder", "centre1", lambda s: f"/dashboard/cylinders/{s['centre_cylinder']}", "dashboard.cylinder", axe=False),
    Page("centre-forbidden", "centre1", lambda s: "/dashboard/overview", "dashboard.overview", 403, axe=False),
    # Station grades and patrols (grade_views.py); the patrol form is the phone page of the field officer.
    Page("station-grades", "bureau", lambda s: "/dashboard/station-grades", "dashboard.station_grades"),
    Page("patrol-start", "bureau", lambda s: "/dashboard/patrol", "dashboard.patrol_form", axe=False),
    Page("patrol-form", "bureau", lambda s: f"/dashboard/patrol?station={s['station']}", "dashboard.patrol_form"),
    Page("patrols", "bureau", lambda s: "/dashboard/patrols", "dashboard.patrol_list", axe=False),
    Page("patrol-absent", "bureau", lambda s: "/dashboard/patrols/999999", "dashboard.patrol_detail", 404, axe=False),
    # Grid cases (case_views.py); test_case_pages.py covers a grid officer's view of them.
    Page("my-cases", "bureau", lambda s: "/dashboard/my-cases", "dashboard.my_cases", axe=False),
    Page("cases", "bureau", lambda s: "/dashboard/cases", "dashboard.case_list"),
    Page("cases-refused", "bureau", lambda s: "/dashboard/cases?state=x&since=2026-13-01", "dashboard.case_list", 422, axe=False),
    Page("case", "bureau", lambda s: f"/dashboard/cases/{s['case']}", "dashboard.case_page"),
    Page("grid-cell", "bureau", lambda s: f"/dashboard/grid/{s['cell']}", "dashboard.grid_cell"),
    Page("weekly-report", "bureau", lambda s: "/dashboard/weekly-report", "dashboard.weekly_report"),
)
# Routes that are not pages: files, JSON for the pages' scripts, redirects and form posts.
NOT_PAGES = {
    "dashboard.static",
    "dashboard.index",
    "dashboard.sign_in_submit",
    "dashboard.sign_out",
    "dashboard.attempts_csv",
    "dashboard.clones_csv",
    "dashboard.region_options",
    "dashboard.station_options",
    "dashboard.map_stations",
    "dashboard.map_regions",
    "dashboard.patrol_submit",
    "dashboard.case_action",
    "dashboard.case_photo",
    "dashboard.weekly_report_csv",
}


@pytest.fixture(scope="module")
def samples(seeded: tuple[Engine, str]) -> Iterator[dict[str, str]]:
    """Codes of real things to open: a busy station, its grid cell, an overridden vehicle, a case ..."""
    with seeded[0].connect() as c:
        station, cell = c.execute(
            select(Station.code, Region.code).join(Region, Region.id == Station.region_id).order_by(Station.code).limit(1)
        ).one()
        plate = c.scalar(
            select(ScanEvent.plate).where(ScanEvent.outcome == Outcome.OVERRIDDEN).order_by(ScanEvent.plate).limit(1)
        )
        cylinder = c.scalar(
            select(Cylinder.cylinder_id).join(Vehicle, Vehicle.id == Cylinder.vehicle_id).where(Vehicle.plate == plate)
        )
        centre_cylinder = c.scalar(
            select(Cylinder.cylinder_id)
            .join(Inspection, Inspection.cylinder_pk == Cylinder.id)
            .join(InspectionCentre, InspectionCentre.id == Inspection.centre_id)
            .where(InspectionCentre.code == "ZZTJ01")
            .limit(1)
        )
    assert plate and cylinder and centre_cylinder
    with sample_case(seeded[0], cell) as case:  # removed afterwards: other tests count cases
        yield {
            "station": station,
            "cell": cell,
            "plate": plate,
            "cylinder": cylinder,
            "centre_cylinder": centre_cylinder,
            "case": case,
        }


@pytest.fixture(scope="module")
def base_url(seeded: tuple[Engine, str]) -> Iterator[str]:
    with imported_outlines(seeded[0]), serve(make_app(seeded[0], seeded[1], Clock())) as url:
        yield url


@pytest.fixture(scope="module")
def tabs(base_url: str) -> Iterator[Callable[[str | None, str, str], Any]]:
    """A signed-in tab per (user, language, screen), opened once and reused by the module's tests."""
    opened: dict[tuple[str | None, str, str], Any] = {}
    with chromium_peer() as browser:

        def tab(user: str | None, language: str, screen: str) -> Any:
            key = (user, language, screen)
            if key not in opened:
                context = browser.new_context(viewport=VIEWPORTS[screen], bypass_csp=True)
                context.add_cookies([{"name": "lang", "value": language, "url": base_url}])
                page = context.new_page()
                page.set_default_timeout(15_000)
                if user:
                    page.goto(f"{base_url}/dashboard/sign-in")
                    page.fill("input[name=username]", user)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_load_state()
                opened[key] = page
            return opened[key]

        yield tab
        for page in opened.values():
            page.context.close()


def test_every_page_is_here(base_url: str, seeded: tuple[Engine, str]) -> None:
    app = make_app(seeded[0], seeded[1], Clock())
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("dashboard.")}
    assert endpoints - NOT_PAGES - {p.endpoint for p in PAGES} == set(), "a dashboard page this module does not open"


@pytest.mark.parametrize("screen", VIEWPORTS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("shown", PAGES, ids=[p.name for p in PAGES])
def test_page_fits_the_screen_and_axe_finds_nothing(
    tabs: Callable[[str | None, str, str], Any], base_url: str, samples: dict[str, str], shown: Page, language: str, screen: str
) -> None:
    page = tabs(shown.user, language, screen)
    response = page.goto(base_url + shown.path(samples))
    assert response is not None and response.status == shown.status
    assert page.locator("html").get_attribute("lang") == language.replace("_", "-")
    if page.locator("#map").count():
        page.wait_for_selector("#map[data-ready]")  # drawn: the map's own controls are checked too
    width, screen_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width > screen_width:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                 .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
        )
        pytest.fail(f"{shown.name} is {width} px wide on a {screen_width} px screen: {wide}")
    if not shown.axe:
        return
    if language == LANGUAGES[0]:
        screenshot(page, f"{shown.name}-{screen}", screenshot_dir() / "pages")
    # The phone's layout is the stressed one (wrapped header, scrolling tables, charts as rows);
    # the overview is checked on the monitor too, for its columns chart and its wider map.
    if screen == "phone" or shown.name == "overview":
        violations = axe_violations(page)
        assert not violations, describe(violations)
