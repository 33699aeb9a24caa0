"""Vehicle owners' contacts (with consent, source and a keep-until day) and the notification
outbox (registry_service/models/notices.py).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_owner_contacts_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_contacts")),
        sa.UniqueConstraint("vehicle_id", "channel", "address", name=op.f("uq_owner_contacts_vehicle_id_channel_address")),
    )
    op.create_index(op.f("ix_owner_contacts_vehicle_id"), "owner_contacts", ["vehicle_id"], unique=False)
    op.create_index(op.f("ix_owner_contacts_retain_until"), "owner_contacts", ["retain_until"], unique=False)
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("cylinder_pk", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_notices_case_id_cases")),
        sa.ForeignKeyConstraint(["contact_id"], ["owner_contacts.id"], name=op.f("fk_notices_contact_id_owner_contacts")),
        sa.ForeignKeyConstraint(["cylinder_pk"], ["cylinders.id"], name=op.f("fk_notices_cylinder_pk_cylinders")),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_notices_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notices_dedupe_key")),
    )
    op.create_index(op.f("ix_notices_vehicle_id"), "notices", ["vehicle_id"], unique=False)
    op.create_index(op.f("ix_notices_case_id"), "notices", ["case_id"], unique=False)
    op.create_index(op.f("ix_notices_contact_id"), "notices", ["contact_id"], unique=False)
    op.create_index("ix_notices_state_next_attempt", "notices", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notices_state_next_attempt", table_name="notices")
    op.drop_index(op.f("ix_notices_contact_id"), table_name="notices")
    op.drop_index(op.f("ix_notices_case_id"), table_name="notices")
    op.drop_index(op.f("ix_notices_vehicle_id"), table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_owner_contacts_retain_until"), table_name="owner_contacts")
    op.drop_index(op.f("ix_owner_contacts_vehicle_id"), table_name="owner_contacts")
    op.drop_table("owner_contacts")
