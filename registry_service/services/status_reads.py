"""The reads behind a station's status check, the registry's hottest request.

Two ways to run the same lookups:

- `CoreStatusReads`: SQLAlchemy Core on a connection. Any database; SQLite uses it.
- `PgStatusReads`: hand-written SQL, prepared once per connection and run with libpq's
  PQexecPrepared (psycopg.pq), on a plain autocommit connection that each server thread keeps for
  itself (`ThreadLocalPg`). On PostgreSQL this is what serves status checks: SQLAlchemy's pool
  checkout and statement execution, and even psycopg's cursors, cost several times the indexed
  lookup itself in CPU, and the status check must stay close to a bare Flask + waitress request
  (bench/bench_registry_status.py, docs/performance.md).

Both return `StatusRow`s, so the rules in services/cylinders.py do not know which one ran.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Connection, Engine, bindparam, select

from registry_service.db import PG_BUSY_STATES, Reconnect, libpq_conninfo
from registry_service.errors import DatabaseBusy, ServiceUnavailable
from registry_service.models import Cylinder, CylinderState, Vehicle

log = logging.getLogger(__name__)
T = TypeVar("T")


class StatusRow(NamedTuple):
    cylinder_id: str
    tag_uid: str | None
    state: CylinderState
    next_due: date | None
    end_of_life: date
    last_result: str | None
    record_sequence: int
    vehicle_id: int | None
    plate: str | None


class StatusReads(Protocol):
    def by_plate(self, plate: str) -> list[StatusRow]:
        """The cylinders fitted to this vehicle, in fitting order."""

    def by_cylinder_ids(self, cylinder_ids: list[str]) -> list[StatusRow]: ...

    def by_tag_uids(self, tag_uids: list[str]) -> list[StatusRow]: ...

    def vehicle_id(self, plate: str) -> int | None: ...

    def by_cylinder_ids_for_plate(self, cylinder_ids: list[str], plate: str) -> tuple[list[StatusRow], int | None]:
        """by_cylinder_ids and vehicle_id together (one round trip where the database allows)."""


# --- SQLAlchemy Core ---------------------------------------------------------------------------

_COLUMNS = (
    Cylinder.cylinder_id,
    Cylinder.tag_uid,
    Cylinder.state,
    Cylinder.next_due,
    Cylinder.end_of_life,
    Cylinder.last_result,
    Cylinder.record_sequence,
    Cylinder.vehicle_id,
    Vehicle.plate,
)
# Built once: statement construction costs more than the indexed lookup itself.
_BASE = select(*_COLUMNS).outerjoin(Vehicle, Vehicle.id == Cylinder.vehicle_id)
_BY_PLATE = _BASE.where(Vehicle.plate == bindparam("plate")).order_by(Cylinder.position)
_VEHICLE_BY_PLATE = select(Vehicle.id).where(Vehicle.plate == bindparam("plate"))


class CoreStatusReads:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def by_plate(self, plate: str) -> list[StatusRow]:
        return [StatusRow(*row) for row in self.connection.execute(_BY_PLATE, {"plate": plate})]

    def by_cylinder_ids(self, cylinder_ids: list[str]) -> list[StatusRow]:
        return [StatusRow(*row) for row in self.connection.execute(_BASE.where(Cylinder.cylinder_id.in_(cylinder_ids)))]

    def by_tag_uids(self, tag_uids: list[str]) -> list[StatusRow]:
        return [StatusRow(*row) for row in self.connection.execute(_BASE.where(Cylinder.tag_uid.in_(tag_uids)))]

    def vehicle_id(self, plate: str) -> int | None:
        return self.connection.execute(_VEHICLE_BY_PLATE, {"plate": plate}).scalar()

    def by_cylinder_ids_for_plate(self, cylinder_ids: list[str], plate: str) -> tuple[list[StatusRow], int | None]:
        return self.by_cylinder_ids(cylinder_ids), self.vehicle_id(plate)


# --- PostgreSQL, libpq through psycopg.pq -----------------------------------------------------

# The same queries as above, for PostgreSQL; tests/registry/test_status_path.py checks that both
# ways give the same rows. Arrays (= ANY) keep one prepared statement whatever the list length.
_PG_COLUMNS = (
    "c.cylinder_id, c.tag_uid, c.state, c.next_due, c.end_of_life, c.last_result, c.record_sequence, "
    "c.vehicle_id, v.plate"
)  # StatusRow's fields, in order
_PG_CYLINDERS = "cylinders c LEFT OUTER JOIN vehicles v ON v.id = c.vehicle_id"
_PG_SELECT = f"SELECT {_PG_COLUMNS} FROM {_PG_CYLINDERS} "
_PG_STATEMENTS = {
    b"cg_status_by_plate": _PG_SELECT + "WHERE v.plate = $1 ORDER BY c.position",
    b"cg_status_by_ids": _PG_SELECT + "WHERE c.cylinder_id = ANY($1::text[])",
    b"cg_status_by_uids": _PG_SELECT + "WHERE c.tag_uid = ANY($1::text[])",
    b"cg_vehicle_by_plate": "SELECT id FROM vehicles WHERE plate = $1",
    # One row for the plate's vehicle (its id, or NULL), joined to each cylinder asked for: at least
    # one row even when no cylinder matches, so the vehicle is known in the same round trip.
    b"cg_status_by_ids_for_plate": (
        f"SELECT {_PG_COLUMNS}, asked.id FROM (SELECT (SELECT id FROM vehicles WHERE plate = $2) AS id) asked "
        f"LEFT OUTER JOIN ({_PG_CYLINDERS}) ON c.cylinder_id = ANY($1::text[])"
    ),
}


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _date(value: bytes | None) -> date | None:
    return None if value is None else date.fromisoformat(value.decode())  # DateStyle ISO, set on connect


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def _status_row(v: list[bytes | None]) -> StatusRow:
    # Columns in _PG_COLUMNS order; NOT NULL columns are asserted, not guessed.
    assert v[0] is not None and v[2] is not None and v[4] is not None and v[6] is not None
    return StatusRow(
        v[0].decode(),
        _text(v[1]),
        CylinderState(v[2].decode()),
        _date(v[3]),
        date.fromisoformat(v[4].decode()),
        _text(v[5]),
        int(v[6]),
        _int(v[7]),
        _text(v[8]),
    )


def _text_array(values: list[str]) -> bytes:
    """A PostgreSQL array literal of text values, each quoted (the values are validated ids, but quoting is cheap)."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return ("{" + ",".join(quoted) + "}").encode()


