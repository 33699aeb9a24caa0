"""Roll-ups for the bureau's overview (issue 14): scans per local day, station, outcome and reason
bits (scan_day_counts), clone suspects found as events arrive (clone_suspects), and an index on
scan_events (cylinder_id, occurred_at) by which the clone rules find a cylinder's previous scan.

Backfill: the day counts are filled here from the events already stored, with UTC+8 days (the
default report_utc_offset_hours; this SQL is frozen, it does not follow later changes to the
services). Clone suspects among events stored before this revision are not looked for here:
`cylinder-registry rebuild-rollups` finds them (and recounts the days with the configured offset);
run it once after upgrading a registry that has scan events. New events are counted and judged
as they arrive.

On PostgreSQL the new index is built on every partition of scan_events while the table is locked
for writes: on a large registry, upgrade in a quiet hour.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("registry_service.migrations")
OFFSET_HOURS = 8
LOCAL_DAY = {
    "sqlite": f"date(e.occurred_at, '+{OFFSET_HOURS} hours')",
    "postgresql": f"date(timezone('UTC', e.occurred_at) + interval '{OFFSET_HOURS} hours')",
}


def upgrade() -> None:
    op.create_table(
        "scan_day_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("allowed", "refused", "overridden", "would_refuse", name="outcome", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("reason_mask", sa.BigInteger(), nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "station_id", "region_id", "outcome", "reason_mask", name=op.f("pk_scan_day_counts")),
    )
    op.create_index("ix_scan_day_counts_station_day", "scan_day_counts", ["station_id", "day"], unique=False)
    op.create_table(
        "clone_suspects",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("slot", sa.String(length=36), nullable=False),
        sa.Column("event_uuid", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_station_id", sa.Integer(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key_type", "key", "slot", name=op.f("pk_clone_suspects")),
    )
    op.create_index("ix_clone_suspects_at", "clone_suspects", ["at"], unique=False)
    op.create_index("ix_clone_suspects_station_at", "clone_suspects", ["station_id", "at"], unique=False)
    op.create_index("ix_scan_events_cylinder_id_time", "scan_events", ["cylinder_id", "occurred_at"], unique=False)
    _backfill_day_counts()


def _backfill_day_counts() -> None:
    bind = op.get_bind()
    day = LOCAL_DAY[bind.dialect.name]
    result = bind.execute(
        sa.text(
            "INSERT INTO scan_day_counts (day, station_id, region_id, outcome, reason_mask, scans) "
            f"SELECT {day}, e.station_id, s.region_id, e.outcome, e.reason_mask, count(*) "
            "FROM scan_events e JOIN stations s ON s.id = e.station_id "
            f"GROUP BY {day}, e.station_id, s.region_id, e.outcome, e.reason_mask"
        )
    )
    if result.rowcount:
        log.warning(
            "scan_day_counts: %d rows counted from stored events; run `cylinder-registry rebuild-rollups` "
            "to find the clone suspects among them",
            result.rowcount,
        )


def downgrade() -> None:
    op.drop_index("ix_scan_events_cylinder_id_time", table_name="scan_events")
    op.drop_index("ix_clone_suspects_station_at", table_name="clone_suspects")
    op.drop_index("ix_clone_suspects_at", table_name="clone_suspects")
    op.drop_table("clone_suspects")
    op.drop_index("ix_scan_day_counts_station_day", table_name="scan_day_counts")
    op.drop_table("scan_day_counts")
