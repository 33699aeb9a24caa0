"""Time presets for a page's days: today, the last 7 and 30 days, this year.

A preset is a link with explicit dates (`?since=…&until=…`), so the URL a user copies shows a
colleague the same days and the same numbers, whenever it is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from registry_service.dashboard.filters import DashboardQuery


@dataclass(frozen=True)
class Preset:
    key: str  # "today", "7d", "30d" or "year"
    since: date
    until: date
    current: bool  # the page shows exactly these days

    def query_string(self, query: DashboardQuery) -> str:
        """The page's query string with these days (other filters kept, back to page 1)."""
        return query.query_string(since=self.since, until=self.until, page=None)


def presets(query: DashboardQuery, today: date) -> list[Preset]:
    ranges = {
        "today": (today, today),
        "7d": (today - timedelta(days=6), today),
        "30d": (today - timedelta(days=29), today),
        "year": (today.replace(month=1, day=1), today),
    }
    return [Preset(key, since, until, (query.since, query.until) == (since, until)) for key, (since, until) in ranges.items()]
