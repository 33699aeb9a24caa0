"""Daily range partitions of scan_events on PostgreSQL (no-ops elsewhere).

A DEFAULT partition catches rows no daily partition covers, so an insert never fails because the
maintenance job was late. When a day's partition is created after rows for that day landed in
the default partition, those rows are moved into it in the same transaction.
Run `cylinder-registry partitions` daily (cron/systemd timer); it is idempotent.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

PARENT = "scan_events"
DEFAULT = "scan_events_default"


def partition_name(day: date) -> str:
    return f"scan_events_p{day:%Y%m%d}"


def create_default_partition(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    connection.execute(text(f"CREATE TABLE IF NOT EXISTS {DEFAULT} PARTITION OF {PARENT} DEFAULT"))


def existing_partitions(connection: Connection) -> set[str]:
    if connection.dialect.name != "postgresql":
        return set()
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": PARENT},
    )
    return {row[0] for row in rows}


def ensure_daily_partitions(connection: Connection, first_day: date, *, days_ahead: int = 7, days_back: int = 0) -> list[str]:
    """Create missing daily partitions from first_day - days_back to first_day + days_ahead."""
    if connection.dialect.name != "postgresql":
        return []
    present = existing_partitions(connection)
    created: list[str] = []
    for offset in range(-days_back, days_ahead + 1):
        day = first_day + timedelta(days=offset)
        name = partition_name(day)
        if name in present:
            continue
        _create_partition(connection, name, day)
        created.append(name)
    if created:
        log.info("created scan_events partitions: %s", ", ".join(created))
    return created


def _create_partition(connection: Connection, name: str, day: date) -> None:
    low, high = f"{day.isoformat()} 00:00:00+00", f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00"
    bounds = {"low": low, "high": high}
    moved = connection.execute(
        text(f"SELECT count(*) FROM {DEFAULT} WHERE occurred_at >= :low AND occurred_at < :high"), bounds
    ).scalar_one()
    if not moved:
        connection.execute(text(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ('{low}') TO ('{high}')"))
        return
    # Rows for this day sit in the default partition: attach would fail, so move them first.
    connection.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    connection.execute(
        text(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE occurred_at >= :low AND occurred_at < :high"),
        bounds,
    )
    connection.execute(text(f"DELETE FROM {DEFAULT} WHERE occurred_at >= :low AND occurred_at < :high"), bounds)
    connection.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"))
    log.info("moved %d rows from %s into %s", moved, DEFAULT, name)


def drop_partitions_before(connection: Connection, cutoff: date) -> list[str]:
    """Retention: drop whole days older than cutoff (instant, unlike DELETE)."""
    dropped = []
    for name in sorted(existing_partitions(connection)):
        if name == DEFAULT:
            continue
        day = date(int(name[-8:-4]), int(name[-4:-2]), int(name[-2:]))
        if day < cutoff:
            connection.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped
