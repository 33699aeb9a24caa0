"""A clerk's cells checked in the clerk's words: each message names the column and shows the value
("next_due: 2026/11/25 is not a date like 2026-11-25"), in the clerk's language (gettext domain
"clerk", tag_tools/locale/<locale>/LC_MESSAGES/clerk.po). Every cell of a row is checked before
the row is refused, so one pass over the refused rows fixes them all.

A parser takes a cell's text (never empty: an empty cell is a value not given) and returns the
value or raises CellProblem; RowCells applies parsers to a tag_tools.clerk_csv row and gathers the
problems. The columns of an inspection batch (`cylinder-tag sign --csv`) are at the end; the
registry's import keeps its own (registry_service/csv_import.py). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import TypeVar

from tag_tools import identifiers
from tag_tools.claims import CylinderKind, InspectionResult
from tag_tools.clerk_csv import ClerkRow, say, shown
from tag_tools.errors import InputError
from tag_tools.fields import has_forbidden_character

T = TypeVar("T")
Parser = Callable[[str], T]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# What Excel shows a long number as once it has taken a column of IDs for numbers: 4.12346E+12.
_EXCEL_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?E\+?[0-9]+", re.IGNORECASE)
# 合格 / 不合格 as the inspection report says it; pass / fail as the record's JSON spells it.
RESULTS = {
    "合格": InspectionResult.PASSED,
    "不合格": InspectionResult.FAILED,
    "pass": InspectionResult.PASSED,
    "passed": InspectionResult.PASSED,
    "fail": InspectionResult.FAILED,
    "failed": InspectionResult.FAILED,
}


class CellProblem(Exception):
    """What is wrong with one cell: a message of the clerk domain and its placeholders."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


class RowError(InputError):
    """A refused row; the message names each bad cell in the clerk's words."""


def text(value: str) -> str:
    if has_forbidden_character(value):
        raise CellProblem("cell.text")
    return value


def day(value: str) -> date:
    """A calendar date written YYYY-MM-DD, the one form that reads the same everywhere."""
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass  # 2026-02-30: the same answer as any other non-date
    raise CellProblem("cell.date")


def moment(value: str) -> str:
    """A time with its zone, as the record's issued_at: checked here, kept as typed."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CellProblem("cell.time")
    return value


def plate(value: str) -> str:
    try:
        return identifiers.plate(value)
    except identifiers.IdentifierError:
        typed = value.upper()
        if typed[:1] in identifiers.CN_PROVINCES and ("O" in typed[1:] or "I" in typed[1:]):
            raise CellProblem("cell.plate_i_o") from None
        raise CellProblem("cell.plate") from None


def vin(value: str) -> str:
    try:
        return identifiers.vin(value)
    except identifiers.IdentifierError:
        raise CellProblem("cell.vin") from None


def cylinder_id(value: str) -> str:
    try:
        return identifiers.cylinder_id(value)
    except identifiers.IdentifierError:
        raise CellProblem("cell.cylinder_id") from None


def tag_uid(value: str) -> str:
    try:
        return identifiers.tag_uid(value)
    except identifiers.IdentifierError:
        raise CellProblem("cell.tag_uid") from None


def result(value: str) -> InspectionResult:
    try:
        return RESULTS[value.lower()]
    except KeyError:
        raise CellProblem("cell.result") from None


def cylinder_kind(value: str) -> CylinderKind:
    try:
        return CylinderKind.from_label(value)
    except ValueError:
        raise CellProblem("cell.kind") from None


def whole_number(value: str) -> int:
    if not _WHOLE.fullmatch(value):
        raise CellProblem("cell.whole_number")
    return int(value)


def whole_number_in(low: int, high: int) -> Parser[int]:
    def parse(value: str) -> int:
        if not _WHOLE.fullmatch(value) or not low <= int(value) <= high:
            raise CellProblem("cell.whole_number_in", low=low, high=high)
        return int(value)

    return parse


def decimal_in(low: float, high: float) -> Parser[float]:
    def parse(value: str) -> float:
        if not _DECIMAL.fullmatch(value) or not low <= float(value) <= high:
            raise CellProblem("cell.decimal_in", low=low, high=high)
        return float(value)

    return parse


def one_of(*choices: str) -> Parser[str]:
    def parse(value: str) -> str:
        if value.lower() not in choices:
            raise CellProblem("cell.one_of", choices=", ".join(choices))
        return value.lower()

    return parse


class RowCells:
    """One row's cells read through parsers; `done()` refuses the row if any cell was bad."""

    def __init__(self, row: ClerkRow, language: str) -> None:
        self.row = row
        self.language = language
        self.problems: list[str] = []
        if row.extra:
            self.problems.append(say(language, "row.extra_cells", cells=shown(", ".join(row.extra))))

    def get(self, column: str, parse: Parser[T], required: bool = False) -> T | None:
        """The parsed cell; None when it is empty (a problem if `required`) or bad (a problem)."""
        value = self.row.cells.get(column, "")
        if not value:
            if required:
                self.problems.append(say(self.language, "cell.required", column=column))
            return None
        try:
            return parse(value)
        except CellProblem as problem:
            words = say(self.language, problem.msgid, column=column, value=shown(value), **problem.params)
            if _EXCEL_NUMBER.fullmatch(value):
                words += say(self.language, "cell.excel_number")
            self.problems.append(words)
            return None

    def done(self) -> None:
        """RowError naming every bad cell, if there was one; after it every required cell is set."""
        if self.problems:
            raise RowError("; ".join(self.problems))


# The inspection batch: a column per field of the record (`cylinder-tag show --json` names them).
INSPECTION_REQUIRED: dict[str, Parser[object]] = {
    "cylinder_id": cylinder_id,
    "serial": text,
    "manufacturer": text,
    "kind": cylinder_kind,
    "working_pressure_dmpa": whole_number,
    "water_capacity_dl": whole_number,
    "manufactured": day,
    "inspected": day,
    "result": result,
    "next_due": day,
    "end_of_life": day,
    "plate": plate,
    "vin": vin,
    "vehicle_cylinders": whole_number,
    "report_number": text,
    "sequence": whole_number,
    "tag_uid": tag_uid,
}
# The signer fills these in when they are left out.
INSPECTION_OPTIONAL: dict[str, Parser[object]] = {"version": whole_number, "centre_id": text, "issued_at": moment}
INSPECTION_COLUMNS = (*INSPECTION_REQUIRED, *INSPECTION_OPTIONAL)


def inspection_fields(row: ClerkRow, language: str) -> dict[str, object]:
    """The row as the record's JSON form (tag_tools.claims.CylinderRecord.from_json takes it), each
    cell checked in the clerk's words first; RowError names every bad cell. Rules between fields
    (dates in order, and so on) are the record's, checked when it is signed."""
    cells = RowCells(row, language)
    found = {column: cells.get(column, parse, required=True) for column, parse in INSPECTION_REQUIRED.items()}
    found |= {column: cells.get(column, parse) for column, parse in INSPECTION_OPTIONAL.items()}
    cells.done()
    return {column: _json_form(value) for column, value in found.items() if value is not None}


def _json_form(value: object) -> object:
    if isinstance(value, CylinderKind):
        return value.label
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, date):
        return value.isoformat()
    return value
