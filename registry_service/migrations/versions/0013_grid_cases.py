"""Grid supervision: grid people, cases and their timeline (registry_service/models/grid.py,
models/cases.py). The new role "grid" and region level "street" need no schema change: both
enums are stored as plain text.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OPEN = sa.text("state <> 'closed'")
DUE = sa.text("due_at IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "grid_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("duty", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_grid_people_region_id_regions")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_grid_people_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_people")),
        sa.UniqueConstraint("region_id", "user_id", name=op.f("uq_grid_people_region_id_user_id")),
    )
    op.create_index(op.f("ix_grid_people_region_id"), "grid_people", ["region_id"], unique=False)
    op.create_index(op.f("ix_grid_people_user_id"), "grid_people", ["user_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=160), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("handling_region_id", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("cylinder_pk", sa.Integer(), nullable=True),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repeats", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["assignee_user_id"], ["users.id"], name=op.f("fk_cases_assignee_user_id_users")),
        sa.ForeignKeyConstraint(["cylinder_pk"], ["cylinders.id"], name=op.f("fk_cases_cylinder_pk_cylinders")),
        sa.ForeignKeyConstraint(["handling_region_id"], ["regions.id"], name=op.f("fk_cases_handling_region_id_regions")),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_cases_region_id_regions")),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_cases_station_id_stations")),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_cases_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    op.create_index(op.f("ix_cases_region_id"), "cases", ["region_id"], unique=False)
    op.create_index(op.f("ix_cases_handling_region_id"), "cases", ["handling_region_id"], unique=False)
    op.create_index(op.f("ix_cases_opened_at"), "cases", ["opened_at"], unique=False)
    op.create_index(op.f("ix_cases_closed_at"), "cases", ["closed_at"], unique=False)
    op.create_index("ix_cases_handling_state", "cases", ["handling_region_id", "state"], unique=False)
    op.create_index("ix_cases_region_opened", "cases", ["region_id", "opened_at"], unique=False)
    # One open case per subject: a repeat attaches to it (services/cases.py).
    op.create_index("uq_cases_open_subject", "cases", ["subject_key"], unique=True, postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_cases_due", "cases", ["due_at"], unique=False, postgresql_where=DUE, sqlite_where=DUE)
    op.create_index("ix_cases_open_opened", "cases", ["opened_at"], unique=False, postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_table(
        "case_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("photo_path", sa.String(length=300), nullable=True),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_steps_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_steps")),
    )
    op.create_index(op.f("ix_case_steps_case_id"), "case_steps", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_steps_case_id"), table_name="case_steps")
    op.drop_table("case_steps")
    for name in (
        "ix_cases_open_opened",
        "ix_cases_due",
        "uq_cases_open_subject",
        "ix_cases_region_opened",
        "ix_cases_handling_state",
        "ix_cases_closed_at",
        "ix_cases_opened_at",
        "ix_cases_handling_region_id",
        "ix_cases_region_id",
    ):
        op.drop_index(name, table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_grid_people_user_id"), table_name="grid_people")
    op.drop_index(op.f("ix_grid_people_region_id"), table_name="grid_people")
    op.drop_table("grid_people")