class PgPrepared:
    """Named statements, prepared once per connection and run with libpq's PQexecPrepared
    (psycopg.pq); results are libpq's, text values decoded by the caller.

    psycopg's cursor layer (adaptation, row makers, the Python wait loop) costs twice the CPU of
    this for one-row lookups, and in a GIL-bound server that CPU is throughput. The status reads
    below and the token lookup of a cache miss (principal.resolve_token_row_pg) run this way.
    """

    def __init__(self, pgconn: Any, prepared: set[bytes]) -> None:
        self.pgconn = pgconn  # psycopg.pq.PGconn of an autocommit connection
        self.prepared = prepared  # statement names already prepared on this connection

    def execute(self, name: bytes, sql: str, *arguments: bytes) -> Any:
        """The PGresult of statement `name` (`sql`, prepared under that name on first use)."""
        from psycopg import pq

        if name not in self.prepared:
            prepared = self.pgconn.prepare(name, sql.encode())
            if prepared.status != pq.ExecStatus.COMMAND_OK:
                raise self._error(prepared)
            self.prepared.add(name)
        result = self.pgconn.exec_prepared(name, list(arguments))
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise self._error(result)
        return result

    def _error(self, result: Any) -> Exception:
        """The psycopg error class of the result's SQLSTATE (lock and statement timeouts included)."""
        from psycopg import DatabaseError, OperationalError, errors, pq

        message = (result.error_message or b"").decode(errors="replace").strip() or "no answer"
        if self.pgconn.status != pq.ConnStatus.OK:
            return OperationalError(message)
        sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        try:
            return errors.lookup(sqlstate)(message)
        except KeyError:
            return DatabaseError(message)


