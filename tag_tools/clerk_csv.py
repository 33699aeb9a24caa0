"""A clerk's CSV file, as Excel and WPS save it, read into rows with line numbers; and the rows
that were refused written back in the same shape with the reason beside each.

The one reader for every batch a person prepares in a spreadsheet: `cylinder-tag sign --csv` and
`cylinder-registry import` both use it, so both read the same files the same way. Cells are
checked in the clerk's words by tag_tools.clerk_cells. Pure: bytes in, rows out; the callers do
the file I/O.

Encodings. Chinese Excel saves "CSV (逗号分隔)" in the Windows code page, GBK; "CSV UTF-8" with a
BOM; WPS and LibreOffice often UTF-8 without one. A file is read as strict UTF-8 (a leading BOM
dropped), else as GB18030 (a superset of GBK: every GBK file reads the same), else refused with
how to save it as UTF-8. A file that starts with a UTF-8 BOM is UTF-8 or refused.

The trap: some GBK files are valid UTF-8 too. 豫 is D4 A5 in GBK, which UTF-8 reads as the
Cyrillic ԥ (any GBK pair with a first byte C2-DF and a second 80-BF is a two-byte UTF-8
character), so a file whose only Chinese characters are 豫 plates reads as UTF-8 without an
error and would put `ԥA8M2K7` on a tag. When a file is valid in both, the two readings are
compared and GB18030 wins only when it reads better:
1. more plate cells are plates (tag_tools.identifiers): the column that must never be wrong, and
   a decisive test, since a plate's province character is what goes wrong either way;
2. on a tie (no plate column, or only ASCII plates), fewer odd characters: characters a Chinese
   clerk's file does not hold. Common ones are ASCII, Latin-1 (·, é, °) and the GB2312 repertoire
   from U+2000 up (hanzi, CJK and full-width punctuation). Odd ones are the letters of other
   scripts (how GBK reads as UTF-8: ԥ), control characters, and hanzi outside GB2312's common
   6,763 (how UTF-8 bytes read as GBK: 豫 in UTF-8 is E8 B1 AB, which GBK reads as 璞 and the
   rare 獳).
On a full tie the file is UTF-8, the format we ask for.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from tag_tools import identifiers
from tag_tools.errors import InputError
from tag_tools.messages import filled, message

DOMAIN = "clerk"  # gettext domain: locale/<locale>/LC_MESSAGES/clerk.po
DEFAULT_LANGUAGE = "zh"  # the clerks' language; commands take --lang en
ERROR_COLUMN = "error"  # added to refused rows; ignored when the fixed file comes back
PLATE_COLUMN = "plate"
UTF8, GB18030 = "UTF-8", "GB18030"
MAX_SHOWN = 40  # characters of a cell value quoted in a message
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def say(language: str, msgid: str, **params: object) -> str:
    """One text of the clerk domain in `language` ("zh", "en"), its {placeholders} filled."""
    return filled(message(language, DOMAIN, msgid, msgid), params)


def shown(value: str) -> str:
    """A cell value as a message quotes it: as typed when printable, escaped when not, clipped."""
    text = value if value.isprintable() else repr(value)[1:-1]
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


class ClerkFileError(InputError):
    """The file as a whole cannot be read (encoding, first line, size); the message says what to do."""


@dataclass(frozen=True)
class ClerkRow:
    line: int  # the file's line where the row starts (the first line names the columns)
    values: tuple[str, ...]  # as typed, one per column: what a refused row is written back with
    cells: dict[str, str]  # column -> value without surrounding spaces
    extra: tuple[str, ...] = ()  # non-empty cells beyond the last column


@dataclass(frozen=True)
class ClerkTable:
    columns: tuple[str, ...]  # in the file's order, without the error column
    rows: tuple[ClerkRow, ...]
    encoding: str  # UTF8 or GB18030: how the file was read


def read(data: bytes, language: str = DEFAULT_LANGUAGE, max_rows: int = 1_000_000) -> ClerkTable:
    """The rows of a clerk's CSV file; ClerkFileError when the file cannot be read as one.

    Rows whose cells are all empty (Excel writes ",,,," for rows that only had formatting) are
    left out; an `error` column (from a file of refused rows, fixed and sent again) is ignored."""
    text, encoding = decode(data, language)
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, None)
    if not header or not any(cell.strip() for cell in header):
        raise ClerkFileError(say(language, "file.empty"))
    names = [cell.strip() for cell in header]
    while names and not names[-1]:  # Excel's trailing empty header cells
        names.pop()
    duplicated = sorted({n for n, count in Counter(names).items() if count > 1})
    if duplicated:
        raise ClerkFileError(say(language, "file.duplicate_columns", columns=", ".join(duplicated)))
    if "" in names:
        raise ClerkFileError(say(language, "file.unnamed_column", number=names.index("") + 1))
    keep = [i for i, name in enumerate(names) if name != ERROR_COLUMN]
    columns = tuple(names[i] for i in keep)
    rows: list[ClerkRow] = []
    line = records.line_num + 1
    for record in records:
        start, line = line, records.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) == max_rows:
            raise ClerkFileError(say(language, "file.too_many_rows", limit=max_rows))
        padded = record + [""] * (len(names) - len(record))
        values = tuple(padded[i] for i in keep)
        extra = tuple(cell for cell in padded[len(names) :] if cell.strip())
        rows.append(ClerkRow(start, values, {c: v.strip() for c, v in zip(columns, values, strict=True)}, extra))
    return ClerkTable(columns, tuple(rows), encoding)


def check_columns(table: ClerkTable, required: Iterable[str], known: Iterable[str], language: str = DEFAULT_LANGUAGE) -> None:
    """ClerkFileError unless the first line names every required column and only known ones."""
    known = tuple(known)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ClerkFileError(say(language, "file.missing_columns", columns=", ".join(missing)))
    unknown = [c for c in table.columns if c not in known]
    if unknown:
        raise ClerkFileError(say(language, "file.unknown_columns", columns=", ".join(unknown), known=", ".join(known)))


def rejects_csv(table: ClerkTable, rejected: Sequence[tuple[ClerkRow, str]]) -> bytes:
    """The refused rows as typed, in the file's columns and order, with the reason in a last
    `error` column: the clerk fixes them in place and sends this file again. UTF-8 with a BOM and
    CRLF, which Excel opens correctly. Values are written back unchanged (no formula guard): they
    are the clerk's own cells, and a changed cell would come back changed."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([*table.columns, ERROR_COLUMN])
    writer.writerows([*row.values, error] for row, error in rejected)
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def decode(data: bytes, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """The file's text and the encoding it was read in (see the module's doc for the choice)."""
    utf8 = _strict(data, "utf-8-sig")
    legacy = None if data.startswith(codecs.BOM_UTF8) or data.startswith(_UTF16_BOMS) else _strict(data, "gb18030")
    if utf8 is not None and (legacy is None or legacy == utf8 or _reads_at_least_as_well(utf8, legacy)):
        text, encoding = utf8, UTF8
    elif legacy is not None:
        text, encoding = legacy, GB18030
    else:
        raise ClerkFileError(say(language, "file.encoding"))
    if "\x00" in text:  # an .xlsx workbook, or UTF-16 text that happened to decode
        raise ClerkFileError(say(language, "file.not_text"))
    return text, encoding


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _reads_at_least_as_well(utf8: str, legacy: str) -> bool:
    first = _badness(utf8)
    return first == (0, 0) or first <= _badness(legacy)  # a flawless UTF-8 reading needs no rival


def _badness(text: str) -> tuple[int, int]:
    """How wrong a reading looks: plate cells that are not plates, then odd characters."""
    return _bad_plates(text), sum(count for char, count in Counter(_NON_ASCII.findall(text)).items() if _odd(char))


def _bad_plates(text: str) -> int:
    try:
        records = csv.DictReader(io.StringIO(text, newline=""))
        if PLATE_COLUMN not in [name.strip() for name in records.fieldnames or ()]:
            return 0
        cells = (next((v for k, v in row.items() if k and k.strip() == PLATE_COLUMN), "") for row in records)
        return sum(
            1
            for cell in cells
            if cell and cell.strip() and identifiers.canonical_or_none(identifiers.plate, cell, "plate") is None
        )
    except csv.Error:  # e.g. a NUL byte: the reading is refused later, whichever it is
        return 0


@lru_cache(maxsize=4096)
def _odd(char: str) -> bool:
    """A character a Chinese clerk's file does not hold (see the module's doc)."""
    if "\u00a0" <= char <= "\u00ff":
        return False
    if char < "\u2000":
        return True
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return True
    return False
