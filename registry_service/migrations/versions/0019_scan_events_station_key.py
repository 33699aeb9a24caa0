"""The station in every unique key of the per-station tables, and 64-bit ids (issue 17;
docs/scaling.md "Remaining work, plainly", items 1 and 4): nothing in the keys stops distributing
these tables by station_id on Citus, whose distributed tables can only enforce a unique key that
contains the distribution column.

- scan_events: primary key (event_uuid, occurred_at) -> (station_id, event_uuid, occurred_at).
  An event is a station's: a retry (always the same authenticated station) still conflicts on the
  key and is skipped; the same UUID sent by another station is another station's event.
- station_faults: unique (report_uuid) -> (station_id, report_uuid), so a report is also a
  station's; primary key (id) -> (station_id, id) and id bigint on PostgreSQL.
- heartbeat_history: primary key (id) -> (station_id, id) and id bigint on PostgreSQL.
- station_alarms: unique (report_uuid) -> (station_id, report_uuid): an agent's alarm is keyed by
  the fault report that raised it, so the two keys must agree (another station's report with the
  same UUID opens its own alarm).

SQLite keeps `id INTEGER PRIMARY KEY` in station_faults and heartbeat_history: it is the rowid,
64-bit already, and SQLite assigns ids to a single-column integer key only. Citus is PostgreSQL's.

PostgreSQL, scan_events (range-partitioned by day): each partition gets its new key from a unique
index built on it first, and the parent's key then adopts those instead of building its own.
In this migration the indexes are built while the table is locked for writes; on a large
registry build them beforehand without blocking writes, one statement per partition (outside a
transaction), and the migration only swaps the keys:

    CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS <partition>_station_key
        ON <partition> (station_id, event_uuid, occurred_at);

(partitions: `SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'scan_events'::regclass`;
an index left invalid by a failed build is dropped and built again here.) The id type change
rewrites station_faults and heartbeat_history under a write lock: upgrade in a quiet hour.

Downgrade refuses (errors.Conflict, nothing changed) when the old keys cannot hold the data: one
event or report UUID stored by two stations, or an id beyond 32 bits. A sequence that ran past 32
bits over ids that fit is set back to the highest id + 1.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry_service import partitions
from registry_service.errors import Conflict

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

EVENT_KEY = ("station_id", "event_uuid", "occurred_at")
OLD_EVENT_KEY = ("event_uuid", "occurred_at")
BIG_ID_TABLES = ("station_faults", "heartbeat_history")  # PostgreSQL: bigint id, (station_id, id) key
REPORT_KEYED = ("station_faults", "station_alarms")  # unique report_uuid -> (station_id, report_uuid)
INT_MAX = 2**31 - 1


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        _pg_rekey_scan_events(EVENT_KEY, "station_key")
    else:
        _sqlite_rekey_scan_events(EVENT_KEY)
    for table in REPORT_KEYED:
        _report_key(table, ("station_id", "report_uuid"), ("report_uuid",))
    if postgresql:
        for table in BIG_ID_TABLES:
            _pg_id(table, "bigint", ("station_id", "id"))


def downgrade() -> None:
    _refuse_if_shared(OLD_EVENT_KEY, "scan_events", "event")
    for table in REPORT_KEYED:
        _refuse_if_shared(("report_uuid",), table, "report")
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for table in BIG_ID_TABLES:
            highest = op.get_bind().scalar(sa.text(f"SELECT max(id) FROM {table}"))
            if highest is not None and highest > INT_MAX:
                raise Conflict(f"{table}: id {highest} does not fit the 32-bit id of revision 0018; not downgraded")
        for table in BIG_ID_TABLES:
            _pg_id(table, "integer", ("id",))
    for table in REPORT_KEYED:
        _report_key(table, ("report_uuid",), ("station_id", "report_uuid"))
    if postgresql:
        _pg_rekey_scan_events(OLD_EVENT_KEY, "uuid_key")
    else:
        _sqlite_rekey_scan_events(OLD_EVENT_KEY)


def _refuse_if_shared(key: tuple[str, ...], table: str, what: str) -> None:
    """The old key without station_id must be unique in the stored rows, or the downgrade stops."""
    listed = ", ".join(key)
    shared = op.get_bind().scalar(
        sa.text(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {key[0]} IS NOT NULL "
            f"GROUP BY {listed} HAVING count(*) > 1) AS shared"
        )
    )
    if shared:
        raise Conflict(
            f"{table}: {shared} {what} UUID(s) are stored by more than one station; the key ({listed}) of "
            "revision 0018 cannot hold them; not downgraded"
        )


def _pg_rekey_scan_events(key: tuple[str, ...], suffix: str) -> None:
    """The partitioned parent's primary key to `key`. Each partition's key is made from a unique
    index on it (built here unless it is already there and valid), then the parent's key adopts
    the partitions' keys (PostgreSQL attaches a partition's matching key rather than building
    one); a partition added meanwhile gets its key built by the parent's."""
    bind = op.get_bind()
    names = sorted(partitions.existing_partitions(bind))
    listed = ", ".join(key)
    invalid = set(
        bind.execute(
            sa.text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = ANY(:names)"
            ),
            {"names": [f"{name}_{suffix}" for name in names]},
        ).scalars()
    )
    for name in names:
        index = f"{name}_{suffix}"
        if index in invalid:
            op.execute(f"DROP INDEX {index}")
        op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {name} ({listed})")
    op.execute("ALTER TABLE scan_events DROP CONSTRAINT pk_scan_events")  # and the partitions' keys with it
    for name in names:
        op.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY USING INDEX {name}_{suffix}")
    op.execute(f"ALTER TABLE scan_events ADD CONSTRAINT pk_scan_events PRIMARY KEY ({listed})")


def _sqlite_rekey_scan_events(key: tuple[str, ...]) -> None:
    """SQLite cannot alter a primary key: the table is copied (batch mode), its indexes with it."""
    with op.batch_alter_table("scan_events", recreate="always") as batch:
        batch.drop_constraint("pk_scan_events", type_="primary")
        batch.create_primary_key("pk_scan_events", list(key))


def _report_key(table: str, key: tuple[str, ...], old: tuple[str, ...]) -> None:
    with op.batch_alter_table(table) as batch:  # SQLite: a copy of the table; PostgreSQL: ALTER TABLE
        batch.drop_constraint(f"uq_{table}_{'_'.join(old)}", type_="unique")
        batch.create_unique_constraint(f"uq_{table}_{'_'.join(key)}", list(key))


def _pg_id(table: str, type_: str, key: tuple[str, ...]) -> None:
    """The id's type (its sequence's too: a serial's sequence stops at the old type's maximum) and
    the primary key, in one ALTER TABLE: the table is rewritten once."""
    op.execute(
        f"ALTER TABLE {table} ALTER COLUMN id TYPE {type_}, DROP CONSTRAINT pk_{table}, "
        f"ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(key)})"
    )
    bind = op.get_bind()
    sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table})
    if sequence is None:
        return
    if type_ == "integer":  # back to 32 bits: the rows fit (checked), the sequence may have run past
        last = bind.scalar(sa.text(f"SELECT last_value FROM {sequence}"))
        if last is not None and last > INT_MAX:
            bind.execute(
                sa.text(f"SELECT setval(:sequence, coalesce(max(id), 0) + 1, false) FROM {table}"), {"sequence": sequence}
            )
    op.execute(f"ALTER SEQUENCE {sequence} AS {type_}")
