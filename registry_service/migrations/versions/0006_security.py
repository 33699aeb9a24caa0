"""Security hardening (issue 12): the shared log-in throttle, server-side dashboard sessions and
the bureau's condemnation reversals (registry_service/models/security.py, models/reversals.py).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index(op.f("ix_login_throttle_updated_at"), "login_throttle", ["updated_at"], unique=False)
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_dashboard_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_dashboard_sessions_id_hash")),
    )
    op.create_index(op.f("ix_dashboard_sessions_user_id"), "dashboard_sessions", ["user_id"], unique=False)
    op.create_index(op.f("ix_dashboard_sessions_last_seen_at"), "dashboard_sessions", ["last_seen_at"], unique=False)
    op.create_table(
        "condemnation_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cylinder_pk", sa.Integer(), nullable=False),
        sa.Column("cylinder_id", sa.String(length=80), nullable=False),
        sa.Column("revocation_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("reissued_sequence", sa.Integer(), nullable=True),
        sa.Column("reissued_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cylinder_pk"], ["cylinders.id"], name=op.f("fk_condemnation_reversals_cylinder_pk_cylinders")),
        sa.ForeignKeyConstraint(
            ["revocation_id"], ["revocations.id"], name=op.f("fk_condemnation_reversals_revocation_id_revocations")
        ),
        sa.ForeignKeyConstraint(["granted_by"], ["users.id"], name=op.f("fk_condemnation_reversals_granted_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_condemnation_reversals")),
    )
    op.create_index(op.f("ix_condemnation_reversals_cylinder_pk"), "condemnation_reversals", ["cylinder_pk"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_condemnation_reversals_cylinder_pk"), table_name="condemnation_reversals")
    op.drop_table("condemnation_reversals")
    op.drop_index(op.f("ix_dashboard_sessions_last_seen_at"), table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_user_id"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index(op.f("ix_login_throttle_updated_at"), table_name="login_throttle")
    op.drop_table("login_throttle")
