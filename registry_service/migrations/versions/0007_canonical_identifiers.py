"""Stored identifiers in canonical form (issue 12): plates, VINs, cylinder IDs and tag UIDs already
in the database are rewritten the way tag_tools.identifiers writes every new one (NFKC, upper case,
separators removed: "豫Ａ·12345" -> "豫A12345", "04:a1:b2:c3" -> "04A1B2C3", "156-04101-7" -> "156-4101-7").
No schema change; SQLite and PostgreSQL alike.

Registers (vehicles.plate, vehicles.vin, cylinders.cylinder_id, cylinders.tag_uid) are rewritten row
by row. CONFLICTS ARE NOT MERGED: when two rows would get the same canonical value, or a row's
canonical value is already held by another row, none of those rows is touched. Whether "豫a12345"
and "豫A12345" are one vehicle with two cylinder lists or a typing mistake is the bureau's decision,
not a migration's. Each conflict is printed to stderr and logged as a warning (logger
"registry_service.migrations") with the table, the column, the canonical value and the rows' ids and
spellings; the migration still succeeds, and the rows keep working as before (lookups by the
canonical spelling do not find them until the bureau resolves the conflict). Values that are not
identifiers at all (canonicalisation refuses them) are left as they are and reported the same way.

History (scan_events, inspections, revocations, condemnation_reversals) has no uniqueness: each
distinct stored value is rewritten with one UPDATE per value (on scan_events this walks the plate,
tag and cylinder indexes, not the rows one by one).

Downgrade changes nothing: canonical values are valid under the old rules, and the spellings they
replaced are not kept.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from tag_tools import identifiers

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("registry_service.migrations")
Check = Callable[[object, str], str]

REGISTERS: tuple[tuple[str, str, Check], ...] = (
    ("vehicles", "plate", identifiers.plate),
    ("vehicles", "vin", identifiers.vin),
    ("cylinders", "cylinder_id", identifiers.cylinder_id),
    ("cylinders", "tag_uid", identifiers.tag_uid),
)
HISTORY: tuple[tuple[str, str, Check], ...] = (
    ("inspections", "tag_uid", identifiers.tag_uid),
    ("revocations", "cylinder_id", identifiers.cylinder_id),
    ("condemnation_reversals", "cylinder_id", identifiers.cylinder_id),
    ("scan_events", "plate", identifiers.plate),
    ("scan_events", "cylinder_id", identifiers.cylinder_id),
    ("scan_events", "tag_uid", identifiers.tag_uid),
)
MAX_LISTED = 20  # invalid values listed per column; the rest are counted


def upgrade() -> None:
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    for table, column, check in REGISTERS:
        rewrite_register(bind, table, column, check)
    for table, column, check in HISTORY:
        if table in tables:
            rewrite_history(bind, table, column, check)


def downgrade() -> None:
    pass


def _canonical(check: Check, value: str, column: str) -> str | None:
    try:
        return check(value, column)
    except identifiers.IdentifierError:
        return None


def report(message: str) -> None:
    log.warning(message)
    print(f"migration 0007: {message}", file=sys.stderr)


def rewrite_register(bind: sa.Connection, table: str, column: str, check: Check) -> None:
    """Rewrite one unique column row by row; rows that would collide are left and reported."""
    rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id")).all()
    held = {value: row_id for row_id, value in rows}
    moving: dict[str, list[tuple[int, str]]] = defaultdict(list)
    invalid: list[tuple[int, str]] = []
    for row_id, value in rows:
        canonical = _canonical(check, value, column)
        if canonical is None:
            invalid.append((row_id, value))
        elif canonical != value:
            moving[canonical].append((row_id, value))
    update = sa.text(f"UPDATE {table} SET {column} = :new WHERE id = :id")
    for canonical, movers in moving.items():
        holder = held.get(canonical)
        if holder is not None or len(movers) > 1:
            spellings = ([(holder, canonical)] if holder is not None else []) + movers
            listed = ", ".join(f"id {row_id} {value!r}" for row_id, value in spellings)
            report(
                f"CONFLICT {table}.{column}: {len(spellings)} rows would all become {canonical!r} "
                f"({listed}); left unchanged for the bureau to resolve"
            )
            continue
        row_id, _ = movers[0]
        bind.execute(update, {"new": canonical, "id": row_id})
    _report_invalid(table, column, [f"id {row_id} {value!r}" for row_id, value in invalid])


def rewrite_history(bind: sa.Connection, table: str, column: str, check: Check) -> None:
    """Rewrite each distinct value of a column without uniqueness with one UPDATE."""
    values = bind.execute(sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")).scalars().all()
    update = sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old")
    invalid = []
    for value in values:
        canonical = _canonical(check, value, column)
        if canonical is None:
            invalid.append(repr(value))
        elif canonical != value:
            bind.execute(update, {"new": canonical, "old": value})
    _report_invalid(table, column, invalid)


def _report_invalid(table: str, column: str, described: list[str]) -> None:
    if not described:
        return
    shown = ", ".join(described[:MAX_LISTED]) + (
        f" and {len(described) - MAX_LISTED} more" if len(described) > MAX_LISTED else ""
    )
    report(f"{table}.{column}: {len(described)} value(s) are not valid identifiers and were left as stored: {shown}")
