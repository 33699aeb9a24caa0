"""Central station policies set by the bureau and the signed documents published to stations
(registry_service/models/policies.py, schemas/station-policy.md).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=True),
        sa.Column("warning_days", sa.Integer(), nullable=True),
        sa.Column("overridable", sa.String(length=2000), nullable=True),
        sa.Column("min_refill_interval_s", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=400), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(station_id IS NULL) <> (region_id IS NULL)", name=op.f("ck_station_policies_one_scope")),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_station_policies_region_id_regions")),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_station_policies_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_policies")),
        sa.UniqueConstraint("region_id", name=op.f("uq_station_policies_region_id")),
        sa.UniqueConstraint("station_id", name=op.f("uq_station_policies_station_id")),
    )
    op.create_table(
        "policy_documents",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("terms_sha256", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_policy_documents_station_id_stations")),
        sa.PrimaryKeyConstraint("sequence", "station_id", name=op.f("pk_policy_documents")),
    )
    op.create_index("ix_policy_documents_station_sequence", "policy_documents", ["station_id", "sequence"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_policy_documents_station_sequence", table_name="policy_documents")
    op.drop_table("policy_documents")
    op.drop_table("station_policies")
