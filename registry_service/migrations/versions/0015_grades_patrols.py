"""Station grades and patrols with their checklist results (registry_service/models/grades.py).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("deciding", sa.JSON(), nullable=False),
        sa.Column("patrol_interval_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_station_grades_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_grades")),
    )
    op.create_index("ix_station_grades_station_computed", "station_grades", ["station_id", "computed_at"], unique=False)
    op.create_index("ix_station_grades_computed_at", "station_grades", ["computed_at"], unique=False)
    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=False),
        sa.Column("officer", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_patrols_station_id_stations")),
        sa.ForeignKeyConstraint(["officer_user_id"], ["users.id"], name=op.f("fk_patrols_officer_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrols")),
    )
    op.create_index("ix_patrols_station_at", "patrols", ["station_id", "at"], unique=False)
    op.create_index("ix_patrols_officer_user_id", "patrols", ["officer_user_id"], unique=False)
    op.create_index("ix_patrols_at", "patrols", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patrols_at", table_name="patrols")
    op.drop_index("ix_patrols_officer_user_id", table_name="patrols")
    op.drop_index("ix_patrols_station_at", table_name="patrols")
    op.drop_table("patrols")
    op.drop_index("ix_station_grades_computed_at", table_name="station_grades")
    op.drop_index("ix_station_grades_station_computed", table_name="station_grades")
    op.drop_table("station_grades")
