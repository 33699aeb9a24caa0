"""Station fault reports (schemas/station-fault-report.md).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_uuid", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("pump", sa.Integer(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("malformed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_station_faults_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_faults")),
        sa.UniqueConstraint("report_uuid", name=op.f("uq_station_faults_report_uuid")),
    )
    op.create_index("ix_station_faults_received", "station_faults", ["received_at"], unique=False)
    op.create_index("ix_station_faults_station_received", "station_faults", ["station_id", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_station_faults_station_received", table_name="station_faults")
    op.drop_index("ix_station_faults_received", table_name="station_faults")
    op.drop_table("station_faults")
