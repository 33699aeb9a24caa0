"""Stations in monitor mode; partial index for the bureau's refused/overridden queries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PROBLEMS = sa.text("outcome IN ('refused', 'overridden')")


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("monitor_mode", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(
        "ix_scan_events_problems",
        "scan_events",
        ["station_id", "occurred_at", "reason_mask", "outcome"],
        unique=False,
        postgresql_where=PROBLEMS,
        sqlite_where=PROBLEMS,
    )


def downgrade() -> None:
    op.drop_index("ix_scan_events_problems", table_name="scan_events")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("monitor_mode")
