"""Statements sent to psycopg as they are, for the upload paths on PostgreSQL: batches as one JSON
document (`json_document`) and $n-placeholder statements run on the session's connection
(`DriverStatement`, `driver_rows`). Used by services/events.py, clones.py and station_faults.py.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow, tuple_row
from sqlalchemy.orm import Session


def json_value(value: object) -> str:
    """json.dumps's fallback for the column types JSON lacks (rows sent as one JSON document)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def json_document(rows: list[dict[str, Any]]) -> str:
    """Rows as one compact JSON document for PostgreSQL to unpack (json_to_recordset and the like)."""
    return _ROWS_ENCODER.encode(rows)


# One encoder for every document: json.dumps with options builds a new one per call.
_ROWS_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_value)


# The statements every upload sends on PostgreSQL (services/events.py, services/clones.py) go to
# psycopg's RawCursor with $n placeholders, in the session's transaction: psycopg takes them as they
# are (it rewrites %(name)s placeholders on every execution of a statement over 4 KB) and prepares
# them once per connection, and the rows come back as the driver's tuples, without the result
# metadata SQLAlchemy builds from the columns' description on every execution (for watch()'s
# 26 columns, as much CPU as the rest of the call). The values are the driver's, as exec_driver_sql
# gave them. A database error is handed to SQLAlchemy as one from any statement: wrapped in its
# DBAPIError, told to the handle_error listeners (db.py, metrics.py) and, for a lost connection,
# the connection invalidated.


@dataclass(frozen=True)
class DriverStatement:
    """A statement for `driver_rows`: $n placeholders and the parameter each one takes."""

    sql: str
    names: tuple[str, ...]  # the parameter of $1, $2, ...

    @classmethod
    def of(cls, sql: str) -> DriverStatement:
        """From %(name)s placeholders, numbered as psycopg numbers them (a repeated name: one $n)."""
        names: list[str] = []

        def numbered(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        converted = re.sub(r"%\((\w+)\)s", numbered, sql)
        if "%" in converted:
            raise ValueError("only %(name)s placeholders, no other % (RawCursor sends it as it is)")
        return cls(converted, tuple(names))

    def values(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(parameters[name] for name in self.names)


def driver_rows(session: Session, sql: str, values: Sequence[Any] = ()) -> list[TupleRow]:
    """Run a statement with $n placeholders (PostgreSQL) in the session's transaction; its rows."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection), "the registry's PostgreSQL driver is psycopg 3"
    cursor = psycopg.RawCursor(driver, row_factory=tuple_row)
    try:
        cursor.execute(sql, values)
        return cursor.fetchall()
    except psycopg.Error as error:
        # What Connection.exec_driver_sql does with the error (it raises); SQLAlchemy's DBAPICursor
        # protocol and psycopg's typed cursor differ only in their annotations.
        connection._handle_dbapi_exception(error, sql, values, cursor, None)  # type: ignore[arg-type]
    finally:
        cursor.close()
