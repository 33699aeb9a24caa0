"""The acceptance check, done as an officer would: sign in to the dashboard over HTTP and find
each refused vehicle among the demo station's refused attempts (by plate, or by tag UID when the
record was not trustworthy enough to name a plate)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from cylinder_demo.client import BrowserSession
from registry_service.dashboard import URL_PREFIX

REFUSED_ROW = '<tr class="refused">'


@dataclass(frozen=True)
class Sighting:
    """What to look for: the plate on the list, else the tag's own attempts."""

    plate: str | None
    tag_uid: str


def signed_in(base_url: str, username: str, password: str) -> BrowserSession | None:
    """A session signed in to the dashboard with the printed user and password, or None if refused."""
    browser = BrowserSession(base_url)
    landing = browser.sign_in(URL_PREFIX, username, password)
    return None if 'name="password"' in landing else browser


def check_centre_sign_in(base_url: str, username: str, password: str) -> list[str]:
    """The centre's sign-in works and shows the centre's inspections (its landing page)."""
    browser = signed_in(base_url, username, password)
    if browser is None:
        return [f"sign-in as {username} was refused"]
    browser.get(f"{URL_PREFIX}/inspections")  # renders for the centre (an error page raises)
    return []


def check_dashboard(base_url: str, username: str, password: str, station: str, refused: list[Sighting]) -> list[str]:
    """Returns the problems found (empty: the dashboard shows every refused vehicle)."""
    browser = signed_in(base_url, username, password)
    if browser is None:
        return [f"sign-in as {username} was refused"]
    problems = []
    browser.get(f"{URL_PREFIX}/overview")  # the landing page renders (an error page raises)
    scope = {"station": station, "outcome": "refused"}
    page = browser.get(f"{URL_PREFIX}/attempts?{urllib.parse.urlencode(scope)}")
    for sighting in refused:
        if sighting.plate is not None:
            if sighting.plate not in page:
                problems.append(f"{sighting.plate} is not among the station's refused attempts")
            continue
        by_tag = browser.get(f"{URL_PREFIX}/attempts?{urllib.parse.urlencode({**scope, 'tag_uid': sighting.tag_uid})}")
        if REFUSED_ROW not in by_tag:
            problems.append(f"no refused attempt for tag {sighting.tag_uid}")
    return problems


def check_grid_cases(base_url: str, username: str, password: str, numbers: list[str]) -> list[str]:
    """The cell's grid officer signs in and finds each case the refused vehicles opened on its case
    list, and one case's page opens (docs/grid.md: every problem found becomes a case)."""
    if not numbers:
        return ["the refused vehicles opened no case"]
    browser = signed_in(base_url, username, password)
    if browser is None:
        return [f"sign-in as {username} was refused"]
    listed = browser.get(f"{URL_PREFIX}/cases?state=open")
    problems = [f"case {number} is not on {username}'s case list" for number in numbers if number not in listed]
    if numbers[0] not in browser.get(f"{URL_PREFIX}/cases/{urllib.parse.quote(numbers[0])}"):
        problems.append(f"case {numbers[0]}'s page does not open for {username}")
    return problems
