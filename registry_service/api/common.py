"""Helpers shared by the blueprints: the unit of work, the clock, JSON and CSV responses."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from flask import Response, jsonify
from sqlalchemy.orm import Session

from registry_service.node import registry

T = TypeVar("T")


def tx(work: Callable[[Session], T]) -> T:
    return registry().transaction(work)


def report_tx(work: Callable[[Session], T]) -> T:
    """The bureau's read-only queries: on a fresh-enough replica when one is configured (Registry.report)."""
    return registry().report(work)


def station_tx(work: Callable[[Session], T]) -> T:
    """A station's upload: a transaction bounded like the station's other calls (Registry.station_transaction)."""
    return registry().station_transaction(work)


def now() -> datetime:
    return registry().clock()


def created(body: Any) -> tuple[Response, int]:
    return jsonify(body), 201


def csv_response(rows: Iterable[Mapping[str, Any]], columns: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    response = Response("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # no formula injection when the bureau opens the file in a spreadsheet
    return value
