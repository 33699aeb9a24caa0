"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 07:00:07.022991
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

from registry_service import partitions

# The audit log is append-only for everyone, the registry's own role included.
AUDIT_APPEND_ONLY_SQL = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.Enum("city", "district", "cell", name="regionlevel", native_enum=False, length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["regions.id"], name=op.f("fk_regions_parent_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("code", name=op.f("uq_regions_code")),
    )
    op.create_index(op.f("ix_regions_parent_id"), "regions", ["parent_id"], unique=False)
    op.create_index(op.f("ix_regions_path"), "regions", ["path"], unique=False)

    op.create_table(
        "inspection_centres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_inspection_centres_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_centres")),
        sa.UniqueConstraint("code", name=op.f("uq_inspection_centres_code")),
    )
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_stations_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
        sa.UniqueConstraint("code", name=op.f("uq_stations_code")),
    )
    op.create_index(op.f("ix_stations_region_id"), "stations", ["region_id"], unique=False)

    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=False),
        sa.Column("vin", sa.String(length=32), nullable=True),
        sa.Column("use", sa.String(length=16), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_vehicles_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint("plate", name=op.f("uq_vehicles_plate")),
        sa.UniqueConstraint("vin", name=op.f("uq_vehicles_vin")),
    )
    op.create_index(op.f("ix_vehicles_region_id"), "vehicles", ["region_id"], unique=False)

    op.create_table(
        "centre_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["inspection_centres.id"], name=op.f("fk_centre_certificates_centre_id_inspection_centres")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_certificates")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_centre_certificates_fingerprint")),
    )
    op.create_index(op.f("ix_centre_certificates_centre_id"), "centre_certificates", ["centre_id"], unique=False)
    op.create_index(op.f("ix_centre_certificates_kid"), "centre_certificates", ["kid"], unique=False)

    op.create_table(
        "cylinders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cylinder_id", sa.String(length=80), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("manufacturer", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("working_pressure_bar", sa.Float(), nullable=True),
        sa.Column("capacity_l", sa.Float(), nullable=True),
        sa.Column("manufactured_on", sa.Date(), nullable=False),
        sa.Column("end_of_life", sa.Date(), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("last_result", sa.String(length=16), nullable=True),
        sa.Column(
            "state",
            sa.Enum("active", "condemned", "scrapped", "reported_stolen", name="cylinderstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("tag_uid", sa.String(length=20), nullable=True),
        sa.Column("record_sequence", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_cylinders_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cylinders")),
        sa.UniqueConstraint("cylinder_id", name=op.f("uq_cylinders_cylinder_id")),
    )
    op.create_index(op.f("ix_cylinders_end_of_life"), "cylinders", ["end_of_life"], unique=False)
    op.create_index(op.f("ix_cylinders_next_due"), "cylinders", ["next_due"], unique=False)
    op.create_index(op.f("ix_cylinders_tag_uid"), "cylinders", ["tag_uid"], unique=False)
    op.create_index(op.f("ix_cylinders_vehicle_id"), "cylinders", ["vehicle_id"], unique=False)

    op.create_table(
        "pumps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_pumps_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pumps")),
        sa.UniqueConstraint("station_id", "number", name=op.f("uq_pumps_station_id_number")),
    )
    op.create_table(
        "scan_events",
        sa.Column("event_uuid", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("pump_number", sa.SmallInteger(), nullable=True),
        sa.Column("cylinder_pk", sa.Integer(), nullable=True),
        sa.Column("cylinder_id", sa.String(length=80), nullable=True),
        sa.Column("tag_uid", sa.String(length=20), nullable=True),
        sa.Column("read_counter", sa.Integer(), nullable=True),
        sa.Column("record_sequence", sa.Integer(), nullable=True),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("allowed", "refused", "overridden", "would_refuse", name="outcome", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("reasons", sa.String(length=400), nullable=False),
        sa.Column("reason_mask", sa.BigInteger(), nullable=False),
        sa.Column("attendant", sa.String(length=64), nullable=True),
        sa.Column("decided_offline", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("supervisor", sa.String(length=64), nullable=True),
        sa.Column("override_reason", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("event_uuid", "occurred_at", name=op.f("pk_scan_events")),
        # PostgreSQL: range partitions by day (see registry_service/partitions.py); ignored elsewhere.
        postgresql_partition_by="RANGE (occurred_at)",
    )
    op.create_index("ix_scan_events_cylinder_time", "scan_events", ["cylinder_pk", "occurred_at"], unique=False)
    op.create_index("ix_scan_events_plate_time", "scan_events", ["plate", "occurred_at"], unique=False)
    op.create_index("ix_scan_events_station_time", "scan_events", ["station_id", "occurred_at"], unique=False)
    op.create_index("ix_scan_events_tag_time", "scan_events", ["tag_uid", "occurred_at"], unique=False)
    op.create_index("ix_scan_events_time", "scan_events", ["occurred_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        partitions.create_default_partition(op.get_bind())
        partitions.ensure_daily_partitions(op.get_bind(), date.today(), days_ahead=7)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column(
            "role", sa.Enum("admin", "bureau", "centre", "station", name="role", native_enum=False, length=16), nullable=False
        ),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("centre_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["inspection_centres.id"], name=op.f("fk_users_centre_id_inspection_centres")),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_users_station_id_stations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_ref", sa.String(length=120), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)

    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cylinder_pk", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("report_number", sa.String(length=64), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tag_uid", sa.String(length=20), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["inspection_centres.id"], name=op.f("fk_inspections_centre_id_inspection_centres")
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["centre_certificates.id"], name=op.f("fk_inspections_certificate_id_centre_certificates")
        ),
        sa.ForeignKeyConstraint(["cylinder_pk"], ["cylinders.id"], name=op.f("fk_inspections_cylinder_pk_cylinders")),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name=op.f("fk_inspections_submitted_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("centre_id", "report_number", name=op.f("uq_inspections_centre_id_report_number")),
    )
    op.create_index(op.f("ix_inspections_centre_id"), "inspections", ["centre_id"], unique=False)
    op.create_index(op.f("ix_inspections_cylinder_pk"), "inspections", ["cylinder_pk"], unique=False)

    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cylinder_pk", sa.Integer(), nullable=False),
        sa.Column("cylinder_id", sa.String(length=80), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "condemned", "scrapped", "reported_stolen", "superseded", name="revocationkind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("below_sequence", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_revocations_created_by_users")),
        sa.ForeignKeyConstraint(["cylinder_pk"], ["cylinders.id"], name=op.f("fk_revocations_cylinder_pk_cylinders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
    )
    op.create_index(op.f("ix_revocations_cylinder_pk"), "revocations", ["cylinder_pk"], unique=False)

    op.create_table(
        "trust_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("list_sequence", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_trust_lists_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_lists")),
        sa.UniqueConstraint("sha256", name=op.f("uq_trust_lists_sha256")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_APPEND_ONLY_SQL)


def downgrade() -> None:
    op.drop_table("trust_lists")
    op.drop_table("revocations")
    op.drop_table("inspections")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("scan_events")
    op.drop_table("pumps")
    op.drop_table("cylinders")
    op.drop_table("centre_certificates")
    op.drop_table("vehicles")
    op.drop_table("stations")
    op.drop_table("inspection_centres")
    op.drop_table("regions")
