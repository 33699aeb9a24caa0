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


def check_dashboard(base_url: str, username: str, password: str, station: str, refused: list[Sighting]) -> list[str]:
    """Returns the problems found (empty: the dashboard shows every refused vehicle)."""
    browser = BrowserSession(base_url)
    landing = browser.sign_in(URL_PREFIX, username, password)
    if 'name="password"' in landing:
        return ["sign-in was refused"]
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
