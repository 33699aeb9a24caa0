"""Scan events from stations with a wrong clock: the station's time as sent, its measured clock
offset and a skew flag beside the corrected occurred_at (services/events.py).

Adding nullable columns and one with a constant default rewrites no rows, on PostgreSQL's
partitioned table (the columns reach every partition) as on SQLite.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SKEWED = sa.text("clock_skewed")


def upgrade() -> None:
    op.add_column("scan_events", sa.Column("station_time", sa.DateTime(timezone=True), nullable=True))
    op.add_column("scan_events", sa.Column("clock_offset_ms", sa.BigInteger(), nullable=True))
    op.add_column("scan_events", sa.Column("clock_skewed", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        "ix_scan_events_skewed",
        "scan_events",
        ["station_id", "occurred_at"],
        unique=False,
        postgresql_where=SKEWED,
        sqlite_where=SKEWED,
    )


def downgrade() -> None:
    op.drop_index("ix_scan_events_skewed", table_name="scan_events")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no table copy, none of these is indexed.
    for column in ("clock_skewed", "clock_offset_ms", "station_time"):
        op.drop_column("scan_events", column)
