"""The rows updated in place on every heartbeat and every metered fill, pump_heartbeats and
pump_meters, updated as heap-only tuples (HOT) on PostgreSQL (issue 17, docs/performance.md
"Planning, the watch's rounds, rows in place").

- pump_heartbeats loses its index on received_at. Every heartbeat changes received_at, so with that
  column indexed no update could be HOT: each wrote new entries in all three indexes. Nothing reads
  by it through the index: the silent-station sweep takes max(received_at) of every pump, a scan of
  the whole (small) table either way.
- Both tables get fillfactor 50: room on each page for the new version of its rows, without which
  an update cannot stay on its page either (measured under bench_registry_ingest.py with this
  migration: pump_meters' reads and updates 0.07-0.11 ms each before, 0.010 and 0.020 ms after). New pages are filled to half; pages already
  full free up as they are pruned, or at once by VACUUM FULL in a quiet hour.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_IN_PLACE = ("pump_heartbeats", "pump_meters")


def upgrade() -> None:
    op.drop_index("ix_pump_heartbeats_received_at", table_name="pump_heartbeats")
    if op.get_bind().dialect.name == "postgresql":  # SQLite updates in place without being asked
        for table in _IN_PLACE:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _IN_PLACE:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.create_index("ix_pump_heartbeats_received_at", "pump_heartbeats", ["received_at"], unique=False)
