"""Per-region day totals, rolled by a scheduled job from the station day totals (issue 17;
models/region_rollups.py, services/region_rollups.py): the overview's daily chart over a year of
the whole country reads 365 rows per top-level region instead of 3.65 M station day totals.

No backfill here: a national year takes the job tens of seconds, which a migration should not
hold. Until the job has run (`cylinder-registry roll-region-totals`, or `serve` within
region_rollup_interval_s) every day is read from scan_day_totals, as before this revision.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OUTCOMES = ("allowed", "refused", "overridden", "would_refuse")


def upgrade() -> None:
    op.create_table(
        "region_day_totals",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in ("scans", *OUTCOMES)),
        sa.PrimaryKeyConstraint("region_id", "day", name=op.f("pk_region_day_totals")),
    )
    op.create_index("ix_region_day_totals_day", "region_day_totals", ["day"], unique=False)
    op.create_table(
        "region_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rolled_until", sa.Date(), nullable=True),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_rollup_state")),
    )
    op.create_table(
        "late_scan_days",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("marks", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "day", name=op.f("pk_late_scan_days")),
    )
    op.create_index("ix_late_scan_days_day", "late_scan_days", ["day"], unique=False)
    op.create_table(
        "region_rollup_stations",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("up", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "region_id", name=op.f("pk_region_rollup_stations")),
    )
    op.create_index("ix_region_rollup_stations_region", "region_rollup_stations", ["region_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_region_rollup_stations_region", table_name="region_rollup_stations")
    op.drop_table("region_rollup_stations")
    op.drop_index("ix_late_scan_days_day", table_name="late_scan_days")
    op.drop_table("late_scan_days")
    op.drop_table("region_rollup_state")
    op.drop_index("ix_region_day_totals_day", table_name="region_day_totals")
    op.drop_table("region_day_totals")
