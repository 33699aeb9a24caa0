"""The clone watch's queue (issue 17; docs/scaling.md "Remaining work, plainly", item 3): each upload
that stored new scans with a tag UID or cylinder ID leaves a row in clone_arrivals, and the watch
job (clone_watch.py) judges those scans and deletes the row. The upload no longer reads other
stations' scans in its own transaction, the last thing that kept scan_events from being
distributed by station on Citus. Keyed by (station_id, arrival_uuid), so it can be distributed
beside scan_events.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clone_arrivals",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("arrival_uuid", sa.Uuid(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("cylinders", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "arrival_uuid", name=op.f("pk_clone_arrivals")),
    )
    op.create_index("ix_clone_arrivals_received_at", "clone_arrivals", ["received_at"], unique=False)


def downgrade() -> None:
    # Scans still queued would go unjudged: judge them first (`cylinder-registry watch-clones`).
    op.drop_index("ix_clone_arrivals_received_at", table_name="clone_arrivals")
    op.drop_table("clone_arrivals")
