"""Metered fills: quantities on station reports and the registry's last meter reading per pump.
See registry_service/models/meters.py and schemas/station-fault-report.md.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("station_faults") as batch:
        batch.add_column(sa.Column("quantity", sa.Float(), nullable=True))
        batch.add_column(sa.Column("unit", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("totaliser", sa.Float(), nullable=True))
    op.create_table(
        "pump_meters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("pump", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_pump_meters_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pump_meters")),
        sa.UniqueConstraint("station_id", "pump", name=op.f("uq_pump_meters_station_id_pump")),
    )


def downgrade() -> None:
    op.drop_table("pump_meters")
    with op.batch_alter_table("station_faults") as batch:
        batch.drop_column("totaliser")
        batch.drop_column("unit")
        batch.drop_column("quantity")