class PgStatusReads(PgPrepared):
    """The status reads as the prepared statements in _PG_STATEMENTS."""

    def _run(self, name: bytes, *arguments: bytes) -> Any:
        return self.execute(name, _PG_STATEMENTS[name], *arguments)

    def _rows(self, name: bytes, argument: bytes) -> list[StatusRow]:
        result = self._run(name, argument)
        width = result.nfields
        return [_status_row([result.get_value(row, column) for column in range(width)]) for row in range(result.ntuples)]

    def by_plate(self, plate: str) -> list[StatusRow]:
        return self._rows(b"cg_status_by_plate", plate.encode())

    def by_cylinder_ids(self, cylinder_ids: list[str]) -> list[StatusRow]:
        return self._rows(b"cg_status_by_ids", _text_array(cylinder_ids))

    def by_tag_uids(self, tag_uids: list[str]) -> list[StatusRow]:
        return self._rows(b"cg_status_by_uids", _text_array(tag_uids))

    def vehicle_id(self, plate: str) -> int | None:
        result = self._run(b"cg_vehicle_by_plate", plate.encode())
        return _int(result.get_value(0, 0)) if result.ntuples else None

    def by_cylinder_ids_for_plate(self, cylinder_ids: list[str], plate: str) -> tuple[list[StatusRow], int | None]:
        result = self._run(b"cg_status_by_ids_for_plate", _text_array(cylinder_ids), plate.encode())
        rows = [[result.get_value(row, column) for column in range(10)] for row in range(result.ntuples)]
        return [_status_row(values[:9]) for values in rows if values[0] is not None], _int(rows[0][9])


class ThreadLocalPg:
    """One psycopg connection per server thread, opened on first use and replaced when it breaks.

    waitress runs a fixed set of worker threads, so this adds at most that many connections to the
    pool's. A connection lost with a database restart fails its next statement; the read is then
    retried on a new connection, as db.run_read_only does for SQLAlchemy's pool (db.Reconnect).
    """

    def __init__(
        self, engine: Engine, *, options: str = "", attempts: int = 3, backoff_s: float = 0.2, wait_s: float = 0.0
    ) -> None:
        self._conninfo = libpq_conninfo(engine)
        # force_generic_plan: each statement here is one indexed lookup whose plan does not depend
        # on its values, but with = ANY($1::text[]) PostgreSQL's default ("auto") keeps planning it
        # afresh on every execution, which cost more than the lookup itself (measured with
        # pg_stat_statements under bench_registry_ingest.py: 0.17 ms planning per status read).
        self._options = " ".join(("-c DateStyle=ISO,YMD -c plan_cache_mode=force_generic_plan", options)).strip()
        self._reconnect = Reconnect(attempts, backoff_s, wait_s)
        self._local = threading.local()

    def run(self, work: Callable[[PgStatusReads], T]) -> T:
        """`work` on this thread's connection (its status reads are a PgPrepared for other lookups too)."""
        import psycopg

        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                connection = self._connection()
                return work(PgStatusReads(connection.pgconn, self._local.prepared))
            except psycopg.Error as exc:
                if exc.sqlstate in PG_BUSY_STATES:  # lock_timeout or statement_timeout: the connection is fine
                    raise DatabaseBusy("the database is busy; retry shortly") from exc
                if not isinstance(exc, psycopg.OperationalError):
                    raise
                self._discard()
                pause = self._reconnect.pause_s(attempt, time.monotonic() - started)
                level = logging.WARNING if attempt == 1 else logging.INFO
                log.log(level, "status read: database connection lost (attempt %d): %s", attempt, exc)
                if pause is None:
                    raise ServiceUnavailable("the database is unreachable; retry shortly") from exc
                time.sleep(pause)

    def _connection(self) -> Any:
        import psycopg

        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=5,
                application_name="cylinder-registry",
                client_encoding="UTF8",
                options=self._options,
            )
            self._local.connection = connection
            self._local.prepared = set()
        return connection

    def _discard(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # it is being thrown away; its error does not matter
                log.debug("closing a broken status connection failed", exc_info=True)
