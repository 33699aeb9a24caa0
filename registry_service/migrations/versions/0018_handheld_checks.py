"""Checks recorded with the handheld verifier (registry_service/models/handheld.py, docs/handheld.md).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handheld_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_uuid", sa.Uuid(), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=False),
        sa.Column("officer", sa.String(length=80), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("cylinder_id", sa.String(length=64), nullable=True),
        sa.Column("tag_uid", sa.String(length=32), nullable=True),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status_checked", sa.Boolean(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["officer_user_id"], ["users.id"], name=op.f("fk_handheld_checks_officer_user_id_users")),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_handheld_checks_region_id_regions")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_handheld_checks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handheld_checks")),
        sa.UniqueConstraint("check_uuid", name=op.f("uq_handheld_checks_check_uuid")),
    )
    op.create_index("ix_handheld_checks_checked_at", "handheld_checks", ["checked_at"], unique=False)
    op.create_index("ix_handheld_checks_cylinder_id", "handheld_checks", ["cylinder_id"], unique=False)
    op.create_index("ix_handheld_checks_region_id", "handheld_checks", ["region_id"], unique=False)
    op.create_index("ix_handheld_checks_officer_checked", "handheld_checks", ["officer_user_id", "checked_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_handheld_checks_officer_checked", table_name="handheld_checks")
    op.drop_index("ix_handheld_checks_region_id", table_name="handheld_checks")
    op.drop_index("ix_handheld_checks_cylinder_id", table_name="handheld_checks")
    op.drop_index("ix_handheld_checks_checked_at", table_name="handheld_checks")
    op.drop_table("handheld_checks")
