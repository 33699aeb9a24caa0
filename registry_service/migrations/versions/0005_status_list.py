"""The signed status list: index blocks handed to centres, one entry per used index, and the
signed lists (registry_service/models/status.py, schemas/status-list.md).

A trigger refuses any UPDATE that lowers an entry's value, on PostgreSQL and SQLite, so a bug or
a hand-written statement cannot clear a revocation in the registry's own books. On PostgreSQL it
also refuses DELETE (an entry that disappears would be published as VALID); SQLite keeps DELETE,
which the test fixtures use to empty tables, and the signer refuses such a list anyway.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE FUNCTION status_entries_never_lower() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'status entry %/% cannot be deleted: a revocation is never undone', OLD.list_id, OLD.idx;
  END IF;
  IF NEW.value < OLD.value OR NEW.list_id <> OLD.list_id OR NEW.idx <> OLD.idx THEN
    RAISE EXCEPTION 'status entry %/% never goes down (% to %)', OLD.list_id, OLD.idx, OLD.value, NEW.value;
  END IF;
  RETURN NEW;
END $$
"""
PG_TRIGGER = """
CREATE TRIGGER status_entries_never_lower BEFORE UPDATE OR DELETE ON status_entries
FOR EACH ROW EXECUTE FUNCTION status_entries_never_lower()
"""
SQLITE_TRIGGER = """
CREATE TRIGGER status_entries_never_lower BEFORE UPDATE ON status_entries
WHEN NEW.value < OLD.value OR NEW.list_id <> OLD.list_id OR NEW.idx <> OLD.idx
BEGIN SELECT RAISE(ABORT, 'a status entry never goes down'); END
"""


def upgrade() -> None:
    op.create_table(
        "status_index_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["inspection_centres.id"], name=op.f("fk_status_index_blocks_centre_id_inspection_centres")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_index_blocks")),
        sa.UniqueConstraint("list_id", "first", name=op.f("uq_status_index_blocks_list_id_first")),
    )
    op.create_index(op.f("ix_status_index_blocks_centre_id"), "status_index_blocks", ["centre_id"], unique=False)
    op.create_table(
        "status_entries",
        sa.Column("list_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cylinder_pk", sa.Integer(), nullable=False),
        sa.Column("record_sequence", sa.Integer(), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("value >= 0 AND value <= 3", name=op.f("ck_status_entries_value_range")),
        sa.ForeignKeyConstraint(["cylinder_pk"], ["cylinders.id"], name=op.f("fk_status_entries_cylinder_pk_cylinders")),
        sa.PrimaryKeyConstraint("list_id", "idx", name=op.f("pk_status_entries")),
    )
    op.create_index(op.f("ix_status_entries_cylinder_pk"), "status_entries", ["cylinder_pk"], unique=False)
    op.create_index("ix_status_entries_list_changed", "status_entries", ["list_id", "changed_at"], unique=False)
    op.create_table(
        "status_lists",
        sa.Column("list_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("ttl_s", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "sequence", name=op.f("pk_status_lists")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.drop_table("status_lists")
    op.drop_index("ix_status_entries_list_changed", table_name="status_entries")
    op.drop_index(op.f("ix_status_entries_cylinder_pk"), table_name="status_entries")
    op.drop_table("status_entries")  # its trigger goes with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION status_entries_never_lower()")
    op.drop_index(op.f("ix_status_index_blocks_centre_id"), table_name="status_index_blocks")
    op.drop_table("status_index_blocks")
