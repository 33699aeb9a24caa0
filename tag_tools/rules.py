"""The date rules a station and the registry both apply, in one place (no I/O).

Dates on a record (inspected, next_due, end_of_life) are the inspection centre's local calendar
dates, and next_due and end_of_life name the last valid day. "Today" is a calendar date in a
named zone: the station's configured zone offline, the station's zone sent with a status request
online. The station (tag_tools.verify) and the registry (registry_service.services.cylinders)
call these functions so the two can never disagree on a boundary day again.
"""

from datetime import date, datetime, timedelta, timezone, tzinfo

# No place on earth is ahead of UTC+14: a record whose inspection date is later than its issue
# time's date there was issued before the inspection in every zone, whoever reads it.
LATEST_ZONE = timezone(timedelta(hours=14))


def local_today(now: datetime, zone: tzinfo) -> date:
    """The calendar date of the instant `now` in `zone` (`now` must be timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return now.astimezone(zone).date()


def is_overdue(today: date, next_due: date) -> bool:
    """next_due is the last day the periodic inspection is valid."""
    return today > next_due


def is_past_service_life(today: date, end_of_life: date) -> bool:
    """end_of_life is the last day of the design service life."""
    return today > end_of_life


def is_due_soon(today: date, next_due: date, end_of_life: date, warning_days: int, *, refused: bool) -> bool:
    """A warning, only for a cylinder that is not refused: a deadline within `warning_days` days."""
    return not refused and min(next_due, end_of_life) <= today + timedelta(days=warning_days)


def issued_before_inspection(issued_at: datetime, inspected: date, zone: tzinfo) -> bool:
    """True when the record was issued on a local day (in `zone`) before its inspection date.

    A centre signs with its own zone: an inspection at 07:00 in Shanghai is the previous day in
    UTC, and the record is still right. Pass LATEST_ZONE when the reader's zone is unknown.
    """
    return local_today(issued_at, zone) < inspected
