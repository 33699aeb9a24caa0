"""Region outlines for the dashboard's map (models/shapes.py): one GeoJSON shape per region, with
the coordinate datum it was drawn in.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_shapes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column(
            "datum",
            sa.Enum("wgs84", "cgcs2000", "gcj02", name="datum", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("vertices", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_region_shapes_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_shapes")),
        sa.UniqueConstraint("region_id", name=op.f("uq_region_shapes_region_id")),
    )


def downgrade() -> None:
    op.drop_table("region_shapes")
