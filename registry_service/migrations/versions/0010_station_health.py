"""Station health: opening hours, the latest heartbeat per pump and its history, station alarms
(silent, unexplained quantity). See registry_service/models/health.py.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _heartbeat_columns() -> list[sa.Column[object]]:
    """The columns pump_heartbeats and heartbeat_history share (models/health.py _HeartbeatFields)."""
    return [
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("pump", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_version", sa.String(length=64), nullable=False),
        sa.Column("policy_mode", sa.String(length=16), nullable=False),
        sa.Column("policy_sequence", sa.BigInteger(), nullable=True),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("trust_list_sequence", sa.BigInteger(), nullable=True),
        sa.Column("status_list_sequences", sa.JSON(), nullable=False),
        sa.Column("clock_offset_ms", sa.BigInteger(), nullable=True),
        sa.Column("reader", sa.String(length=8), nullable=False),
        sa.Column("interlock", sa.String(length=8), nullable=False),
        sa.Column("pump_enabled", sa.Boolean(), nullable=False),
        sa.Column("outbox_backlog", sa.BigInteger(), nullable=False),
        sa.Column("last_fill_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totaliser", sa.Float(), nullable=True),
        sa.Column("totaliser_unit", sa.String(length=8), nullable=True),
        sa.Column("faults", sa.JSON(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("opening_hours", sa.String(length=100), nullable=True))
    op.create_table(
        "pump_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        *_heartbeat_columns(),
        sa.Column("history_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_pump_heartbeats_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pump_heartbeats")),
        sa.UniqueConstraint("station_id", "pump", name=op.f("uq_pump_heartbeats_station_id_pump")),
    )
    op.create_index("ix_pump_heartbeats_received_at", "pump_heartbeats", ["received_at"], unique=False)
    op.create_table(
        "heartbeat_history",
        sa.Column("id", sa.Integer(), nullable=False),
        *_heartbeat_columns(),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_heartbeat_history_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeat_history")),
    )
    op.create_index("ix_heartbeat_history_station_received", "heartbeat_history", ["station_id", "received_at"], unique=False)
    op.create_table(
        "station_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("pump", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("silent_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=8), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("report_uuid", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_station_alarms_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_alarms")),
        sa.UniqueConstraint("report_uuid", name=op.f("uq_station_alarms_report_uuid")),
    )
    op.create_index("ix_station_alarms_station_id", "station_alarms", ["station_id"], unique=False)
    op.create_index("ix_station_alarms_station_opened", "station_alarms", ["station_id", "opened_at"], unique=False)
    op.create_index("ix_station_alarms_kind_cleared", "station_alarms", ["kind", "cleared_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_station_alarms_kind_cleared", table_name="station_alarms")
    op.drop_index("ix_station_alarms_station_opened", table_name="station_alarms")
    op.drop_index("ix_station_alarms_station_id", table_name="station_alarms")
    op.drop_table("station_alarms")
    op.drop_index("ix_heartbeat_history_station_received", table_name="heartbeat_history")
    op.drop_table("heartbeat_history")
    op.drop_index("ix_pump_heartbeats_received_at", table_name="pump_heartbeats")
    op.drop_table("pump_heartbeats")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("opening_hours")
